//! Mock presenter clips: a real H.264 + AAC MP4 with a drawn figure (head,
//! shoulders, a mouth that moves) over the avatar background colour, and a
//! modulated tone, lasting exactly the requested time. `--provider mock` and
//! the tests use them so the whole pipeline runs without a vendor.

use std::f64::consts::TAU;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use ffmpeg::{format, frame, Dictionary};
use ffmpeg_next as ffmpeg;
use slidecast_core::deck::Rgb;

use crate::error::MediaError;
use crate::picture::{rgb_to_yuv709, Yuv, Yuv420};
use slidecast_av::compat;
use slidecast_av::encode::{AudioWriter, H264Writer, VideoSettings};

/// What a mock clip looks and sounds like.
#[derive(Debug, Clone, PartialEq)]
pub struct MockClip {
    pub duration: Duration,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// The flat colour behind the figure (a vendor's avatar background).
    pub background: Rgb,
    /// The figure's shirt colour (the bulk of the figure).
    pub figure: Rgb,
    /// Tone frequency of the "voice".
    pub tone_hz: f64,
    /// The voice's peak level (0..=1 of full scale; 0.3 by default, about
    /// -21 LUFS), to stand in for a quiet or a loud vendor.
    pub voice_level: f64,
    /// Audio sample rate (44.1 kHz mono by default, so the composer's
    /// resampling to the deck's 48 kHz stereo is exercised).
    pub sample_rate: u32,
    pub with_audio: bool,
    pub with_video: bool,
    /// Write a VP9 WebM with an alpha channel (transparent around the
    /// figure), as vendors that render transparency deliver. Used when the
    /// path ends in `.webm`; such clips carry no audio.
    pub transparent: bool,
    /// Where the figure stands, `(left, top, width, height)` in pixels of
    /// the frame: a vendor renders the avatar where the request places it
    /// on a wider canvas (Elai: a 1080x1080 box in a 1920x1080 frame). The
    /// figure is drawn inside the box only; `None` fills the frame.
    pub figure_box: Option<(u32, u32, u32, u32)>,
    /// A raised hand, anywhere in the frame (outside the figure's box
    /// too), for a while.
    pub gesture: Option<Gesture>,
}

/// A skin-coloured hand (a block) raised for a while: a gesture can reach
/// out of the part of the frame where the avatar stood so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Gesture {
    pub during: Range<Duration>,
    /// `(left, top, width, height)` in pixels of the frame.
    pub hand: (u32, u32, u32, u32),
}

/// Skin tone of the figure's head.
pub const SKIN: Rgb = Rgb::new(0xF1, 0xC2, 0x7D);
/// Eyes and mouth.
const DARK: Rgb = Rgb::new(0x30, 0x20, 0x20);

impl MockClip {
    /// A clip of `duration` at `width` x `height`, 25 fps, green background,
    /// orange figure, 220 Hz voice.
    pub fn new(duration: Duration, width: u32, height: u32) -> Self {
        MockClip {
            duration,
            width: width.max(2) & !1,
            height: height.max(2) & !1,
            fps: 25,
            background: Rgb::GREEN,
            figure: Rgb::new(0xE0, 0x66, 0x3A),
            tone_hz: 220.0,
            voice_level: 0.3,
            sample_rate: 44_100,
            with_audio: true,
            with_video: true,
            transparent: false,
            figure_box: None,
            gesture: None,
        }
    }

    /// The figure's box: [`figure_box`](Self::figure_box) clamped to the
    /// frame, or the whole frame.
    fn figure_area(&self) -> Area {
        let (x, y, w, h) = self.figure_box.unwrap_or((0, 0, self.width, self.height));
        let x = x.min(self.width.saturating_sub(2));
        let y = y.min(self.height.saturating_sub(2));
        Area {
            x: f64::from(x),
            y: f64::from(y),
            w: f64::from(w.clamp(2, self.width - x)),
            h: f64::from(h.clamp(2, self.height - y)),
        }
    }

    /// A point (fractions of the figure box's width and height) that
    /// always shows the figure's shirt colour.
    pub const FIGURE_POINT: (f64, f64) = (0.5, 0.9);
    /// A point (fractions of the figure box's width and height) that always
    /// shows the background colour.
    pub const BACKGROUND_POINT: (f64, f64) = (0.08, 0.1);

    /// Write the clip to `path` (an `.mp4`, or a `.webm` when
    /// `transparent`), via a temporary file renamed on
    /// success. Blocking: run it off the async runtime.
    pub fn write(&self, path: &Path) -> Result<(), MediaError> {
        crate::init();
        if !self.with_audio && !self.with_video {
            return Err(MediaError::msg("a mock clip needs audio or video"));
        }
        let staged = slidecast_core::atomic::AtomicFile::new(path);
        self.write_to(staged.temp_path())?;
        staged.commit().map_err(MediaError::io(path))
    }

    fn write_to(&self, tmp: &Path) -> Result<(), MediaError> {
        let secs = self.duration.as_secs_f64();
        let frames = (secs * f64::from(self.fps)).round() as u64;
        let samples = (secs * f64::from(self.sample_rate)).round() as u64;
        let container = if self.transparent { "webm" } else { "mp4" };
        let mut octx = format::output_as(tmp, container)
            .map_err(MediaError::ff(format!("create {}", tmp.display())))?;
        let settings = VideoSettings {
            width: self.width,
            height: self.height,
            fps: self.fps,
            preset: "ultrafast".into(),
            crf: 26,
            threads: 0,
            keyframe_interval: None,
        };
        let pixel = if self.transparent {
            format::Pixel::YUVA420P
        } else {
            format::Pixel::YUV420P
        };
        let mut video = match (self.with_video, self.transparent) {
            (false, _) => None,
            (true, false) => Some(H264Writer::add(&mut octx, &settings)?),
            (true, true) => {
                let mut opts = Dictionary::new();
                opts.set("deadline", "realtime");
                opts.set("cpu-used", "8");
                opts.set("crf", "30");
                opts.set("b", "0");
                Some(H264Writer::add_with(
                    &mut octx,
                    &settings,
                    "libvpx-vp9",
                    pixel,
                    opts,
                )?)
            }
        };
        let mut audio = if self.with_audio && !self.transparent {
            Some(AudioWriter::add(
                &mut octx,
                "aac",
                self.sample_rate,
                compat::mono(),
                96_000,
            )?)
        } else {
            None
        };
        let mut opts = Dictionary::new();
        if !self.transparent {
            opts.set("movflags", "+faststart");
        }
        octx.write_header_with(opts)
            .map_err(MediaError::ff("write clip header"))?;
        if let Some(v) = video.as_mut() {
            v.header_written(&octx);
        }
        if let Some(a) = audio.as_mut() {
            a.header_written(&octx);
        }

        let base = self.draw_base();
        let alpha = self.transparent.then(|| self.figure_alpha());
        let mut out = frame::Video::new(pixel, self.width, self.height);
        let chunk = audio.as_ref().map_or(1024, |a| a.frame_size().max(1)) as u64;
        let mut samples_done = 0u64;
        let mut pcm: Vec<i16> = Vec::with_capacity(chunk as usize);
        for i in 0..frames {
            if let Some(v) = video.as_mut() {
                compat::make_writable(&mut out).map_err(MediaError::ff("frame buffer"))?;
                base.copy_into(&mut out);
                if let Some(alpha) = &alpha {
                    let (w, stride) = (self.width as usize, out.stride(3));
                    for (y, row) in alpha.chunks_exact(w).enumerate() {
                        out.data_mut(3)[y * stride..y * stride + w].copy_from_slice(row);
                    }
                }
                self.draw_mouth(&mut out, i as f64 / f64::from(self.fps));
                self.draw_gesture(&mut out, i as f64 / f64::from(self.fps));
                v.write(&mut octx, &mut out, i as i64)?;
            }
            // Keep audio level with the video so the muxer interleaves.
            let audio_due =
                ((i + 1) * u64::from(self.sample_rate) / u64::from(self.fps)).min(samples);
            if let Some(a) = audio.as_mut() {
                while samples_done + chunk <= audio_due {
                    self.tone(samples_done, chunk, &mut pcm);
                    a.write_interleaved_i16(&mut octx, &pcm)?;
                    samples_done += chunk;
                }
            }
        }
        if let Some(a) = audio.as_mut() {
            while samples_done < samples {
                let n = chunk.min(samples - samples_done);
                self.tone(samples_done, n, &mut pcm);
                a.write_interleaved_i16(&mut octx, &pcm)?;
                samples_done += n;
            }
            a.finish(&mut octx)?;
        }
        if let Some(v) = video.as_mut() {
            v.finish(&mut octx)?;
        }
        octx.write_trailer()
            .map_err(MediaError::ff("write clip trailer"))
    }

    /// `count` samples of the voice tone from sample `from`: a tone whose
    /// loudness moves like syllables.
    fn tone(&self, from: u64, count: u64, out: &mut Vec<i16>) {
        out.clear();
        let rate = f64::from(self.sample_rate);
        out.extend((from..from + count).map(|n| {
            let t = n as f64 / rate;
            let envelope = 0.55 + 0.45 * (TAU * 3.0 * t).sin();
            let level = self.voice_level.clamp(0.0, 1.0);
            (level * envelope * (TAU * self.tone_hz * t).sin() * 32767.0) as i16
        }));
    }

    /// The still part of the picture: background, shoulders, head, eyes.
    fn draw_base(&self) -> Yuv420 {
        let a = self.figure_area();
        let mut pic = Yuv420::filled(self.width, self.height, rgb_to_yuv709(self.background));
        let shirt = rgb_to_yuv709(self.figure);
        let skin = rgb_to_yuv709(SKIN);
        let dark = rgb_to_yuv709(DARK);
        // Shoulders (an ellipse rising from the box's bottom edge), head, eyes.
        for e in a.figure() {
            let c = match e.part {
                Part::Shirt => shirt,
                Part::Skin => skin,
            };
            fill_ellipse(&mut pic, &a, e.centre, e.radii, c);
        }
        for dx in [-0.07, 0.07] {
            fill_ellipse(
                &mut pic,
                &a,
                (a.x + 0.5 * a.w + dx * a.h, a.y + 0.37 * a.h),
                (0.025 * a.h, 0.03 * a.h),
                dark,
            );
        }
        pic
    }

    /// Opacity of the figure (shoulders and head) for transparent clips.
    fn figure_alpha(&self) -> Vec<u8> {
        let a = self.figure_area();
        let shapes = a.figure();
        let mut alpha = Vec::with_capacity((self.width * self.height) as usize);
        for y in 0..self.height {
            for x in 0..self.width {
                let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
                let inside = a.contains(px, py)
                    && shapes.iter().any(|e| {
                        let (c, r) = (e.centre, e.radii);
                        let (dx, dy) = ((px - c.0) / r.0, (py - c.1) / r.1);
                        dx * dx + dy * dy <= 1.0
                    });
                alpha.push(if inside { 255 } else { 0 });
            }
        }
        alpha
    }

    /// The mouth, opening and closing with the voice's syllables.
    fn draw_gesture(&self, out: &mut frame::Video, t: f64) {
        let Some(Gesture {
            during,
            hand: (x, y, w, h),
        }) = &self.gesture
        else {
            return;
        };
        if !during.contains(&Duration::from_secs_f64(t)) {
            return;
        }
        let skin = rgb_to_yuv709(SKIN);
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        let planes: &[(usize, u8, u32)] = if self.transparent {
            &[(0, skin.y, 1), (1, skin.u, 2), (2, skin.v, 2), (3, 255, 1)]
        } else {
            &[(0, skin.y, 1), (1, skin.u, 2), (2, skin.v, 2)]
        };
        for &(plane, value, div) in planes {
            let stride = out.stride(plane);
            let data = out.data_mut(plane);
            for row in (y / div)..(y1 / div) {
                let at = row as usize * stride;
                data[at + (x / div) as usize..at + (x1 / div) as usize].fill(value);
            }
        }
    }

    fn draw_mouth(&self, out: &mut frame::Video, t: f64) {
        let a = self.figure_area();
        let open = 0.5 + 0.5 * (TAU * 3.0 * t).sin();
        let (cx, cy) = (a.x + 0.5 * a.w, a.y + 0.52 * a.h);
        let (rx, ry) = (0.07 * a.h, (0.008 + 0.035 * open) * a.h);
        let dark = rgb_to_yuv709(DARK);
        let (x0, x1) = (
            (cx - rx).max(0.0) as usize,
            ((cx + rx) as usize).min(self.width as usize),
        );
        let (y0, y1) = (
            (cy - ry).max(0.0) as usize,
            ((cy + ry) as usize).min(self.height as usize),
        );
        let stride = out.stride(0);
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = ((x as f64 + 0.5 - cx) / rx, (y as f64 + 0.5 - cy) / ry);
                if dx * dx + dy * dy <= 1.0 {
                    out.data_mut(0)[y * stride + x] = dark.y;
                }
            }
        }
    }
}

/// The figure's box in the frame, pixels.
struct Area {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// Which colour a part of the figure is.
enum Part {
    Shirt,
    Skin,
}

/// One ellipse of the figure.
struct Ellipse {
    centre: (f64, f64),
    radii: (f64, f64),
    part: Part,
}

impl Area {
    fn contains(&self, px: f64, py: f64) -> bool {
        px >= self.x && px < self.x + self.w && py >= self.y && py < self.y + self.h
    }

    /// The figure's shoulders and head.
    fn figure(&self) -> [Ellipse; 2] {
        let (x, y, w, h) = (self.x, self.y, self.w, self.h);
        [
            Ellipse {
                centre: (x + 0.5 * w, y + 1.1 * h),
                radii: (0.34 * w, 0.42 * h),
                part: Part::Shirt,
            },
            Ellipse {
                centre: (x + 0.5 * w, y + 0.42 * h),
                radii: (0.2 * h, 0.24 * h),
                part: Part::Skin,
            },
        ]
    }
}

/// Fill the part of an ellipse that lies in `area`.
fn fill_ellipse(pic: &mut Yuv420, area: &Area, centre: (f64, f64), radii: (f64, f64), c: Yuv) {
    let (w, h) = (pic.width as usize, pic.height as usize);
    let inside = |x: f64, y: f64| {
        let (dx, dy) = ((x - centre.0) / radii.0, (y - centre.1) / radii.1);
        area.contains(x, y) && dx * dx + dy * dy <= 1.0
    };
    // Only the rows and columns the ellipse and the area can cover.
    let x0 = (centre.0 - radii.0).max(area.x).max(0.0) as usize;
    let x1 = ((centre.0 + radii.0).min(area.x + area.w).ceil() as usize).min(w);
    let y0 = (centre.1 - radii.1).max(area.y).max(0.0) as usize;
    let y1 = ((centre.1 + radii.1).min(area.y + area.h).ceil() as usize).min(h);
    for y in y0..y1 {
        for x in x0..x1 {
            if inside(x as f64 + 0.5, y as f64 + 0.5) {
                pic.y[y * w + x] = c.y;
            }
        }
    }
    let cw = w / 2;
    for y in y0 / 2..y1.div_ceil(2).min(h / 2) {
        for x in x0 / 2..x1.div_ceil(2).min(cw) {
            if inside(x as f64 * 2.0 + 1.0, y as f64 * 2.0 + 1.0) {
                pic.u[y * cw + x] = c.u;
                pic.v[y * cw + x] = c.v;
            }
        }
    }
}

/// Write a mock clip of `duration` at `width` x `height` and `fps` with the
/// default look (see [`MockClip::new`]) to `path`.
pub fn write(
    path: &Path,
    duration: Duration,
    width: u32,
    height: u32,
    fps: u32,
) -> Result<(), MediaError> {
    MockClip {
        fps: fps.max(1),
        ..MockClip::new(duration, width, height)
    }
    .write(path)
}
