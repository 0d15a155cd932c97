//! Shared helpers: generated inputs and ffmpeg-next read-back of outputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use slidecast_core::deck::{
    Corner, Layout, Output, Placement, Presenter, Quality, QualityLevel, Rgb, Shape, Slide,
    Transition,
};
use slidecast_media::picture::{yuv709_to_rgb, Yuv, Yuv420};
use slidecast_media::MockClip;

pub const W: u32 = 320;
pub const H: u32 = 180;
pub const FPS: u32 = 25;
pub const LETTERBOX: Rgb = Rgb::new(0x10, 0x18, 0x60);
pub const SLIDE_COLOUR: Rgb = Rgb::new(0xF0, 0xF0, 0xE0);

pub fn output() -> Output {
    Output {
        width: W,
        height: H,
        fps: FPS,
        background: LETTERBOX,
        quality: Quality::Level(QualityLevel::Draft),
        loudness: Some(slidecast_core::deck::DEFAULT_LOUDNESS),
        music_volume: slidecast_core::deck::DEFAULT_MUSIC_VOLUME,
    }
}

/// A flat-colour image of the given size.
pub fn write_flat_image(path: &Path, width: u32, height: u32, colour: Rgb) {
    let rgb: Vec<u8> = (0..width * height)
        .flat_map(|_| [colour.r, colour.g, colour.b])
        .collect();
    slidecast_media::image::write_image(path, width, height, &rgb).unwrap();
}

pub fn presenter(layout: Layout, shape: Shape) -> Presenter {
    Presenter {
        provider: "mock".into(),
        avatar: "mock".into(),
        voice: None,
        voice_provider: None,
        language: None,
        layout,
        shape,
        avatar_background: Rgb::GREEN,
    }
}

pub fn pip() -> Layout {
    Layout::PictureInPicture(Placement::Corner {
        corner: Corner::BottomRight,
        margin: 10,
        scale: 0.4,
    })
}

pub fn slide(number: usize, image: &Path, presenter: Option<Presenter>) -> Slide {
    Slide {
        number,
        image: image.to_path_buf(),
        script: if presenter.is_some() {
            "Hello.".into()
        } else {
            String::new()
        },
        presenter,
        duration: None,
        transition: Transition::Cut,
        parts: Vec::new(),
        music: None,
        title: None,
    }
}

/// A mock clip at the presenter canvas size (16:9), returning its path.
pub fn mock_clip(dir: &Path, name: &str, seconds: f64) -> PathBuf {
    let path = dir.join(name);
    MockClip::new(Duration::from_secs_f64(seconds), 192, 108)
        .write(&path)
        .unwrap();
    path
}

/// What a read-back output contains.
#[derive(Debug)]
pub struct Probe {
    pub video_codec: ffmpeg::codec::Id,
    pub audio_codec: Option<ffmpeg::codec::Id>,
    pub width: u32,
    pub height: u32,
    pub fps: ffmpeg::Rational,
    pub video_frames: u64,
    pub video_duration: f64,
    /// The audio stream's duration as the container declares it.
    pub audio_duration: f64,
    /// Decoded samples (per channel), including the encoder's end padding.
    pub audio_samples: u64,
    pub audio_rate: u32,
    pub audio_channels: u16,
    pub keyframes: Vec<u64>,
}

/// Probe a file by reading every packet (and decoding audio for its exact
/// sample count).
pub fn probe(path: &Path) -> Probe {
    ffmpeg::init().unwrap();
    let mut ictx = ffmpeg::format::input(path).unwrap();
    let v = ictx.streams().best(ffmpeg::media::Type::Video).unwrap();
    let (vi, vtb) = (v.index(), v.time_base());
    let vpar = v.parameters();
    let vdec = ffmpeg::codec::context::Context::from_parameters(vpar.clone())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let fps = v.avg_frame_rate();
    let a = ictx.streams().best(ffmpeg::media::Type::Audio);
    let audio = a.as_ref().map(|s| (s.index(), s.parameters().id()));
    let audio_duration = a.as_ref().map_or(0.0, |s| {
        s.duration() as f64 * s.time_base().numerator() as f64 / s.time_base().denominator() as f64
    });
    let mut adec = a.map(|s| {
        ffmpeg::codec::context::Context::from_parameters(s.parameters())
            .unwrap()
            .decoder()
            .audio()
            .unwrap()
    });
    let (mut frames, mut min_pts, mut max_end) = (0u64, i64::MAX, i64::MIN);
    let mut keyframes = Vec::new();
    let mut samples = 0u64;
    let mut rate = 0u32;
    let mut channels = 0u16;
    let mut aframe = ffmpeg::frame::Audio::empty();
    let mut pts_list = Vec::new();
    for (stream, packet) in ictx.packets() {
        if stream.index() == vi {
            let pts = packet.pts().unwrap();
            if packet.is_key() {
                keyframes.push(pts);
            }
            pts_list.push(pts);
            min_pts = min_pts.min(pts);
            max_end = max_end.max(pts + packet.duration());
            frames += 1;
        } else if Some(stream.index()) == audio.map(|a| a.0) {
            let d = adec.as_mut().unwrap();
            d.send_packet(&packet).unwrap();
            while d.receive_frame(&mut aframe).is_ok() {
                samples += aframe.samples() as u64;
                rate = aframe.rate();
                channels = aframe.channels();
            }
        }
    }
    if let Some(d) = adec.as_mut() {
        d.send_eof().unwrap();
        while d.receive_frame(&mut aframe).is_ok() {
            samples += aframe.samples() as u64;
        }
    }
    pts_list.sort();
    let secs = |t: i64| t as f64 * vtb.numerator() as f64 / vtb.denominator() as f64;
    let keyframes = keyframes
        .iter()
        .map(|k| pts_list.iter().position(|p| p == k).unwrap() as u64)
        .collect();
    Probe {
        video_codec: vpar.id(),
        audio_codec: audio.map(|a| a.1),
        width: vdec.width(),
        height: vdec.height(),
        fps,
        video_frames: frames,
        video_duration: secs(max_end) - secs(min_pts),
        audio_duration,
        audio_samples: samples,
        audio_rate: rate,
        audio_channels: channels,
        keyframes,
    }
}

/// Decode the video and return frame `index` (display order) as a picture.
pub fn frame_at(path: &Path, index: usize) -> Yuv420 {
    frames_at(path, &[index]).remove(0)
}

/// Decode the video and return the frames at `indices` (display order).
pub fn frames_at(path: &Path, indices: &[usize]) -> Vec<Yuv420> {
    ffmpeg::init().unwrap();
    let mut ictx = ffmpeg::format::input(path).unwrap();
    let v = ictx.streams().best(ffmpeg::media::Type::Video).unwrap();
    let vi = v.index();
    let mut dec = ffmpeg::codec::context::Context::from_parameters(v.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut out = Vec::new();
    let mut n = 0usize;
    let mut frame = ffmpeg::frame::Video::empty();
    let take = |frame: &ffmpeg::frame::Video, n: &mut usize, out: &mut Vec<(usize, Yuv420)>| {
        if indices.contains(n) {
            let mut pic = Yuv420::filled(frame.width(), frame.height(), Yuv { y: 0, u: 0, v: 0 });
            pic.blit(frame, 0, 0);
            out.push((*n, pic));
        }
        *n += 1;
    };
    for (stream, packet) in ictx.packets() {
        if stream.index() == vi {
            dec.send_packet(&packet).unwrap();
            while dec.receive_frame(&mut frame).is_ok() {
                take(&frame, &mut n, &mut out);
            }
        }
    }
    dec.send_eof().unwrap();
    while dec.receive_frame(&mut frame).is_ok() {
        take(&frame, &mut n, &mut out);
    }
    indices
        .iter()
        .map(|i| {
            out.iter()
                .find(|(n, _)| n == i)
                .unwrap_or_else(|| panic!("no frame {i} in {}", path.display()))
                .1
                .clone()
        })
        .collect()
}

/// The colour at (x, y) of a picture.
pub fn pixel(pic: &Yuv420, x: u32, y: u32) -> Rgb {
    let cw = pic.width / 2;
    yuv709_to_rgb(Yuv {
        y: pic.y[(y * pic.width + x) as usize],
        u: pic.u[((y / 2) * cw + x / 2) as usize],
        v: pic.v[((y / 2) * cw + x / 2) as usize],
    })
}

/// True when two colours are within `tolerance` on every channel.
pub fn close(a: Rgb, b: Rgb, tolerance: u8) -> bool {
    a.r.abs_diff(b.r) <= tolerance
        && a.g.abs_diff(b.g) <= tolerance
        && a.b.abs_diff(b.b) <= tolerance
}

#[track_caller]
pub fn assert_colour(actual: Rgb, expected: Rgb, tolerance: u8, what: &str) {
    assert!(
        close(actual, expected, tolerance),
        "{what}: got {actual}, expected {expected} (±{tolerance})"
    );
}

/// The decoded audio's left channel as f32 in -1..1, at the stream's rate.
pub fn audio_left(path: &Path) -> (Vec<f32>, u32) {
    let (mut channels, rate) = audio_channels(path);
    (channels.swap_remove(0), rate)
}

/// The decoded audio, one vector per channel, as f32 in -1..1, at the
/// stream's rate.
pub fn audio_channels(path: &Path) -> (Vec<Vec<f32>>, u32) {
    ffmpeg::init().unwrap();
    let mut ictx = ffmpeg::format::input(path).unwrap();
    let a = ictx.streams().best(ffmpeg::media::Type::Audio).unwrap();
    let ai = a.index();
    let mut dec = ffmpeg::codec::context::Context::from_parameters(a.parameters())
        .unwrap()
        .decoder()
        .audio()
        .unwrap();
    let mut out: Vec<Vec<f32>> = Vec::new();
    let mut rate = 0;
    let mut frame = ffmpeg::frame::Audio::empty();
    let mut take = |frame: &ffmpeg::frame::Audio, out: &mut Vec<Vec<f32>>| {
        rate = frame.rate();
        let n = frame.samples();
        let ch = frame.channels() as usize;
        out.resize(ch, Vec::new());
        match frame.format() {
            ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Planar) => {
                for (c, dst) in out.iter_mut().enumerate() {
                    dst.extend_from_slice(&frame.plane::<f32>(c)[..n]);
                }
            }
            ffmpeg::format::Sample::I16(ffmpeg::format::sample::Type::Packed) => {
                let data = frame.data(0);
                for (c, dst) in out.iter_mut().enumerate() {
                    dst.extend((0..n).map(|i| {
                        let at = 2 * (i * ch + c);
                        i16::from_le_bytes([data[at], data[at + 1]]) as f32 / 32768.0
                    }));
                }
            }
            other => panic!("unexpected sample format {other:?}"),
        }
    };
    for (stream, packet) in ictx.packets() {
        if stream.index() == ai {
            dec.send_packet(&packet).unwrap();
            while dec.receive_frame(&mut frame).is_ok() {
                take(&frame, &mut out);
            }
        }
    }
    dec.send_eof().unwrap();
    while dec.receive_frame(&mut frame).is_ok() {
        take(&frame, &mut out);
    }
    (out, rate)
}

/// Integrated loudness (LUFS) and true peak (dBTP) of `channels` from
/// `from` to `to` seconds, measured to EBU R128 / ITU-R BS.1770.
pub fn loudness_of(channels: &[Vec<f32>], rate: u32, from: f64, to: f64) -> (f64, f64) {
    let mode = ebur128::Mode::I | ebur128::Mode::TRUE_PEAK;
    let mut meter = ebur128::EbuR128::new(channels.len() as u32, rate, mode).unwrap();
    let (a, b) = ((from * rate as f64) as usize, (to * rate as f64) as usize);
    let planes: Vec<&[f32]> = channels
        .iter()
        .map(|c| &c[a.min(c.len())..b.min(c.len())])
        .collect();
    meter.add_frames_planar_f32(&planes).unwrap();
    let peak = (0..channels.len() as u32)
        .map(|c| meter.true_peak(c).unwrap())
        .fold(0.0f64, f64::max);
    (meter.loudness_global().unwrap(), 20.0 * peak.log10())
}

/// Times (seconds) where the audio turns from silence to sound: the first
/// loud sample after at least `gap` seconds of quiet.
pub fn sound_onsets(samples: &[f32], rate: u32, gap: f64) -> Vec<f64> {
    let gap = (gap * rate as f64) as usize;
    let mut quiet = gap;
    let mut onsets = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if s.abs() > 0.05 {
            if quiet >= gap {
                onsets.push(i as f64 / rate as f64);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    onsets
}
