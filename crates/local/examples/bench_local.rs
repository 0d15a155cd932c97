//! Prints how fast the local presenter draws and renders:
//! `cargo run --release -p slidecast-local --example bench_local`.
//! Figures only; nothing is asserted.

use std::time::Instant;

use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;
use slidecast_local::avatar::{draw_avatar, Look, Pose};
use slidecast_local::{render_clip, RenderOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let script = "Charts work just as well. Our team published fifty eight videos in the \
                  fourth quarter, more than three times as many as in the first.";
    for (w, h) in [(320u32, 180u32), (640, 360), (960, 540)] {
        let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or("size")?;
        let look = Look::DEFAULT;
        let started = Instant::now();
        let n = 200;
        for i in 0..n {
            let pose = Pose {
                mouth_open: (i % 10) as f32 / 10.0,
                head_tilt: (i as f32 * 0.1).sin(),
                ..Pose::default()
            };
            draw_avatar(&mut pixmap, &look, &pose, Rgb::new(0xDC, 0xE4, 0xEE));
        }
        let draw_ms = started.elapsed().as_secs_f64() * 1000.0 / n as f64;

        let request = ClipRequest {
            slide: 1,
            title: "bench".into(),
            provider: "local".into(),
            script: script.into(),
            avatar: "default".into(),
            voice: None,
            voice_provider: None,
            language: Some("English".into()),
            avatar_background: Rgb::new(0xDC, 0xE4, 0xEE),
            canvas: (w, h),
        };
        let dir = tempfile::tempdir()?;
        let started = Instant::now();
        let stats = render_clip(
            &request,
            &dir.path().join("clip.mp4"),
            &RenderOptions::default(),
        )?;
        let wall = started.elapsed().as_secs_f64();
        println!(
            "{w}x{h}: draw {draw_ms:.2} ms/frame; clip {:.2} s rendered in {wall:.2} s = {:.1}x realtime ({:.0} fps)",
            stats.video_duration.as_secs_f64(),
            stats.video_duration.as_secs_f64() / wall,
            stats.frames as f64 / wall,
        );
    }
    Ok(())
}
