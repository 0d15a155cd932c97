//! Chapters: one per slide, named by the slide's `title` (or `Slide N`),
//! placed from the composed segments' exact lengths. They go into the video
//! (written by the join in its one pass) and beside it as a WebVTT chapters
//! file (`OUT.chapters.vtt`, for web players) and a plain list
//! (`OUT.chapters.txt`: `m:ss Title` lines, as video sites read them from
//! a description).

use std::fmt::Write as _;
use std::time::Duration;

use slidecast_core::{Chapter, Slide, SlideSegment};

use crate::captions::push_vtt_cue;

/// One chapter per segment (in deck order), from where the segments before
/// it end to where it ends, named after its slide.
pub fn chapters(segments: &[SlideSegment], slides: &[Slide]) -> Vec<Chapter> {
    let mut start = Duration::ZERO;
    segments
        .iter()
        .map(|segment| {
            let end = start + segment.duration;
            let title = slides
                .iter()
                .find(|s| s.number == segment.slide)
                .map_or_else(|| format!("Slide {}", segment.slide), Slide::chapter_title);
            let chapter = Chapter { start, end, title };
            start = end;
            chapter
        })
        .collect()
}

/// The chapters as a WebVTT chapters file.
pub fn to_vtt(chapters: &[Chapter]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (i, c) in chapters.iter().enumerate() {
        push_vtt_cue(
            &mut out,
            &format!("chapter-{}", i + 1),
            c.start,
            c.end,
            &c.title,
        );
    }
    out
}

/// The chapters as `m:ss Title` lines (`h:mm:ss` from an hour on), the
/// first at `0:00`: what video sites turn into chapters when it is pasted
/// into a description.
pub fn to_list(chapters: &[Chapter]) -> String {
    let long = chapters
        .last()
        .is_some_and(|c| c.start >= Duration::from_secs(3600));
    let mut out = String::new();
    for c in chapters {
        let secs = c.start.as_secs();
        let at = if long {
            format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
        } else {
            format!("{}:{:02}", secs / 60, secs % 60)
        };
        let _ = writeln!(out, "{at} {}", c.title);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slide(number: usize, title: Option<&str>) -> Slide {
        Slide {
            number,
            image: format!("{number}.png").into(),
            title: title.map(String::from),
            script: String::new(),
            presenter: None,
            duration: None,
            transition: slidecast_core::deck::Transition::Cut,
            parts: Vec::new(),
            music: None,
        }
    }

    fn segment(slide: usize, millis: u64) -> SlideSegment {
        SlideSegment {
            slide,
            path: "x".into(),
            duration: Duration::from_millis(millis),
            clip_starts: Vec::new(),
            speech: Vec::new(),
        }
    }

    #[test]
    fn one_chapter_per_slide_back_to_back() {
        let slides = [
            slide(1, Some("Welcome")),
            slide(2, None),
            slide(3, Some("Q&A <live>")),
        ];
        let segments = [segment(1, 64_040), segment(2, 4_000), segment(3, 30_000)];
        let c = chapters(&segments, &slides);
        let titles: Vec<&str> = c.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["Welcome", "Slide 2", "Q&A <live>"]);
        assert_eq!(c[0].start, Duration::ZERO);
        assert_eq!(c[1].start, Duration::from_millis(64_040));
        assert_eq!(c[2].start, c[1].end);
        assert_eq!(c[2].end, Duration::from_millis(98_040));
        assert_eq!(to_list(&c), "0:00 Welcome\n1:04 Slide 2\n1:08 Q&A <live>\n");
        let vtt = to_vtt(&c);
        assert!(vtt.starts_with("WEBVTT\n\nchapter-1\n00:00:00.000 --> 00:01:04.040\nWelcome\n"));
        assert!(vtt.contains("Q&amp;A &lt;live>"), "{vtt}");
    }

    #[test]
    fn lists_past_an_hour_show_hours() {
        let slides = [slide(1, Some("A")), slide(2, Some("B"))];
        let segments = [segment(1, 3_700_000), segment(2, 1_000)];
        assert_eq!(
            to_list(&chapters(&segments, &slides)),
            "0:00:00 A\n1:01:40 B\n"
        );
    }
}
