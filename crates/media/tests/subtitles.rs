//! `finish` with a subtitle track writes a real `mov_text` track in the
//! same pass as the join, and the picture and sound are as without it.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use ffmpeg_next as ffmpeg;
use slidecast_core::{Composer, FinishOptions, SubtitleCue, SubtitleTrack};
use slidecast_media::MediaComposer;

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

/// Two presenter slides of 1 s each, finished with `options` into `out`.
async fn two_slides(dir: &Path, out: &Path, options: &FinishOptions) {
    let image = dir.join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let composer = MediaComposer::new(output(), dir).unwrap();
    let mut segments = Vec::new();
    for n in 1..=2 {
        let clip = mock_clip(dir, &format!("clip{n}.mp4"), 1.0);
        let slide = slide(
            n,
            &image,
            Some(presenter(pip(), slidecast_core::deck::Shape::Rectangle)),
        );
        let prepared = composer.prepare(&slide).await.unwrap();
        segments.push(
            composer
                .compose(&slide, prepared, std::slice::from_ref(&clip))
                .await
                .unwrap(),
        );
    }
    composer.finish(&segments, out, options).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_track_reads_back_and_the_picture_and_sound_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.mp4");
    two_slides(dir.path(), &plain, &FinishOptions::default()).await;
    let with = dir.path().join("talk.mp4");
    // Out of order on purpose, with a two-line cue and non-ASCII text.
    let track = SubtitleTrack {
        language: "deu".into(),
        cues: vec![
            cue(1200, 1900, "Zweite Folie:\nGrüße"),
            cue(0, 1100, "First slide"),
        ],
    };
    two_slides(
        dir.path(),
        &with,
        &FinishOptions::default().subtitles(track),
    )
    .await;

    let (codec, language, samples) = read_subtitles(&with);
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

    let (a, b) = (probe(&plain), probe(&with));
    assert_eq!(b.video_codec, a.video_codec);
    assert_eq!(b.audio_codec, a.audio_codec);
    assert_eq!(b.video_frames, a.video_frames);
    assert_eq!(b.keyframes, a.keyframes);
    assert_eq!(b.audio_samples, a.audio_samples);
    assert!((b.video_duration - a.video_duration).abs() < 1e-6);
    // No temporary file is left beside the videos.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_track_adds_no_stream() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("talk.mp4");
    let track = SubtitleTrack {
        language: "eng".into(),
        cues: Vec::new(),
    };
    two_slides(dir.path(), &out, &FinishOptions::default().subtitles(track)).await;
    ffmpeg::init().unwrap();
    let ictx = ffmpeg::format::input(&out).unwrap();
    assert!(ictx.streams().best(ffmpeg::media::Type::Subtitle).is_none());
    assert_eq!(ictx.streams().count(), 2);
}

/// Chapters go into the MP4 in the join's one pass: each reads back with
/// its title and times, and the picture, sound and subtitles are as without
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chapters_read_back_with_their_titles_and_times() {
    use slidecast_core::Chapter;

    let dir = tempfile::tempdir().unwrap();
    let chapters = vec![
        Chapter {
            start: Duration::ZERO,
            end: Duration::from_millis(1040),
            title: "Welcome".into(),
        },
        Chapter {
            start: Duration::from_millis(1040),
            end: Duration::from_millis(2080),
            title: "Grüße & <what> comes next".into(),
        },
    ];
    let track = SubtitleTrack {
        language: "eng".into(),
        cues: vec![cue(0, 900, "First slide")],
    };
    let out = dir.path().join("talk.mp4");
    let options = FinishOptions::default()
        .subtitles(track)
        .chapters(chapters.clone());
    two_slides(dir.path(), &out, &options).await;

    ffmpeg::init().unwrap();
    let ictx = ffmpeg::format::input(&out).unwrap();
    let read: Vec<(i64, i64, String)> = ictx
        .chapters()
        .map(|c| {
            let tb = c.time_base();
            let ms = |t: i64| t * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator());
            let title = c.metadata().get("title").unwrap_or("").to_string();
            (ms(c.start()), ms(c.end()), title)
        })
        .collect();
    assert_eq!(
        read,
        [
            (0, 1040, "Welcome".to_string()),
            (1040, 2080, "Grüße & <what> comes next".to_string())
        ]
    );
    // Picture, sound and captions, then the chapters' own text track
    // (QuickTime chapters, which Apple players read; others read `chpl`).
    let kinds: Vec<ffmpeg::media::Type> = ictx.streams().map(|s| s.parameters().medium()).collect();
    assert_eq!(
        kinds,
        [
            ffmpeg::media::Type::Video,
            ffmpeg::media::Type::Audio,
            ffmpeg::media::Type::Subtitle,
            ffmpeg::media::Type::Data
        ]
    );
    let (_, _, samples) = read_subtitles(&out);
    assert!(samples.iter().any(|s| s.2 == "First slide"));
}
