//! Joining segments into the deck's MP4: video by stream copy (timestamps
//! offset by the running end), the PCM audio of all segments encoded once to
//! AAC so no per-segment priming or padding accumulates at the seams, and
//! the captions as a subtitle track, all in one pass.
//!
//! Loudness: a first read of the segments (which the join needs anyway, for
//! the video's decode delay) measures each slide's integrated loudness
//! (EBU R128). Each slide's audio is then scaled to the deck's target and
//! the whole track runs through one look-ahead limiter before the one AAC
//! encode, so a quiet vendor clip and a loud local voice come out at the
//! same level and the true peak stays at or under -1 dBTP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg::{encoder, format, media, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::MediaError;
use crate::segment::samples_for_frames;
use crate::subtitles::SubtitleWriter;
use slidecast_av::compat::{self, DECK_CHANNELS, DECK_RATE};
use slidecast_av::encode::AudioWriter;
use slidecast_av::Limiter;

use crate::music::MusicMix;
use slidecast_core::atomic::AtomicFile;
use slidecast_core::{Chapter, SubtitleTrack};

/// AAC bit rate of the deck's audio track.
pub const AUDIO_BIT_RATE: usize = 160_000;

/// The limiter's sample-peak ceiling (dBFS). The promise is a true peak
/// at most -1 dBTP in the MP4; peaks between samples and the AAC encoder's
/// overshoot add up to about a decibel on speech, hence the margin.
const LIMIT_CEILING_DB: f64 = -2.0;

/// The narration level music is set against when levelling is off and
/// nothing was measured (LUFS).
const DEFAULT_NARRATION_LUFS: f64 = -16.0;

/// The most a slide is raised or lowered (dB): beyond this a clip is
/// nearly silent or broken, and more gain would only lift its noise.
const MAX_GAIN_DB: f64 = 24.0;

/// What the join wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinReport {
    pub frames: u64,
    pub samples: u64,
    /// Each segment's integrated loudness as composed (LUFS), `None` when
    /// it is silent (nothing above the EBU R128 gate).
    pub loudness: Vec<Option<f64>>,
}

/// How the join makes the audio track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JoinAudio<'a> {
    /// Each slide to this integrated loudness (LUFS), peaks limited;
    /// `None`: the audio as composed.
    pub loudness: Option<f64>,
    /// The music under each segment (none: no music).
    pub music: &'a [Option<PathBuf>],
    /// The music's level against the narration (dB).
    pub music_volume: f64,
    /// Where each segment's narration is audible, from its start (the
    /// music ducks under it).
    pub speech: &'a [Vec<std::ops::Range<Duration>>],
}

/// The gain (linear) that brings a segment measured at `measured` LUFS to
/// `target`; silence and an absent target keep their level.
pub fn gain_for(target: Option<f64>, measured: Option<f64>) -> f32 {
    match (target, measured) {
        (Some(t), Some(m)) => {
            let db = (t - m).clamp(-MAX_GAIN_DB, MAX_GAIN_DB);
            10f64.powf(db / 20.0) as f32
        }
        _ => 1.0,
    }
}

/// Join `segments` (NUT files from [`crate::segment::write_segment`]) into
/// an MP4 at `output` with `subtitles` as a `mov_text` track, through a
/// temporary file synced and renamed on success.
pub fn join(
    segments: &[PathBuf],
    output: &Path,
    fps: u32,
    audio: JoinAudio<'_>,
    subtitles: Option<&SubtitleTrack>,
    chapters: &[Chapter],
) -> Result<JoinReport, MediaError> {
    if segments.is_empty() {
        return Err(MediaError::msg("nothing to join: no segments"));
    }
    if output.file_name().is_none() {
        return Err(MediaError::msg(format!(
            "{}: not a file path",
            output.display()
        )));
    }
    let staged = AtomicFile::new(output);
    let report = join_to(
        segments,
        staged.temp_path(),
        fps,
        audio,
        subtitles,
        chapters,
    )?;
    staged.commit().map_err(MediaError::io(output))?;
    Ok(report)
}

fn open_segment(path: &Path) -> Result<(format::context::Input, usize, Option<usize>), MediaError> {
    let ictx =
        format::input(path).map_err(MediaError::ff(format!("open segment {}", path.display())))?;
    let video = ictx
        .streams()
        .best(media::Type::Video)
        .map(|s| s.index())
        .ok_or_else(|| MediaError::msg(format!("{}: segment has no video", path.display())))?;
    let audio = ictx.streams().best(media::Type::Audio).map(|s| s.index());
    Ok((ictx, video, audio))
}

/// A timestamp in `tb` as a whole number of frames at `fps` (rounded).
fn to_frames(ts: i64, tb: Rational, fps: u32) -> i64 {
    let num = i128::from(ts) * i128::from(tb.numerator()) * i128::from(fps);
    let den = i128::from(tb.denominator());
    ((2 * num + den.signum() * den) / (2 * den)) as i64
}

/// What the join learns from a first read of a segment.
struct SegmentScan {
    /// Decode delay (frames) of the video: how far a packet's position in
    /// decode order runs ahead of its presentation time. NUT does not store
    /// decode timestamps, so the join rebuilds them from this.
    delay: i64,
    /// Integrated loudness of the audio (LUFS); `None` when silent.
    loudness: Option<f64>,
    /// Video frames.
    frames: u64,
}

fn scan_segment(path: &Path, fps: u32) -> Result<SegmentScan, MediaError> {
    let (mut ictx, vi, ai) = open_segment(path)?;
    let mut meter = ebur128::EbuR128::new(DECK_CHANNELS as u32, DECK_RATE, ebur128::Mode::I)
        .map_err(|e| MediaError::msg(format!("loudness meter: {e}")))?;
    let tb = ictx
        .stream(vi)
        .map(|s| s.time_base())
        .ok_or_else(|| MediaError::msg("segment video stream vanished"))?;
    let mut packet = Packet::empty();
    let (mut k, mut zero, mut delay) = (0i64, None, 0i64);
    loop {
        if !read_segment_packet(&mut ictx, &mut packet, path)? {
            break;
        }
        if Some(packet.stream()) == ai {
            if let Some(data) = packet.data() {
                let samples: Vec<i16> = data
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                meter
                    .add_frames_i16(&samples)
                    .map_err(|e| MediaError::msg(format!("loudness meter: {e}")))?;
            }
            continue;
        }
        if packet.stream() != vi {
            continue;
        }
        let pts = packet.pts().ok_or_else(|| {
            MediaError::msg(format!("{}: video packet without pts", path.display()))
        })?;
        let zero = *zero.get_or_insert(pts);
        delay = delay.max(k - to_frames(pts - zero, tb, fps));
        k += 1;
    }
    let loudness = meter.loudness_global().ok().filter(|l| l.is_finite());
    Ok(SegmentScan {
        delay,
        loudness,
        frames: k as u64,
    })
}

fn join_to(
    segments: &[PathBuf],
    tmp: &Path,
    fps: u32,
    audio_level: JoinAudio<'_>,
    subtitles: Option<&SubtitleTrack>,
    chapters: &[Chapter],
) -> Result<JoinReport, MediaError> {
    let mut delay = 0;
    let mut loudness = Vec::with_capacity(segments.len());
    // Where each segment starts on the output's sample clock, and the end.
    let mut starts = vec![0u64];
    let mut frames_so_far = 0;
    for path in segments {
        let scan = scan_segment(path, fps)?;
        delay = delay.max(scan.delay);
        loudness.push(scan.loudness);
        frames_so_far += scan.frames;
        starts.push(samples_for_frames(frames_so_far, fps));
    }
    // The music sits under the narration's level: the target, or what the
    // slides measure when levelling is off.
    let measured: Vec<f64> = loudness.iter().flatten().copied().collect();
    let narration = audio_level.loudness.unwrap_or(if measured.is_empty() {
        DEFAULT_NARRATION_LUFS
    } else {
        measured.iter().sum::<f64>() / measured.len() as f64
    });
    let no_speech: Vec<Vec<std::ops::Range<Duration>>>;
    let speech = if audio_level.speech.len() == segments.len() {
        audio_level.speech
    } else {
        no_speech = vec![Vec::new(); segments.len()];
        &no_speech
    };
    let mut music = if audio_level.music.len() == segments.len() {
        MusicMix::new(
            audio_level.music,
            &starts,
            speech,
            narration + audio_level.music_volume,
        )?
    } else {
        None
    };
    let mut limiter = if audio_level.loudness.is_some() || music.is_some() {
        Some(
            Limiter::new(DECK_RATE, compat::stereo(), LIMIT_CEILING_DB)
                .map_err(MediaError::from)?,
        )
    } else {
        None
    };
    let frame_tb = Rational::new(1, fps as i32);
    let (first, first_video, _) = open_segment(&segments[0])?;
    let first_stream = first
        .stream(first_video)
        .ok_or_else(|| MediaError::msg("segment video stream vanished"))?;
    let reference_extradata = compat::extradata(&first_stream);

    let mut octx = format::output_as(tmp, "mp4")
        .map_err(MediaError::ff(format!("create {}", tmp.display())))?;
    let video_index = {
        let mut ost = octx
            .add_stream(encoder::find(ffmpeg::codec::Id::None))
            .map_err(MediaError::ff("add video stream"))?;
        ost.set_parameters(first_stream.parameters());
        compat::clear_codec_tag(&mut ost);
        ost.set_time_base(frame_tb);
        ost.set_avg_frame_rate(Rational::new(fps as i32, 1));
        ost.index()
    };
    drop(first);
    let mut audio = AudioWriter::add(
        &mut octx,
        "aac",
        DECK_RATE,
        compat::stereo(),
        AUDIO_BIT_RATE,
    )?;
    let aac_frame = audio.frame_size().max(1);
    let mut captions = match subtitles {
        Some(track) if !track.cues.is_empty() => Some(SubtitleWriter::add(&mut octx, track)?),
        _ => None,
    };
    let mut opts = Dictionary::new();
    opts.set("movflags", "+faststart");
    // Chapters in milliseconds; the MP4 muxer writes them with the header.
    for (i, c) in chapters.iter().enumerate() {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        octx.add_chapter(
            i as i64 + 1,
            Rational::new(1, 1000),
            ms(c.start),
            ms(c.end),
            &c.title,
        )
        .map_err(MediaError::ff(format!("add chapter {}", i + 1)))?;
    }
    octx.write_header_with(opts)
        .map_err(MediaError::ff("write MP4 header"))?;
    audio.header_written(&octx);
    if let Some(c) = captions.as_mut() {
        c.header_written(&octx);
    }
    let video_tb = octx
        .stream(video_index)
        .map(|s| s.time_base())
        .ok_or_else(|| MediaError::msg("output video stream vanished"))?;

    // Levelled samples waiting to be limited and encoded (interleaved
    // stereo), and limited samples waiting for a full AAC frame.
    let mut fifo: Vec<f32> = Vec::with_capacity(aac_frame * DECK_CHANNELS * 4);
    let mut limited: Vec<f32> = Vec::with_capacity(aac_frame * DECK_CHANNELS * 4);
    let mut mixed: Vec<f32> = Vec::new();
    let mut encode = |octx: &mut format::context::Output,
                      chunk: &[f32],
                      limited: &mut Vec<f32>,
                      last: bool|
     -> Result<(), MediaError> {
        let chunk = match music.as_mut() {
            Some(m) => {
                mixed.clear();
                mixed.extend_from_slice(chunk);
                m.mix(&mut mixed)?;
                &mixed[..]
            }
            None => chunk,
        };
        match limiter.as_mut() {
            Some(l) => {
                l.push(chunk, limited)?;
                if last {
                    l.finish(limited)?;
                }
            }
            None => limited.extend_from_slice(chunk),
        }
        let frame = aac_frame * DECK_CHANNELS;
        let whole = if last {
            limited.len()
        } else {
            limited.len() - limited.len() % frame
        };
        for piece in limited[..whole].chunks(frame) {
            audio.write_interleaved_f32(octx, piece)?;
        }
        limited.drain(..whole);
        Ok(())
    };
    let mut frames_before: u64 = 0;
    let mut samples_before: u64 = 0;
    let mut packet = Packet::empty();
    for (path, measured) in segments.iter().zip(&loudness) {
        let gain = gain_for(audio_level.loudness, *measured) / 32768.0;
        let (mut ictx, vi, ai) = open_segment(path)?;
        let (in_vtb, extradata) = {
            let st = ictx
                .stream(vi)
                .ok_or_else(|| MediaError::msg("segment video stream vanished"))?;
            (st.time_base(), compat::extradata(&st))
        };
        if extradata != reference_extradata {
            return Err(MediaError::msg(format!(
                "{}: encoded with different parameters than the first segment; cannot join by stream copy",
                path.display()
            )));
        }
        let mut frames: u64 = 0;
        let mut decode_index: i64 = 0;
        // The muxer may have shifted the segment's timestamps (to keep dts
        // non-negative): the first packet, the opening IDR frame, has the
        // lowest pts and marks the segment's time zero.
        let mut base: Option<i64> = None;
        // Audio this segment may contribute: exactly up to its video end.
        let mut segment_samples: u64 = 0;
        let mut segment_fifo_start = fifo.len();
        loop {
            if !read_segment_packet(&mut ictx, &mut packet, path)? {
                break;
            }
            if packet.stream() == vi {
                let zero = *base.get_or_insert(packet.pts().unwrap_or(0));
                // Presentation time: frames since the segment's first frame,
                // offset by the frames before it. Decode time: the packet's
                // place in decode order, held back by the deck's decode
                // delay, so it never passes the presentation time and keeps
                // rising across joins.
                let pts = packet
                    .pts()
                    .map(|t| to_frames(t - zero, in_vtb, fps) + frames_before as i64);
                if let Some(c) = captions.as_mut() {
                    // Cues that start by this frame go first, so the
                    // interleaver never holds more than a few packets.
                    let frame = pts.unwrap_or(frames_before as i64).max(0) as u64;
                    let at = Duration::from_secs_f64(frame as f64 / f64::from(fps));
                    c.write_until(&mut octx, at)?;
                }
                packet.set_pts(pts);
                packet.set_dts(Some(frames_before as i64 + decode_index - delay));
                decode_index += 1;
                packet.set_duration(1);
                packet.rescale_ts(frame_tb, video_tb);
                packet.set_stream(video_index);
                packet.set_position(-1);
                packet
                    .write_interleaved(&mut octx)
                    .map_err(MediaError::ff("write video packet"))?;
                frames += 1;
            } else if Some(packet.stream()) == ai {
                if let Some(data) = packet.data() {
                    let n = data.len() / 2;
                    fifo.extend((0..n).map(|i| {
                        f32::from(i16::from_le_bytes([data[2 * i], data[2 * i + 1]])) * gain
                    }));
                    segment_samples += (n / DECK_CHANNELS) as u64;
                }
                // Keep one frame's worth back: the segment's end may be
                // trimmed to its video.
                let hold = aac_frame * DECK_CHANNELS;
                if fifo.len() >= 2 * hold {
                    let take = fifo.len() - hold;
                    encode(&mut octx, &fifo[..take], &mut limited, false)?;
                    fifo.drain(..take);
                    segment_fifo_start = segment_fifo_start.saturating_sub(take);
                }
            }
        }
        frames_before += frames;
        // Keep the audio exactly on the video's clock at every boundary:
        // trim or pad this segment's samples so the running total matches.
        let target = samples_for_frames(frames_before, fps);
        let have = samples_before + segment_samples;
        if have > target {
            let excess =
                ((have - target) as usize * DECK_CHANNELS).min(fifo.len() - segment_fifo_start);
            fifo.truncate(fifo.len() - excess);
        } else {
            fifo.resize(fifo.len() + (target - have) as usize * DECK_CHANNELS, 0.0);
        }
        samples_before = target;
    }
    encode(&mut octx, &fifo, &mut limited, true)?;
    audio.finish(&mut octx)?;
    if let Some(c) = captions.as_mut() {
        c.finish(&mut octx)?;
    }
    octx.write_trailer()
        .map_err(MediaError::ff("write MP4 trailer"))?;
    Ok(JoinReport {
        frames: frames_before,
        samples: samples_before,
        loudness,
    })
}

/// Read the next packet of a segment; `false` at its end.
fn read_segment_packet(
    ictx: &mut ffmpeg::format::context::Input,
    packet: &mut Packet,
    path: &Path,
) -> Result<bool, MediaError> {
    match crate::read_packet(ictx, packet) {
        Ok(()) => Ok(true),
        Err(ffmpeg::Error::Eof) => Ok(false),
        Err(e) => Err(MediaError::Ffmpeg {
            context: format!("read segment {}", path.display()),
            source: e,
        }),
    }
}
