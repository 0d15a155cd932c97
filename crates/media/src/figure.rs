//! Where the presenter stands in a keyed clip, so only that part is scaled
//! and cut out. Vendors render the avatar on a canvas wider than the figure
//! (Elai: a 1080x1080 box in a 1920x1080 frame, the rest flat key colour);
//! scaling and keying the whole frame every frame spends most of the work on
//! pixels that end up transparent.
//!
//! The crop is found from the clip itself, so it holds for any vendor and
//! any request layout: the first frame's figure (every chroma sample that
//! is not certainly key colour) plus a margin, on a grid where the scale to
//! the output is exact. Every later frame is checked outside the crop
//! before it is drawn, and the crop grows (never shrinks) to take in
//! anything that appears there, so no frame ever loses a pixel the keyer
//! would have kept. "Certainly key" is a box around the key's chroma inside
//! the keyer's fully transparent disc (`similarity`), so a pixel left out of
//! the crop is one the keyer makes fully transparent.

use ffmpeg::frame;
use ffmpeg_next as ffmpeg;
use slidecast_core::deck::Rect;

use crate::picture::ChromaKey;

/// The grid of one axis: crop edges fall on multiples of `step` source
/// pixels, which scale to a whole, even number of output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Axis {
    /// The clip's size on this axis.
    source: u32,
    /// The presenter rectangle's size on this axis.
    target: u32,
    step: u32,
}

impl Axis {
    /// `None` when no crop on this axis can scale exactly (the grid would
    /// be coarser than a quarter of the frame).
    fn new(source: u32, target: u32) -> Option<Self> {
        if source == 0 || target == 0 {
            return None;
        }
        // step * target / source must be an even integer, and the step
        // itself even (4:2:0 chroma).
        let step = 2 * source / gcd(target, 2 * source);
        let step = if step.is_multiple_of(2) {
            step
        } else {
            step * 2
        };
        (step <= source / 4).then_some(Axis {
            source,
            target,
            step,
        })
    }

    /// `lo..hi` (source pixels) widened by `margin` and out to the grid.
    fn snap(&self, lo: u32, hi: u32, margin: u32) -> (u32, u32) {
        let lo = lo.saturating_sub(margin) / self.step * self.step;
        let hi = (hi + margin).div_ceil(self.step) * self.step;
        (lo, hi.min(self.source))
    }

    /// A source coordinate on the grid (or the frame's edge) in output
    /// pixels.
    fn scaled(&self, at: u32) -> u32 {
        (u64::from(at) * u64::from(self.target) / u64::from(self.source)) as u32
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Where the figure is in a keyed clip; see the module documentation.
#[derive(Debug, Clone)]
pub struct FigureCrop {
    x: Axis,
    y: Axis,
    /// The key's chroma and how far from it a sample is certainly key.
    key: (u8, u8),
    reach: u8,
    /// Extra source pixels around the figure.
    margin: u32,
    /// The crop in source pixels; `None` until something other than key
    /// colour has been seen.
    crop: Option<Rect>,
}

impl FigureCrop {
    /// A crop for `source`-sized clip frames drawn into a `target`-sized
    /// rectangle with `key`; `None` when cropping cannot help (no grid with
    /// an exact scale, or a keyer that keeps nearly every colour).
    pub fn new(source: (u32, u32), target: (u32, u32), key: &ChromaKey) -> Option<Self> {
        let reach = (255.0 * key.similarity).floor().min(255.0) as u8;
        if reach < 4 {
            return None;
        }
        let x = Axis::new(source.0, target.0)?;
        let y = Axis::new(source.1, target.1).unwrap_or(Axis {
            source: source.1,
            target: target.1,
            step: source.1,
        });
        Some(FigureCrop {
            x,
            y,
            key: (key.u, key.v),
            reach,
            margin: source.0.max(source.1) / 24,
            crop: None,
        })
    }

    /// Look at `frame` (YUV 4:2:0) before it is drawn: returns `true` when
    /// the crop had to grow (the scaler must be made again).
    pub fn update(&mut self, frame: &frame::Video) -> bool {
        let (w, h) = (frame.width() / 2, frame.height() / 2);
        // Every chroma sample outside the crop so far (in chroma samples).
        let inside = self
            .crop
            .map(|r| (r.x / 2, r.y / 2, r.width / 2, r.height / 2));
        let Some((x0, y0, x1, y1)) = self.extent(frame, w, h, inside) else {
            return false;
        };
        // Source pixels of what was found, joined with the crop so far.
        let (mut lo_x, mut lo_y, mut hi_x, mut hi_y) = (x0 * 2, y0 * 2, x1 * 2, y1 * 2);
        if let Some(r) = self.crop {
            lo_x = lo_x.min(r.x);
            lo_y = lo_y.min(r.y);
            hi_x = hi_x.max(r.x + r.width);
            hi_y = hi_y.max(r.y + r.height);
        }
        let (ax, bx) = self.x.snap(lo_x, hi_x, self.margin);
        let (ay, by) = self.y.snap(lo_y, hi_y, self.margin);
        self.crop = Some(Rect::new(ax, ay, bx - ax, by - ay));
        true
    }

    /// The part of the clip frame to scale, or `None` when nothing but key
    /// colour has been seen (nothing to draw).
    pub fn crop(&self) -> Option<Rect> {
        self.crop
    }

    /// Where the crop lands inside `target` (the presenter rectangle the
    /// whole clip frame would fill).
    pub fn placed(&self, target: Rect) -> Option<Rect> {
        self.crop.map(|c| {
            let (x0, x1) = (self.x.scaled(c.x), self.x.scaled(c.x + c.width));
            let (y0, y1) = (self.y.scaled(c.y), self.y.scaled(c.y + c.height));
            Rect::new(target.x + x0, target.y + y0, x1 - x0, y1 - y0)
        })
    }

    /// The bounding box (chroma samples, end exclusive) of every sample
    /// that is not certainly key, leaving out `inside`.
    fn extent(
        &self,
        frame: &frame::Video,
        w: u32,
        h: u32,
        inside: Option<(u32, u32, u32, u32)>,
    ) -> Option<(u32, u32, u32, u32)> {
        let (us, vs) = (frame.stride(1), frame.stride(2));
        let (ud, vd) = (frame.data(1), frame.data(2));
        let (ku, kv, reach) = (self.key.0, self.key.1, self.reach);
        let mut found: Option<(u32, u32, u32, u32)> = None;
        let mut look = |row: u32, from: u32, to: u32| {
            if from >= to {
                return;
            }
            let r = row as usize;
            let u = &ud[r * us + from as usize..r * us + to as usize];
            let v = &vd[r * vs + from as usize..r * vs + to as usize];
            // The common case, no figure here: one vectorizable pass per
            // plane.
            let far =
                |plane: &[u8], key: u8| plane.iter().fold(0u8, |m, &p| m.max(p.abs_diff(key)));
            if far(u, ku) <= reach && far(v, kv) <= reach {
                return;
            }
            let is_figure = |(&u, &v): (&u8, &u8)| u.abs_diff(ku) > reach || v.abs_diff(kv) > reach;
            let first = u.iter().zip(v).position(is_figure).unwrap_or(0) as u32;
            let last = u.iter().zip(v).rposition(is_figure).unwrap_or(0) as u32;
            let (a, b) = (from + first, from + last + 1);
            found = Some(match found {
                None => (a, row, b, row + 1),
                Some((x0, y0, x1, y1)) => (x0.min(a), y0.min(row), x1.max(b), y1.max(row + 1)),
            });
        };
        for row in 0..h {
            match inside {
                Some((ix, iy, iw, ih)) if row >= iy && row < iy + ih => {
                    look(row, 0, ix.min(w));
                    look(row, (ix + iw).min(w), w);
                }
                _ => look(row, 0, w),
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::rgb_to_yuv709;
    use slidecast_core::deck::Rgb;

    fn key() -> ChromaKey {
        ChromaKey::new(Rgb::GREEN, 0.3, 0.1)
    }

    /// A green 1920x1080 frame with a shirt-coloured block at `block`.
    fn frame_with(blocks: &[(u32, u32, u32, u32)]) -> frame::Video {
        let (w, h) = (1920u32, 1080u32);
        let mut f = frame::Video::new(ffmpeg::format::Pixel::YUV420P, w, h);
        let g = rgb_to_yuv709(Rgb::GREEN);
        let shirt = rgb_to_yuv709(Rgb::new(0xE0, 0x66, 0x3A));
        for (plane, value, shirt_value) in [(1, g.u, shirt.u), (2, g.v, shirt.v)] {
            let stride = f.stride(plane);
            let data = f.data_mut(plane);
            for row in 0..(h / 2) as usize {
                for col in 0..(w / 2) as usize {
                    let (x, y) = (col as u32 * 2, row as u32 * 2);
                    let inside = blocks
                        .iter()
                        .any(|&(bx, by, bw, bh)| x >= bx && x < bx + bw && y >= by && y < by + bh);
                    data[row * stride + col] = if inside { shirt_value } else { value };
                }
            }
        }
        f
    }

    #[test]
    fn the_grid_scales_to_whole_even_output_pixels() {
        let a = Axis::new(1920, 576).unwrap();
        assert_eq!(a.step, 20);
        assert_eq!(a.scaled(20), 6);
        let b = Axis::new(1920, 648).unwrap();
        assert_eq!((b.step, b.scaled(b.step)), (160, 54));
        let c = Axis::new(1920, 768).unwrap();
        assert_eq!(
            (c.step, c.scaled(c.step)),
            (10, 4),
            "an odd step is doubled"
        );
        assert_eq!(Axis::new(1920, 577), None, "no useful grid");
    }

    #[test]
    fn the_crop_covers_the_figure_with_a_margin_and_grows_never_shrinks() {
        let mut crop = FigureCrop::new((1920, 1080), (576, 324), &key()).unwrap();
        assert!(!crop.update(&frame_with(&[])), "nothing but key colour");
        assert_eq!(crop.crop(), None);

        assert!(crop.update(&frame_with(&[(700, 200, 500, 880)])));
        let c = crop.crop().unwrap();
        assert!(c.x <= 700 - 40 && c.x + c.width >= 1200 + 40, "{c:?}");
        assert!(c.y <= 200 - 40 && c.y + c.height == 1080, "{c:?}");
        assert!(c.width < 1920 / 2, "{c:?}");
        let placed = crop.placed(Rect::new(100, 50, 576, 324)).unwrap();
        assert_eq!(placed.x, 100 + c.x * 576 / 1920);
        assert_eq!(placed.width, c.width * 576 / 1920);
        assert_eq!(placed.width % 2, 0);
        assert_eq!(placed.width * 1920, c.width * 576, "an exact scale");

        // The same figure again: nothing to do.
        assert!(!crop.update(&frame_with(&[(700, 200, 500, 880)])));
        // A hand reaching far right: the crop grows to take it in.
        assert!(crop.update(&frame_with(&[(1700, 500, 60, 40)])));
        let grown = crop.crop().unwrap();
        assert!(grown.x <= c.x && grown.x + grown.width >= 1760, "{grown:?}");
        // The hand gone again: the crop stays.
        assert!(!crop.update(&frame_with(&[(700, 200, 500, 880)])));
        assert_eq!(crop.crop(), Some(grown));
    }

    #[test]
    fn a_keyer_that_keeps_almost_everything_is_not_cropped() {
        let tight = ChromaKey {
            similarity: 0.01,
            ..key()
        };
        assert!(FigureCrop::new((1920, 1080), (576, 324), &tight).is_none());
    }
}
