//! Captions drawn into the picture, for players that ignore subtitle
//! tracks: white text on a translucent dark box, centred low in the frame,
//! moved sideways (or to the top) so it never covers the presenter.
//!
//! Each cue is drawn once into a small picture with an alpha channel and
//! blended into the frames it shows on; the frames' fades apply to it.

use std::ops::Range;
use std::path::PathBuf;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use ffmpeg::frame;
use ffmpeg_next as ffmpeg;
use slidecast_core::deck::{Rect, Rgb};

use crate::error::MediaError;
use crate::picture::rgb_to_yuv709;

/// A cue to draw: when it shows (from its segment's start) and its text,
/// already wrapped.
pub type TimedText = (Range<std::time::Duration>, String);

/// The font used unless the style names another (Debian's
/// `fonts-dejavu-core`).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// How burned-in captions look.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CaptionStyle {
    /// A TrueType or OpenType font file.
    pub font: PathBuf,
    /// Text height as a share of the frame height.
    pub size: f32,
    /// Text colour.
    pub text: Rgb,
    /// Box colour behind the text.
    pub box_colour: Rgb,
    /// The box's opacity, 0..=1.
    pub box_opacity: f32,
}

impl Default for CaptionStyle {
    fn default() -> Self {
        CaptionStyle {
            font: PathBuf::from(DEFAULT_FONT),
            size: 0.045,
            text: Rgb::new(0xFF, 0xFF, 0xFF),
            box_colour: Rgb::new(0x10, 0x10, 0x10),
            box_opacity: 0.7,
        }
    }
}

impl CaptionStyle {
    /// This style with its text `size` as a share of the frame height.
    pub fn size(mut self, size: f32) -> Self {
        self.size = size;
        self
    }

    /// This style with the font at `path`.
    pub fn font(mut self, path: impl Into<PathBuf>) -> Self {
        self.font = path.into();
        self
    }
}

/// A style with its font loaded, ready to draw cues.
pub struct CaptionArt {
    style: CaptionStyle,
    font: FontVec,
}

impl std::fmt::Debug for CaptionArt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptionArt")
            .field("style", &self.style)
            .finish()
    }
}

/// One cue drawn and placed: its frames and its pixels (even position and
/// size, so the chroma planes line up).
pub struct Sprite {
    pub frames: Range<u64>,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    /// Y and alpha at full resolution, U, V and alpha at half.
    luma: Vec<u8>,
    alpha: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    chroma_alpha: Vec<u8>,
}

impl CaptionArt {
    /// Load the style's font; a missing or unreadable font names the file.
    pub fn new(style: CaptionStyle) -> Result<Self, MediaError> {
        let bytes = std::fs::read(&style.font).map_err(|e| {
            MediaError::bad_input(
                &style.font,
                format!(
                    "caption font: {e} (apt-get install fonts-dejavu-core, or give another font)"
                ),
            )
        })?;
        let font = FontVec::try_from_vec(bytes)
            .map_err(|e| MediaError::bad_input(&style.font, format!("not a usable font: {e}")))?;
        Ok(CaptionArt { style, font })
    }

    /// Draw `text` (one or two lines) for `frames` of a `width` x `height`
    /// frame, keeping clear of `presenter`.
    pub fn sprite(
        &self,
        text: &str,
        frames: Range<u64>,
        width: u32,
        height: u32,
        presenter: Option<Rect>,
    ) -> Sprite {
        let px = (self.style.size * height as f32).max(8.0);
        let scale = PxScale::from(px);
        let font = self.font.as_scaled(scale);
        // Each line laid out once: its glyphs at their pen positions (from
        // the line's start, kerned) and its width.
        let lines: Vec<(Vec<(ab_glyph::GlyphId, f32)>, f32)> = text
            .lines()
            .map(|line| {
                let mut pen = 0.0;
                let mut last = None;
                let glyphs = line
                    .chars()
                    .map(|c| {
                        let id = font.glyph_id(c);
                        if let Some(prev) = last {
                            pen += font.kern(prev, id);
                        }
                        let at = pen;
                        pen += font.h_advance(id);
                        last = Some(id);
                        (id, at)
                    })
                    .collect();
                (glyphs, pen)
            })
            .collect();
        let line_height = font.height() + font.line_gap();
        let (pad_x, pad_y) = (0.45 * px, 0.25 * px);
        let text_width = lines.iter().map(|l| l.1).fold(0.0f32, f32::max);
        let even = |v: f32| ((v.ceil() as u32) + 1) & !1;
        let box_w = even(text_width + 2.0 * pad_x).min(width & !1);
        let box_h = even(line_height * lines.len() as f32 + 2.0 * pad_y).min(height & !1);
        let (x, y) = place(box_w, box_h, width, height, presenter);

        // Coverage of text and box, then colour: RGB over the box.
        let (w, h) = (box_w as usize, box_h as usize);
        let mut coverage = vec![0f32; w * h];
        for (i, (glyphs, line_width)) in lines.iter().enumerate() {
            let line_x = (box_w as f32 - line_width) / 2.0;
            let baseline = pad_y + font.ascent() + line_height * i as f32;
            for &(id, at) in glyphs {
                let glyph =
                    id.with_scale_and_position(scale, ab_glyph::point(line_x + at, baseline));
                if let Some(outlined) = self.font.outline_glyph(glyph) {
                    let bounds = outlined.px_bounds();
                    outlined.draw(|gx, gy, c| {
                        let (px, py) = (
                            bounds.min.x as i64 + gx as i64,
                            bounds.min.y as i64 + gy as i64,
                        );
                        if px >= 0 && py >= 0 && (px as usize) < w && (py as usize) < h {
                            let at = py as usize * w + px as usize;
                            coverage[at] = coverage[at].max(c.min(1.0));
                        }
                    });
                }
            }
        }
        let text = rgb_to_yuv709(self.style.text);
        let bg = rgb_to_yuv709(self.style.box_colour);
        let box_alpha = self.style.box_opacity.clamp(0.0, 1.0);
        let mix =
            |a: u8, b: u8, t: f32| (f32::from(a) * (1.0 - t) + f32::from(b) * t).round() as u8;
        let mut luma = vec![0u8; w * h];
        let mut alpha = vec![0u8; w * h];
        for i in 0..w * h {
            let c = coverage[i];
            luma[i] = mix(bg.y, text.y, c);
            alpha[i] = ((box_alpha + c * (1.0 - box_alpha)) * 255.0).round() as u8;
        }
        let (cw, ch) = (w / 2, h / 2);
        let mut u = vec![0u8; cw * ch];
        let mut v = vec![0u8; cw * ch];
        let mut chroma_alpha = vec![0u8; cw * ch];
        for cy in 0..ch {
            for cx in 0..cw {
                let cov = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .iter()
                    .map(|(dx, dy)| coverage[(2 * cy + dy) * w + 2 * cx + dx])
                    .sum::<f32>()
                    / 4.0;
                u[cy * cw + cx] = mix(bg.u, text.u, cov);
                v[cy * cw + cx] = mix(bg.v, text.v, cov);
                chroma_alpha[cy * cw + cx] =
                    ((box_alpha + cov * (1.0 - box_alpha)) * 255.0).round() as u8;
            }
        }
        Sprite {
            frames,
            x,
            y,
            width: box_w,
            height: box_h,
            luma,
            alpha,
            u,
            v,
            chroma_alpha,
        }
    }
}

/// Where a `box_w` x `box_h` caption box goes in a `width` x `height`
/// frame: centred near the bottom; beside the presenter when the presenter
/// reaches into that band (on the wider free side, if the box fits there);
/// else near the top. Even coordinates.
fn place(box_w: u32, box_h: u32, width: u32, height: u32, presenter: Option<Rect>) -> (u32, u32) {
    let margin = height / 20;
    let bottom = height.saturating_sub(margin + box_h) & !1;
    let centred = |from: u32, to: u32| {
        ((from + to.saturating_sub(from).saturating_sub(box_w) / 2) & !1)
            .min(width.saturating_sub(box_w) & !1)
    };
    let Some(p) = presenter else {
        return (centred(0, width), bottom);
    };
    let overlaps_band = p.y < bottom + box_h && p.y + p.height > bottom;
    let overlaps_centre = {
        let x = centred(0, width);
        p.x < x + box_w && p.x + p.width > x
    };
    if !overlaps_band || !overlaps_centre {
        return (centred(0, width), bottom);
    }
    let left = p.x;
    let right = width.saturating_sub(p.x + p.width);
    let gap = margin;
    if left >= right && left >= box_w + 2 * gap {
        return (centred(gap, p.x - gap), bottom);
    }
    if right > left && right >= box_w + 2 * gap {
        return (centred(p.x + p.width + gap, width - gap), bottom);
    }
    (centred(0, width), margin & !1)
}

impl Sprite {
    /// Where it is drawn: `(x, y, width, height)`, even.
    pub fn area(&self) -> (u32, u32, u32, u32) {
        (self.x, self.y, self.width, self.height)
    }

    /// Blend the caption into `frame` (YUV 4:2:0).
    pub fn draw(&self, frame: &mut frame::Video) {
        let blend = |dst: &mut u8, src: u8, a: u8| {
            let a = u32::from(a);
            *dst = ((u32::from(*dst) * (255 - a) + u32::from(src) * a + 127) / 255) as u8;
        };
        let (x, y, w, h) = (
            self.x as usize,
            self.y as usize,
            self.width as usize,
            self.height as usize,
        );
        let stride = frame.stride(0);
        let plane = frame.data_mut(0);
        for row in 0..h {
            let line = &mut plane[(y + row) * stride + x..(y + row) * stride + x + w];
            for (col, dst) in line.iter_mut().enumerate() {
                blend(dst, self.luma[row * w + col], self.alpha[row * w + col]);
            }
        }
        let (cx, cy, cw, ch) = (x / 2, y / 2, w / 2, h / 2);
        for (index, source) in [(1, &self.u), (2, &self.v)] {
            let stride = frame.stride(index);
            let plane = frame.data_mut(index);
            for row in 0..ch {
                let line = &mut plane[(cy + row) * stride + cx..(cy + row) * stride + cx + cw];
                for (col, dst) in line.iter_mut().enumerate() {
                    blend(
                        dst,
                        source[row * cw + col],
                        self.chroma_alpha[row * cw + col],
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_keeps_clear_of_the_presenter() {
        // No presenter: centred at the bottom.
        assert_eq!(place(400, 100, 1920, 1080, None), (760, 926));
        // A presenter bottom right: the box moves left of it.
        let pip = Rect {
            x: 1300,
            y: 600,
            width: 580,
            height: 440,
        };
        let (x, y) = place(800, 100, 1920, 1080, Some(pip));
        assert!(x + 800 <= 1300 && y == 926, "{x},{y}");
        // A presenter on the right half at full height (side by side):
        // under the slide, on the left.
        let side = Rect {
            x: 960,
            y: 0,
            width: 960,
            height: 1080,
        };
        let (x, _) = place(800, 100, 1920, 1080, Some(side));
        assert!(x + 800 <= 960, "{x}");
        // A presenter across the bottom middle: the top.
        let wide = Rect {
            x: 300,
            y: 700,
            width: 1320,
            height: 380,
        };
        assert_eq!(place(800, 100, 1920, 1080, Some(wide)).1, 54);
    }
}
