//! Draws the presenter looks in a few poses into one PNG, to eyeball the
//! drawing: `cargo run -p slidecast-local --example avatar_sheet -- sheet.png`.

use slidecast_core::deck::Rgb;
use slidecast_local::avatar::{draw_avatar, Look, Pose};
use tiny_skia::{Pixmap, PixmapPaint, Transform};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "avatar-sheet.png".into());
    let (w, h) = (480u32, 270u32);
    let looks = ["default", "ava", "leo", "mia", "gia.casual"];
    let poses = [
        Pose::default(),
        Pose {
            mouth_open: 0.45,
            brow_raise: 0.5,
            ..Pose::default()
        },
        Pose {
            mouth_open: 1.0,
            brow_raise: 0.9,
            head_tilt: 2.0,
            ..Pose::default()
        },
        Pose {
            eye_open: 0.0,
            head_tilt: -2.0,
            breath: 0.4,
            ..Pose::default()
        },
    ];
    let backgrounds = [Rgb::new(0, 255, 0), Rgb::new(0xE8, 0xEC, 0xF2)];
    let mut sheet = Pixmap::new(w * poses.len() as u32, h * looks.len() as u32).ok_or("size")?;
    let mut cell = Pixmap::new(w, h).ok_or("size")?;
    for (row, code) in looks.iter().enumerate() {
        for (col, pose) in poses.iter().enumerate() {
            let bg = backgrounds[(row + col) % 2];
            draw_avatar(&mut cell, &Look::for_code(code), pose, bg);
            sheet.draw_pixmap(
                (col as u32 * w) as i32,
                (row as u32 * h) as i32,
                cell.as_ref(),
                &PixmapPaint::default(),
                Transform::identity(),
                None,
            );
        }
    }
    sheet.save_png(&out)?;
    println!("wrote {out}");
    Ok(())
}
