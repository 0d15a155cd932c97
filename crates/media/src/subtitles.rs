//! Soft subtitles: adding a `mov_text` (3GPP timed text) track to a
//! finished MP4, which players show on request.
//!
//! This is a remux after the fact: every audio and video packet is copied
//! unchanged (no re-encoding), a `mov_text` stream is added, and the result
//! replaces the file through a temporary file and a rename, so a failure
//! leaves the original untouched. A `mov_text` sample needs no encoder: it
//! is a 16-bit big-endian length and the UTF-8 text. The stream's sample
//! description is the default one FFmpeg's own `mov_text` encoder writes
//! (white 18 pt text, centred at the bottom).
//!
//! ```no_run
//! use std::time::Duration;
//! use slidecast_media::subtitles::{embed_mov_text, SubtitleCue};
//!
//! let cues = [SubtitleCue {
//!     start: Duration::ZERO,
//!     end: Duration::from_millis(1500),
//!     text: "Welcome.".into(),
//! }];
//! embed_mov_text("talk.mp4".as_ref(), &cues, "eng")?;
//! # Ok::<(), slidecast_media::MediaError>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg::{codec, encoder, format, media, Dictionary, Packet, Rational, Rescale};
use ffmpeg_next as ffmpeg;

use crate::compat;
use crate::error::MediaError;

/// One subtitle: `text` is shown from `start` to `end` of the video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleCue {
    /// When the text appears, from the start of the video.
    pub start: Duration,
    /// When it disappears (a cue ending before it starts shows for no time).
    pub end: Duration,
    /// The text, UTF-8; line breaks are kept. Longer than 65535 bytes is
    /// cut (at a character boundary), the most one `mov_text` sample holds.
    pub text: String,
}

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

/// Add `cues` to the MP4 at `mp4` as a `mov_text` subtitle track tagged
/// with `language` (an ISO 639-2 code such as `eng`, or `und`), in place:
/// the audio and video are copied unchanged into a temporary file beside
/// it, which is renamed over `mp4` only on success. Cues may come in any
/// order. Blocking: run it off the async runtime.
pub fn embed_mov_text(mp4: &Path, cues: &[SubtitleCue], language: &str) -> Result<(), MediaError> {
    crate::init();
    let name = mp4
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video.mp4".into());
    // Same folder, so the rename cannot cross file systems; `.mp4` so the
    // MP4 muxer is chosen whatever the final name ends in.
    let tmp: PathBuf = mp4.with_file_name(format!(".{name}.subtitles-{}.mp4", std::process::id()));
    let mut sorted: Vec<&SubtitleCue> = cues.iter().collect();
    sorted.sort_by_key(|c| c.start);
    match remux_with_subtitles(mp4, &tmp, &sorted, language) {
        Ok(()) => std::fs::rename(&tmp, mp4).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            MediaError::Io {
                path: mp4.to_path_buf(),
                source: e,
            }
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
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

fn remux_with_subtitles(
    mp4: &Path,
    tmp: &Path,
    cues: &[&SubtitleCue],
    language: &str,
) -> Result<(), MediaError> {
    let step = |what: &str| MediaError::ff(format!("{}: adding subtitles: {what}", mp4.display()));
    let mut ictx = format::input(&mp4).map_err(step("open"))?;
    let mut octx = format::output(&tmp).map_err(step("create the temporary file"))?;

    // Copy every audio/video stream's parameters; map input index -> output.
    let mut map: Vec<Option<usize>> = Vec::new();
    let mut in_time_bases = Vec::new();
    for ist in ictx.streams() {
        in_time_bases.push(ist.time_base());
        let kind = ist.parameters().medium();
        if kind != media::Type::Video && kind != media::Type::Audio {
            map.push(None);
            continue;
        }
        let mut ost = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(step("add a stream"))?;
        ost.set_parameters(ist.parameters());
        // A zero tag lets the MP4 muxer choose its own (stream-copy rule).
        compat::clear_codec_tag(&mut ost);
        map.push(Some(ost.index()));
    }
    if map.iter().all(Option::is_none) {
        return Err(MediaError::bad_input(
            mp4,
            "no audio or video stream to add subtitles to",
        ));
    }

    let sub_index = {
        let mut sst = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(step("add the subtitle stream"))?;
        sst.set_time_base(SUBTITLE_TIME_BASE);
        let mut meta = Dictionary::new();
        meta.set("language", language);
        meta.set("handler_name", "slidecast captions");
        sst.set_metadata(meta);
        compat::set_mov_text_parameters(&mut sst, &TX3G_SAMPLE_ENTRY)
            .map_err(step("set up the subtitle stream"))?;
        sst.index()
    };

    let mut opts = Dictionary::new();
    opts.set("movflags", "+faststart");
    octx.write_header_with(opts)
        .map_err(step("write the header"))?;
    let out_time_bases: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    let sub_tb = out_time_bases[sub_index];

    let write_cue = |cue: &SubtitleCue, octx: &mut format::context::Output| {
        let mut packet = Packet::copy(&mov_text_sample(&cue.text));
        let start = millis(cue.start);
        let end = millis(cue.end).max(start);
        packet.set_pts(Some(start));
        packet.set_dts(Some(start));
        packet.set_duration(end - start);
        packet.rescale_ts(SUBTITLE_TIME_BASE, sub_tb);
        packet.set_stream(sub_index);
        packet.set_position(-1);
        packet.write_interleaved(octx)
    };

    let mut next_cue = cues.iter().copied().peekable();
    for (ist, mut packet) in ictx.packets() {
        let Some(Some(out)) = map.get(ist.index()).copied() else {
            continue;
        };
        let in_tb = in_time_bases[ist.index()];
        // Subtitles that start before this packet go first, so the
        // interleaver never holds more than a few packets.
        let at_ms = packet
            .dts()
            .or(packet.pts())
            .map(|t| t.rescale(in_tb, SUBTITLE_TIME_BASE))
            .unwrap_or(0);
        while let Some(cue) = next_cue.next_if(|c| millis(c.start) <= at_ms) {
            write_cue(cue, &mut octx).map_err(step("write a subtitle"))?;
        }
        packet.rescale_ts(in_tb, out_time_bases[out]);
        packet.set_stream(out);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut octx)
            .map_err(step("copy a packet"))?;
    }
    for cue in next_cue {
        write_cue(cue, &mut octx).map_err(step("write a subtitle"))?;
    }
    octx.write_trailer().map_err(step("finish the file"))?;
    Ok(())
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
