//! Soft subtitles: a `mov_text` (3GPP timed text) track in the finished
//! MP4, which players show on request.
//!
//! The track is written by the join itself, in the same pass as the video
//! and audio: the output is written once, so no crash can leave a video
//! without its captions. A `mov_text` sample needs no encoder: it is a
//! 16-bit big-endian length and the UTF-8 text. The stream's sample
//! description is the default one FFmpeg's own `mov_text` encoder writes
//! (white 18 pt text, centred at the bottom).

use std::time::Duration;

use ffmpeg::{codec, encoder, format, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;
use slidecast_av::compat;
use slidecast_core::{SubtitleCue, SubtitleTrack};

use crate::error::MediaError;

/// Subtitle timestamps are written in milliseconds.
const SUBTITLE_TIME_BASE: Rational = Rational(1, 1000);

/// The default 3GPP text sample entry (`tx3g`) after its box header, as
/// FFmpeg's `mov_text` encoder writes it when given no style.
const TX3G_SAMPLE_ENTRY: [u8; 48] = [
    0x00, 0x00, 0x00, 0x00, // display flags
    0x01, // horizontal justification: centre
    0xFF, // vertical justification: bottom
    0x00, 0x00, 0x00, 0x00, // background colour RGBA: transparent
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // default text box
    0x00, 0x00, 0x00, 0x00, // style record: start/end char
    0x00, 0x01, // font id
    0x00, // face style flags
    0x12, // font size 18
    0xFF, 0xFF, 0xFF, 0xFF, // text colour RGBA: white
    0x00, 0x00, 0x00, 0x12, b'f', b't', b'a', b'b', // font table box, 18 bytes
    0x00, 0x01, // one font
    0x00, 0x01, 0x05, b'S', b'e', b'r', b'i', b'f', // font 1: "Serif"
];

/// A `mov_text` stream being written: cues go out in start order as the
/// other streams pass their start, so the interleaver holds few packets.
pub(crate) struct SubtitleWriter {
    cues: Vec<SubtitleCue>,
    next: usize,
    stream_index: usize,
    stream_time_base: Rational,
}

impl SubtitleWriter {
    /// Add the subtitle stream of `track` to `octx` (before its header).
    pub(crate) fn add(
        octx: &mut format::context::Output,
        track: &SubtitleTrack,
    ) -> Result<Self, MediaError> {
        let mut cues = track.cues.clone();
        cues.sort_by_key(|c| c.start);
        let mut stream = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(MediaError::ff("add the subtitle stream"))?;
        stream.set_time_base(SUBTITLE_TIME_BASE);
        let mut meta = Dictionary::new();
        meta.set("language", &track.language);
        meta.set("handler_name", "slidecast captions");
        stream.set_metadata(meta);
        compat::set_mov_text_parameters(&mut stream, &TX3G_SAMPLE_ENTRY)
            .map_err(MediaError::ff("set up the subtitle stream"))?;
        Ok(SubtitleWriter {
            cues,
            next: 0,
            stream_index: stream.index(),
            stream_time_base: SUBTITLE_TIME_BASE,
        })
    }

    /// Call after `write_header`: the muxer may have changed the time base.
    pub(crate) fn header_written(&mut self, octx: &format::context::Output) {
        if let Some(st) = octx.stream(self.stream_index) {
            self.stream_time_base = st.time_base();
        }
    }

    /// Write every cue that starts at or before `at`.
    pub(crate) fn write_until(
        &mut self,
        octx: &mut format::context::Output,
        at: Duration,
    ) -> Result<(), MediaError> {
        while let Some(cue) = self.cues.get(self.next).filter(|c| c.start <= at) {
            let mut packet = Packet::copy(&mov_text_sample(&cue.text));
            let start = millis(cue.start);
            let end = millis(cue.end).max(start);
            packet.set_pts(Some(start));
            packet.set_dts(Some(start));
            packet.set_duration(end - start);
            packet.rescale_ts(SUBTITLE_TIME_BASE, self.stream_time_base);
            packet.set_stream(self.stream_index);
            packet.set_position(-1);
            packet
                .write_interleaved(octx)
                .map_err(MediaError::ff("write a subtitle"))?;
            self.next += 1;
        }
        Ok(())
    }

    /// Write the cues left.
    pub(crate) fn finish(&mut self, octx: &mut format::context::Output) -> Result<(), MediaError> {
        self.write_until(octx, Duration::MAX)
    }
}

/// One `mov_text` sample: the text's length (16-bit big endian), then the
/// text, cut at a character boundary to fit the length field.
fn mov_text_sample(text: &str) -> Vec<u8> {
    let mut end = text.len().min(usize::from(u16::MAX));
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text.as_bytes()[..end];
    let mut data = Vec::with_capacity(2 + text.len());
    // `end` fits in u16 by construction.
    data.extend_from_slice(&(end as u16).to_be_bytes());
    data.extend_from_slice(text);
    data
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_the_length_then_the_text() {
        assert_eq!(mov_text_sample("Hi"), [0, 2, b'H', b'i']);
        assert_eq!(mov_text_sample(""), [0, 0]);
    }

    #[test]
    fn an_overlong_text_is_cut_at_a_character_boundary() {
        // 'é' is two bytes: 65535 is in the middle of one.
        let text = "é".repeat(40_000);
        let sample = mov_text_sample(&text);
        let len = usize::from(u16::from_be_bytes([sample[0], sample[1]]));
        assert_eq!(len, 65_534);
        assert_eq!(sample.len(), 2 + len);
        assert!(std::str::from_utf8(&sample[2..]).is_ok());
    }
}
