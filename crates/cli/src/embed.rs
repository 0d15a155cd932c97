//! Embedding the captions in the finished MP4 as a soft subtitle track
//! (3GPP timed text, `mov_text`), which players show on request.
//!
//! The composer has no subtitle hook, so this is a remux after the fact:
//! every packet of the video is copied unchanged (no re-encoding), a
//! `mov_text` stream is added, and the result replaces the video through a
//! temporary file and a rename. A `mov_text` sample needs no encoder: it is
//! a 16-bit big-endian length and the UTF-8 text; the stream's sample
//! description is the standard default one (white 18 pt text, centred at the
//! bottom) that FFmpeg's own encoder writes.

use std::path::{Path, PathBuf};

use ffmpeg::{codec, encoder, format, media, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::captions::Cue;
use crate::exit::CliError;

/// Subtitle timestamps are in milliseconds.
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

fn media_error(path: &Path, what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Run {
        message: format!(
            "{}: embedding captions: {what}: {e}\nhint: the video without embedded captions is still there; or pass --no-captions",
            path.display()
        ),
    }
}

/// Add `cues` to `video` as a `mov_text` subtitle track, in place (through
/// a temporary file renamed over it). Blocking: run it off the async runtime.
pub fn embed_captions(video: &Path, cues: &[Cue], language: &str) -> Result<(), CliError> {
    let _ = ffmpeg::init();
    let name = video
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video.mp4".into());
    let tmp: PathBuf = video.with_file_name(format!(".{name}.captions-{}.mp4", std::process::id()));
    let result = remux_with_captions(video, &tmp, cues, language);
    match result {
        Ok(()) => std::fs::rename(&tmp, video).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError::io(video, e)
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn remux_with_captions(
    video: &Path,
    tmp: &Path,
    cues: &[Cue],
    language: &str,
) -> Result<(), CliError> {
    let err = |what: &str| {
        let what = what.to_string();
        move |e: ffmpeg::Error| media_error(video, &what, e)
    };
    let mut ictx = format::input(&video).map_err(err("open"))?;
    let mut octx = format::output(&tmp).map_err(err("create the temporary file"))?;

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
            .map_err(err("add a stream"))?;
        ost.set_parameters(ist.parameters());
        // SAFETY: the parameters belong to the live output stream; a zero
        // tag lets the MP4 muxer choose its own (stream-copy rule).
        unsafe {
            (*ost.parameters().as_mut_ptr()).codec_tag = 0;
        }
        map.push(Some(ost.index()));
    }

    let sub_index = {
        let mut sst = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(err("add the subtitle stream"))?;
        sst.set_time_base(SUBTITLE_TIME_BASE);
        let mut meta = Dictionary::new();
        meta.set("language", language);
        meta.set("handler_name", "slidecast captions");
        sst.set_metadata(meta);
        // SAFETY: the parameters belong to the live output stream; the
        // extradata is allocated with av_malloc (padded as FFmpeg requires)
        // and owned by the parameters from here on, which free it.
        unsafe {
            let par = sst.parameters().as_mut_ptr();
            (*par).codec_type = ffmpeg::ffi::AVMediaType::AVMEDIA_TYPE_SUBTITLE;
            (*par).codec_id = ffmpeg::ffi::AVCodecID::AV_CODEC_ID_MOV_TEXT;
            let size = TX3G_SAMPLE_ENTRY.len();
            let pad = ffmpeg::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
            let data = ffmpeg::ffi::av_mallocz(size + pad) as *mut u8;
            if data.is_null() {
                return Err(media_error(video, "allocate", "out of memory"));
            }
            std::ptr::copy_nonoverlapping(TX3G_SAMPLE_ENTRY.as_ptr(), data, size);
            (*par).extradata = data;
            (*par).extradata_size = size as i32;
        }
        sst.index()
    };

    let mut opts = Dictionary::new();
    opts.set("movflags", "+faststart");
    octx.write_header_with(opts)
        .map_err(err("write the header"))?;
    let out_time_bases: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    let sub_tb = out_time_bases[sub_index];

    let mut next_cue = cues.iter().peekable();
    let write_cue = |cue: &Cue, octx: &mut format::context::Output| {
        let text = cue.text.as_bytes();
        let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
        let mut data = Vec::with_capacity(2 + text.len());
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(&text[..usize::from(len)]);
        let mut packet = Packet::copy(&data);
        let start = cue.start.as_millis() as i64;
        let end = cue.end.as_millis() as i64;
        packet.set_pts(Some(start));
        packet.set_dts(Some(start));
        packet.set_duration(end - start);
        packet.rescale_ts(SUBTITLE_TIME_BASE, sub_tb);
        packet.set_stream(sub_index);
        packet.set_position(-1);
        packet.write_interleaved(octx)
    };

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
            .map(|t| t * 1000 * i64::from(in_tb.0) / i64::from(in_tb.1.max(1)))
            .unwrap_or(0);
        while let Some(cue) = next_cue.next_if(|c| (c.start.as_millis() as i64) <= at_ms) {
            write_cue(cue, &mut octx).map_err(err("write a caption"))?;
        }
        packet.rescale_ts(in_tb, out_time_bases[out]);
        packet.set_stream(out);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut octx)
            .map_err(err("copy a packet"))?;
    }
    for cue in next_cue {
        write_cue(cue, &mut octx).map_err(err("write a caption"))?;
    }
    octx.write_trailer().map_err(err("finish the file"))?;
    Ok(())
}
