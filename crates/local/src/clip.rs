//! One presenter clip, start to finish: speech, animation, drawing, encoding.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use slidecast_core::ClipRequest;
use tiny_skia::Pixmap;

use crate::animate::{frame_window, Animation};
use crate::avatar::{draw_avatar, stable_hash, Look};
use crate::encode::{resample_speech, ClipWriter, AUDIO_RATE};
use crate::error::LocalError;
use crate::speech::{synthesize_blocking, voice_for_request, EspeakConfig, Speech};
use slidecast_av::VideoSettings;

/// How clips are made.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Frames per second of the clip (default 25).
    pub fps: u32,
    /// The espeak-ng program and speaking rate.
    pub espeak: EspeakConfig,
    /// x264 preset (default `fast`).
    pub preset: String,
    /// x264 CRF (default 20: the composer re-encodes the clip).
    pub crf: u8,
    /// Silence before the speech, so the presenter settles in.
    pub lead_in: Duration,
    /// Silence after the speech, a breath before the next slide.
    pub tail: Duration,
    /// Head sway and breathing. Off only in tests that compare pixels.
    pub idle_motion: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            fps: 25,
            espeak: EspeakConfig::default(),
            preset: "fast".to_string(),
            crf: 20,
            lead_in: Duration::from_millis(250),
            tail: Duration::from_millis(350),
            idle_motion: true,
        }
    }
}

/// What a finished clip holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipStats {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Video frames written.
    pub frames: usize,
    /// Length of the video stream (`frames / fps`).
    pub video_duration: Duration,
    /// Length of the audio stream (speech plus lead-in and tail, padded to
    /// the end of the last video frame).
    pub audio_duration: Duration,
    /// Length of espeak-ng's speech alone.
    pub speech_duration: Duration,
    /// The espeak-ng voice used.
    pub voice: String,
}

/// Render `request` into an MP4 at `out_path`, blocking the calling thread
/// (speech synthesis, drawing and encoding). The file appears only when it
/// is complete.
pub fn render_clip(
    request: &ClipRequest,
    out_path: &Path,
    options: &RenderOptions,
) -> Result<ClipStats, LocalError> {
    check_canvas(request.canvas)?;
    let voice = voice_for_request(request);
    let speech = synthesize_blocking(&options.espeak, &request.script, &voice)?;
    render_speech(
        request,
        &voice,
        &speech,
        out_path,
        options,
        &|_, _| {},
        &AtomicBool::new(false),
    )
}

pub(crate) fn check_canvas((width, height): (u32, u32)) -> Result<(), LocalError> {
    let ok = |v: u32| (16..=4096).contains(&v) && v & 1 == 0;
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(LocalError::BadCanvas { width, height })
    }
}

/// Draw and encode the clip for already synthesized `speech`. `progress` is
/// called with (frames done, frames total); `cancel` stops the render
/// between frames.
pub(crate) fn render_speech(
    request: &ClipRequest,
    voice: &str,
    speech: &Speech,
    out_path: &Path,
    options: &RenderOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<ClipStats, LocalError> {
    check_canvas(request.canvas)?;
    let (width, height) = request.canvas;
    let fps = options.fps.clamp(1, 120);

    let seconds = |d: Duration| (d.as_secs_f64() * AUDIO_RATE as f64).round() as usize;
    let speech48 = resample_speech(speech)?;
    let mut audio = vec![0.0f32; seconds(options.lead_in)];
    audio.extend_from_slice(&speech48);
    audio.resize(audio.len() + seconds(options.tail), 0.0);
    // Whole video frames; the audio is padded with silence to the end of the
    // last one, so both streams last exactly `frames / fps`.
    let frames = ((audio.len() as u64 * fps as u64).div_ceil(AUDIO_RATE as u64) as usize).max(1);
    audio.resize(
        frame_window(usize::MAX, AUDIO_RATE, fps, frames - 1).end,
        0.0,
    );

    let seed = stable_hash(&format!("{}\n{}", request.avatar, request.script));
    let animation = Animation::new(&audio, AUDIO_RATE, fps, frames, seed, options.idle_motion);
    let look = Look::for_code(&request.avatar);

    let staged = slidecast_core::atomic::AtomicFile::new(out_path);
    let settings = VideoSettings {
        width,
        height,
        fps,
        preset: options.preset.clone(),
        crf: options.crf,
        threads: 0,
        // A clip is decoded once, front to back: it needs no seek points,
        // and x264's default interval keeps keyframe pulses out of the
        // presenter's still moments.
        keyframe_interval: Some(250),
    };
    let mut writer = ClipWriter::create(staged.temp_path(), &settings)?;
    let mut pixmap = Pixmap::new(width, height).ok_or(LocalError::BadCanvas { width, height })?;
    for i in 0..frames {
        if cancel.load(Ordering::Relaxed) {
            return Err(LocalError::Cancelled);
        }
        draw_avatar(
            &mut pixmap,
            &look,
            &animation.pose(i),
            request.avatar_background,
        );
        writer.write_video(pixmap.data())?;
        writer.write_audio(&audio[frame_window(audio.len(), AUDIO_RATE, fps, i)])?;
        progress(i + 1, frames);
    }
    writer.finish()?;
    tracing::debug!(
        clip = %out_path.display(),
        frames,
        seconds = frames as f64 / fps as f64,
        "local clip rendered"
    );
    staged.commit().map_err(|e| LocalError::io(out_path, e))?;

    Ok(ClipStats {
        width,
        height,
        fps,
        frames,
        video_duration: Duration::from_secs_f64(frames as f64 / fps as f64),
        audio_duration: Duration::from_secs_f64(audio.len() as f64 / AUDIO_RATE as f64),
        speech_duration: speech.duration(),
        voice: voice.to_string(),
    })
}
