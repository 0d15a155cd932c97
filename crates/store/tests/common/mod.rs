//! Shared fixtures for the store's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use slidecast_core::deck::Rgb;
use slidecast_core::{ClipRequest, Deck};

/// A request with every field set.
pub fn request(script: &str) -> ClipRequest {
    ClipRequest {
        slide: 1,
        title: "Quarterly update".into(),
        provider: "elai".into(),
        script: script.into(),
        avatar: "gia.casual".into(),
        voice: Some("en-US-AriaNeural".into()),
        voice_provider: Some("azure".into()),
        language: Some("English".into()),
        avatar_background: Rgb::GREEN,
        canvas: (576, 324),
    }
}

/// Bytes standing in for a clip: distinct per `seed`, big enough that a
/// torn write would show.
pub fn clip_bytes(seed: &str, len: usize) -> Vec<u8> {
    seed.bytes().cycle().take(len).collect()
}

/// Write a fake clip to `dir/name` and return its path.
pub fn write_clip(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Names of the files in `dir` that start with `.tmp-`.
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect()
}

/// A slide of a test deck: `Some(script)` for a presenter slide, `None`
/// for a slide-only slide.
pub type SlideSpec<'a> = Option<&'a str>;

/// A validated deck in `dir` (with tiny image files) whose slides follow
/// `slides`, all presented by `provider`.
pub fn deck(dir: &Path, provider: &str, slides: &[SlideSpec]) -> Deck {
    std::fs::create_dir_all(dir.join("slides")).unwrap();
    let mut toml = format!(
        "title = \"Store test\"\n[output]\nwidth = 640\nheight = 360\n\
         [presenter]\nprovider = \"{provider}\"\navatar = \"gia.casual\"\n"
    );
    for (i, spec) in slides.iter().enumerate() {
        let image = format!("slides/{:02}.png", i + 1);
        std::fs::write(dir.join(&image), b"\x89PNG stand-in").unwrap();
        toml.push_str(&format!("\n[[slides]]\nimage = \"{image}\"\n"));
        match spec {
            Some(script) => toml.push_str(&format!("script = {script:?}\n")),
            None => toml.push_str("duration = 3.0\n"),
        }
    }
    let path = dir.join("deck.toml");
    std::fs::write(&path, &toml).unwrap();
    Deck::from_str_at(&toml, &path).unwrap_or_else(|e| panic!("test deck invalid: {e}\n{toml}"))
}

/// `sources` (by clip identity) by slide number: the source of each
/// presenter slide's one clip.
pub fn by_slide(
    deck: &Deck,
    sources: &std::collections::HashMap<slidecast_core::ClipIdentity, slidecast_core::ClipSource>,
) -> std::collections::HashMap<usize, slidecast_core::ClipSource> {
    deck.slides
        .iter()
        .filter_map(|s| {
            let request = s.clip_requests(deck).into_iter().next()?;
            Some((s.number, sources.get(&request.identity())?.clone()))
        })
        .collect()
}

/// `sources` by slide number turned into sources by clip identity.
pub fn by_identity(
    deck: &Deck,
    sources: std::collections::HashMap<usize, slidecast_core::ClipSource>,
) -> std::collections::HashMap<slidecast_core::ClipIdentity, slidecast_core::ClipSource> {
    sources
        .into_iter()
        .filter_map(|(n, source)| {
            let slide = deck.slides.iter().find(|s| s.number == n)?;
            let request = slide.clip_requests(deck).into_iter().next()?;
            Some((request.identity(), source))
        })
        .collect()
}
