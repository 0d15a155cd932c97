//! `embed_mov_text` adds a real `mov_text` track and leaves the picture and
//! sound as they were.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use ffmpeg_next as ffmpeg;
use slidecast_media::subtitles::{embed_mov_text, SubtitleCue};

/// The subtitle stream read back in-process: codec, language tag and every
/// sample as (start ms, end ms, text).
fn read_subtitles(path: &Path) -> (ffmpeg::codec::Id, String, Vec<(i64, i64, String)>) {
    ffmpeg::init().unwrap();
    let mut ictx = ffmpeg::format::input(&path).unwrap();
    let s = ictx.streams().best(ffmpeg::media::Type::Subtitle).unwrap();
    let (index, tb, codec) = (s.index(), s.time_base(), s.parameters().id());
    let language = s.metadata().get("language").unwrap_or("").to_string();
    let ms = |t: i64| t * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator());
    let mut samples = Vec::new();
    for (stream, packet) in ictx.packets() {
        if stream.index() != index {
            continue;
        }
        let data = packet.data().unwrap();
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let text = String::from_utf8(data[2..2 + len].to_vec()).unwrap();
        let start = packet.pts().unwrap();
        samples.push((ms(start), ms(start + packet.duration()), text));
    }
    (codec, language, samples)
}

fn cue(start_ms: u64, end_ms: u64, text: &str) -> SubtitleCue {
    SubtitleCue {
        start: Duration::from_millis(start_ms),
        end: Duration::from_millis(end_ms),
        text: text.to_string(),
    }
}

#[test]
fn the_track_reads_back_and_the_video_is_copied_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let video = mock_clip(dir.path(), "talk.mp4", 2.0);
    let before = probe(&video);
    // Out of order on purpose, with a two-line cue and non-ASCII text.
    let cues = [
        cue(1200, 1900, "Zweite Folie:\nGrüße"),
        cue(0, 1100, "First slide"),
    ];
    embed_mov_text(&video, &cues, "deu").unwrap();

    let (codec, language, samples) = read_subtitles(&video);
    assert_eq!(codec, ffmpeg::codec::Id::MOV_TEXT);
    assert_eq!(language, "deu");
    // The muxer may add empty samples to fill gaps; the cues are all there.
    let texts: Vec<_> = samples.iter().filter(|s| !s.2.is_empty()).collect();
    assert_eq!(
        texts,
        [
            &(0, 1100, "First slide".to_string()),
            &(1200, 1900, "Zweite Folie:\nGrüße".to_string())
        ]
    );

    let after = probe(&video);
    assert_eq!(after.video_codec, before.video_codec);
    assert_eq!(after.audio_codec, before.audio_codec);
    assert_eq!(after.video_frames, before.video_frames);
    assert_eq!(after.keyframes, before.keyframes);
    assert_eq!(after.audio_samples, before.audio_samples);
    assert!((after.video_duration - before.video_duration).abs() < 1e-6);
    // No temporary file is left beside the video.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["talk.mp4"]);
}

#[test]
fn a_failed_embed_leaves_the_file_untouched_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("not-a-video.mp4");
    std::fs::write(&bogus, b"this is not an mp4").unwrap();
    let err = embed_mov_text(&bogus, &[cue(0, 500, "hi")], "eng").unwrap_err();
    assert!(err.to_string().contains("not-a-video.mp4"), "{err}");
    assert_eq!(std::fs::read(&bogus).unwrap(), b"this is not an mp4");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
