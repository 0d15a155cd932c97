//! How much a journal write and a cache put cost. The scheduler awaits each
//! journal call before it goes on (the vendor's id must be on disk before
//! the render starts), so these are on every render's path.
//!
//! `cargo run --release -p slidecast-store --example store_bench [DIR]`
//! (DIR defaults to a temporary folder; give one on the disk you render to).

use std::time::{Duration, Instant};

use slidecast_core::deck::Rgb;
use slidecast_core::{ClipRequest, RenderHandle};
use slidecast_store::{ClipCache, ClipKey, ClipOrigin, Journal};

fn request(i: usize) -> ClipRequest {
    ClipRequest {
        slide: i,
        title: "Bench".into(),
        provider: "elai".into(),
        script: format!("Slide {i}: {}", "some narration words ".repeat(20)),
        avatar: "gia.casual".into(),
        voice: Some("en-US-AriaNeural".into()),
        voice_provider: Some("azure".into()),
        language: Some("English".into()),
        avatar_background: Rgb::GREEN,
        canvas: (576, 324),
    }
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let p95 = times[times.len() * 95 / 100];
    println!(
        "{name:<44} n={:<4} mean {:>8.2} ms  p95 {:>8.2} ms  max {:>8.2} ms",
        times.len(),
        mean.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let dir = tempfile::tempdir_in(dir)?;
    let cache = ClipCache::open(dir.path().join("cache"))?;
    let journal = Journal::open(&dir.path().join("state"), &dir.path().join("out.mp4"))?
        .with_cache(cache.clone());

    let slides = 200;
    let mut initiated = Vec::new();
    for i in 1..=slides {
        let t = Instant::now();
        journal.initiated(&request(i), &RenderHandle::new("elai", format!("v{i}")))?;
        initiated.push(t.elapsed());
    }
    summary("journal.initiated, entries 1..20", initiated[..20].to_vec());
    summary(
        "journal.initiated, entries 181..200",
        initiated[180..].to_vec(),
    );

    let clip = dir.path().join("clip.mp4");
    let mut fetched = Vec::new();
    for i in 1..=20 {
        // A fresh fetched clip each time (recording a fetch may move it).
        std::fs::write(&clip, vec![7u8; 5_000_000])?;
        let t = Instant::now();
        journal.fetched(
            &request(i),
            &RenderHandle::new("elai", format!("v{i}")),
            &clip,
        )?;
        fetched.push(t.elapsed());
    }
    summary("journal.fetched (5 MB clip into the cache)", fetched);

    let mut gets = Vec::new();
    for i in 1..=20 {
        let key = ClipKey::for_request(&request(i));
        let t = Instant::now();
        cache.get(&key).ok_or("missing clip")?;
        gets.push(t.elapsed());
    }
    summary("cache.get (clip used within the hour)", gets);

    let mut puts = Vec::new();
    for i in 1000..1020 {
        let key = ClipKey::for_request(&request(i));
        let origin = ClipOrigin {
            request: request(i),
            vendor_id: None,
        };
        let t = Instant::now();
        if !clip.exists() {
            std::fs::write(&clip, vec![7u8; 5_000_000])?;
        }
        cache.put(&key, &clip, origin)?;
        puts.push(t.elapsed());
    }
    summary("cache.put (5 MB clip)", puts);
    Ok(())
}
