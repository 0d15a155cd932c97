//! Embedding the captions in the finished MP4 as a soft subtitle track
//! (3GPP timed text, `mov_text`), which players show on request.
//!
//! The remux itself is [`slidecast_media::subtitles::embed_mov_text`]: only
//! the media crate touches FFmpeg. This module turns the captions into its
//! cues and its errors into one that says what the user still has.

use std::path::Path;

use slidecast_media::subtitles::{embed_mov_text, SubtitleCue};

use crate::captions::Cue;
use crate::exit::CliError;

/// The media crate's cue for a caption.
fn subtitle_cue(cue: &Cue) -> SubtitleCue {
    SubtitleCue {
        start: cue.start,
        end: cue.end,
        text: cue.text.clone(),
    }
}

/// Add `cues` to `video` as a `mov_text` subtitle track tagged `language`
/// (ISO 639-2), in place (through a temporary file renamed over it).
/// Blocking: run it off the async runtime.
pub fn embed_captions(video: &Path, cues: &[Cue], language: &str) -> Result<(), CliError> {
    let cues: Vec<SubtitleCue> = cues.iter().map(subtitle_cue).collect();
    embed_mov_text(video, &cues, language).map_err(|e| CliError::Run {
        message: format!(
            // The media error names the file.
            "cannot embed the captions: {e}\nhint: the video without embedded captions is still there; or pass --no-captions"
        ),
    })
}
