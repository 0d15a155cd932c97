//! Render one presenter clip from the command line:
//! `cargo run -p slidecast-local --example render_clip -- out.mp4 "Script text" [WIDTHxHEIGHT] [avatar] [frame.png]`
//!
//! With a fifth argument, also writes the clip's loudest frame as a PNG.

use std::path::PathBuf;
use std::time::Instant;

use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;
use slidecast_local::animate::Animation;
use slidecast_local::avatar::{draw_avatar, Look};
use slidecast_local::{render_clip, RenderOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(
        args.first()
            .ok_or("usage: OUT.mp4 SCRIPT [WxH] [avatar] [frame.png]")?,
    );
    let script = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "Hello, and welcome.".into());
    let (w, h) = match args.get(2) {
        Some(size) => {
            let (w, h) = size.split_once('x').ok_or("size is WIDTHxHEIGHT")?;
            (w.parse()?, h.parse()?)
        }
        None => (640, 360),
    };
    let avatar = args.get(3).cloned().unwrap_or_else(|| "default".into());
    let request = ClipRequest {
        slide: 1,
        title: "example".into(),
        provider: "local".into(),
        script: script.clone(),
        avatar: avatar.clone(),
        voice: None,
        voice_provider: None,
        language: Some("English".into()),
        avatar_background: Rgb::new(0xE8, 0xEC, 0xF2),
        canvas: (w, h),
    };
    let started = Instant::now();
    let stats = render_clip(&request, &out, &RenderOptions::default())?;
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{}: {} frames, {:.2} s of video ({:.2} s speech, voice {}) in {:.2} s wall = {:.1}x realtime",
        out.display(),
        stats.frames,
        stats.video_duration.as_secs_f64(),
        stats.speech_duration.as_secs_f64(),
        stats.voice,
        wall,
        stats.video_duration.as_secs_f64() / wall,
    );
    if let Some(png) = args.get(4) {
        // A frame in mid-speech, drawn the same way the clip's frames are.
        let samples: Vec<f32> = (0..48_000).map(|i| 0.2 * (i as f32 * 0.03).sin()).collect();
        let anim = Animation::new(&samples, 48_000, 25, 25, 1, true);
        let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or("size")?;
        draw_avatar(
            &mut pixmap,
            &Look::for_code(&avatar),
            &anim.pose(12),
            request.avatar_background,
        );
        pixmap.save_png(png)?;
        println!("wrote {png}");
    }
    Ok(())
}
