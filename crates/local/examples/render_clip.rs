//! Render one presenter clip from the command line:
//! `cargo run -p slidecast-local --example render_clip -- out.mp4 "Script text" [WIDTHxHEIGHT] [avatar] [frame.png]`
//!
//! With a fifth argument, also writes a typical speaking frame as a PNG
//! (how `docs/local-avatar.png` was made).

use std::path::PathBuf;
use std::time::Instant;

use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;
use slidecast_local::animate::Animation;
use slidecast_local::avatar::{draw_avatar, Look};
use slidecast_local::speech::synthesize_blocking;
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
        // A typical speaking frame of this script: the animation of its real
        // speech, at the frame where the mouth is half open and not rounded.
        let voice = slidecast_local::voice_for_request(&request);
        let speech = synthesize_blocking(&RenderOptions::default().espeak, &script, &voice)?;
        let samples: Vec<f32> = speech.samples.iter().map(|&s| s as f32 / 32768.0).collect();
        let frames = samples.len() * 25 / speech.sample_rate as usize;
        let anim = Animation::new(&samples, speech.sample_rate, 25, frames, 1, true);
        let pick = (0..frames)
            .filter(|&i| anim.pose(i).mouth_round < 0.3 && anim.pose(i).eye_open == 1.0)
            .min_by_key(|&i| ((anim.pose(i).mouth_open - 0.55).abs() * 1000.0) as i32)
            .unwrap_or(frames / 2);
        let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or("size")?;
        draw_avatar(
            &mut pixmap,
            &Look::for_code(&avatar),
            &anim.pose(pick),
            request.avatar_background,
        );
        pixmap.save_png(png)?;
        println!("wrote {png} (frame {pick})");
    }
    Ok(())
}
