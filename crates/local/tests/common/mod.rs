//! Reading clips back with ffmpeg-next, for assertions on real files.
#![allow(dead_code)]

use std::path::Path;

use ffmpeg::{codec, format, frame, media, software};
use ffmpeg_next as ffmpeg;
use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;

/// What a clip holds, read from the file.
#[derive(Debug)]
pub struct Clip {
    pub video_codec: String,
    pub audio_codec: String,
    pub width: u32,
    pub height: u32,
    pub pixel_format: format::Pixel,
    pub fps: f64,
    /// Container stream durations in seconds.
    pub video_stream_seconds: f64,
    pub audio_stream_seconds: f64,
    pub sample_rate: u32,
    /// Decoded RGB24 frames, rows packed.
    pub frames: Vec<Vec<u8>>,
    /// Decoded audio, first channel.
    pub audio: Vec<f32>,
}

impl Clip {
    pub fn video_seconds(&self) -> f64 {
        self.frames.len() as f64 / self.fps
    }

    pub fn audio_seconds(&self) -> f64 {
        self.audio.len() as f64 / self.sample_rate as f64
    }

    pub fn pixel(&self, frame: usize, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        let f = &self.frames[frame];
        [f[i], f[i + 1], f[i + 2]]
    }

    /// RMS of the audio samples that belong to video frame `i`.
    pub fn frame_rms(&self, i: usize) -> f32 {
        let per_frame = self.sample_rate as f64 / self.fps;
        let a = ((i as f64 * per_frame) as usize).min(self.audio.len());
        let b = (((i + 1) as f64 * per_frame) as usize).min(self.audio.len());
        rms(&self.audio[a..b])
    }
}

pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

/// Decode every video frame (as RGB24) and all audio of `path`.
pub fn read_clip(path: &Path) -> Clip {
    read_clip_keeping(path, |_| true)
}

/// Like [`read_clip`], keeping the pixels only of frames `keep` selects
/// (the others are empty), so long videos fit in memory.
pub fn read_clip_keeping(path: &Path, keep: impl Fn(usize) -> bool) -> Clip {
    ffmpeg::init().unwrap();
    let mut input = format::input(&path).unwrap();
    let video_stream = input
        .streams()
        .best(media::Type::Video)
        .expect("a video stream");
    let audio_stream = input
        .streams()
        .best(media::Type::Audio)
        .expect("an audio stream");
    let (vi, ai) = (video_stream.index(), audio_stream.index());
    let seconds = |s: &format::stream::Stream| s.duration() as f64 * f64::from(s.time_base());
    let video_stream_seconds = seconds(&video_stream);
    let audio_stream_seconds = seconds(&audio_stream);
    let rate = video_stream.avg_frame_rate();
    let fps = rate.numerator() as f64 / rate.denominator() as f64;
    let mut video = codec::Context::from_parameters(video_stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut audio = codec::Context::from_parameters(audio_stream.parameters())
        .unwrap()
        .decoder()
        .audio()
        .unwrap();
    let video_codec = video
        .codec()
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    let audio_codec = audio
        .codec()
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    let (width, height, pixel_format) = (video.width(), video.height(), video.format());
    let sample_rate = audio.rate();
    let mut scaler = software::scaling::Context::get(
        pixel_format,
        width,
        height,
        format::Pixel::RGB24,
        width,
        height,
        software::scaling::Flags::BILINEAR,
    )
    .unwrap();

    let mut frames = Vec::new();
    let mut samples = Vec::new();
    let mut take_video = |decoder: &mut ffmpeg::decoder::Video, frames: &mut Vec<Vec<u8>>| {
        let mut decoded = frame::Video::empty();
        while decoder.receive_frame(&mut decoded).is_ok() {
            if !keep(frames.len()) {
                frames.push(Vec::new());
                continue;
            }
            let mut rgb = frame::Video::empty();
            scaler.run(&decoded, &mut rgb).unwrap();
            let stride = rgb.stride(0);
            let mut packed = Vec::with_capacity((width * height * 3) as usize);
            for row in 0..height as usize {
                packed.extend_from_slice(
                    &rgb.data(0)[row * stride..row * stride + width as usize * 3],
                );
            }
            frames.push(packed);
        }
    };
    let take_audio = |decoder: &mut ffmpeg::decoder::Audio, samples: &mut Vec<f32>| {
        let mut decoded = frame::Audio::empty();
        while decoder.receive_frame(&mut decoded).is_ok() {
            assert_eq!(
                decoded.format(),
                format::Sample::F32(format::sample::Type::Planar),
                "AAC decodes to planar float"
            );
            samples.extend_from_slice(&decoded.plane::<f32>(0)[..decoded.samples()]);
        }
    };
    for (stream, packet) in input.packets() {
        if stream.index() == vi {
            video.send_packet(&packet).unwrap();
            take_video(&mut video, &mut frames);
        } else if stream.index() == ai {
            audio.send_packet(&packet).unwrap();
            take_audio(&mut audio, &mut samples);
        }
    }
    video.send_eof().unwrap();
    take_video(&mut video, &mut frames);
    audio.send_eof().unwrap();
    take_audio(&mut audio, &mut samples);

    Clip {
        video_codec,
        audio_codec,
        width,
        height,
        pixel_format,
        fps,
        video_stream_seconds,
        audio_stream_seconds,
        sample_rate,
        frames,
        audio: samples,
    }
}

/// A small request for tests.
pub fn request(script: &str) -> ClipRequest {
    ClipRequest {
        slide: 1,
        title: "test deck".into(),
        provider: "local".into(),
        script: script.into(),
        avatar: "default".into(),
        voice: None,
        voice_provider: None,
        language: Some("English".into()),
        avatar_background: Rgb::new(0, 255, 0),
        canvas: (320, 180),
    }
}
