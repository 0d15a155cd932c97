//! Planar YUV 4:2:0 pictures in memory and the pixel work on them: colour
//! conversion of flat colours, letterbox fitting, avatar cut-outs (rectangle,
//! circle, chroma key, clip alpha) and fades. Everything is BT.709 limited
//! range, the colour space of the output.

use std::io::{Read, Write};
use std::path::Path;

use ffmpeg::frame;
use ffmpeg_next as ffmpeg;
use slidecast_core::deck::{Rect, Rgb};

use crate::error::MediaError;

/// A BT.709 limited-range YCbCr triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuv {
    pub y: u8,
    pub u: u8,
    pub v: u8,
}

/// Convert an sRGB colour to BT.709 limited-range YCbCr (the same matrix the
/// background images are converted with).
pub fn rgb_to_yuv709(c: Rgb) -> Yuv {
    let (r, g, b) = (
        f64::from(c.r) / 255.0,
        f64::from(c.g) / 255.0,
        f64::from(c.b) / 255.0,
    );
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let cb = (b - y) / 1.8556;
    let cr = (r - y) / 1.5748;
    let q = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    Yuv {
        y: q(16.0 + 219.0 * y),
        u: q(128.0 + 224.0 * cb),
        v: q(128.0 + 224.0 * cr),
    }
}

/// Convert BT.709 limited-range YCbCr back to sRGB (for checks and tests).
pub fn yuv709_to_rgb(p: Yuv) -> Rgb {
    let y = (f64::from(p.y) - 16.0) / 219.0;
    let cb = (f64::from(p.u) - 128.0) / 224.0;
    let cr = (f64::from(p.v) - 128.0) / 224.0;
    let r = y + 1.5748 * cr;
    let g = y - 0.1873 * cb - 0.4681 * cr;
    let b = y + 1.8556 * cb;
    let q = |v: f64| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb::new(q(r), q(g), q(b))
}

/// `inner` (width x height) scaled to fit `area` keeping its aspect ratio,
/// centred, with even sizes and offsets (4:2:0 chroma).
pub fn fit_rect(width: u32, height: u32, area: Rect) -> Rect {
    if width == 0 || height == 0 || area.width < 2 || area.height < 2 {
        return Rect::new(
            area.x & !1,
            area.y & !1,
            area.width.max(2) & !1,
            area.height.max(2) & !1,
        );
    }
    let scale =
        (f64::from(area.width) / f64::from(width)).min(f64::from(area.height) / f64::from(height));
    let w = ((f64::from(width) * scale).round() as u32).clamp(2, area.width) & !1;
    let h = ((f64::from(height) * scale).round() as u32).clamp(2, area.height) & !1;
    let x = (area.x + (area.width - w) / 2) & !1;
    let y = (area.y + (area.height - h) / 2) & !1;
    Rect::new(x, y, w, h)
}

/// A YUV 4:2:0 picture with tightly packed planes (even width and height).
#[derive(Debug, Clone, PartialEq)]
pub struct Yuv420 {
    pub width: u32,
    pub height: u32,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Yuv420 {
    /// A picture filled with one colour.
    pub fn filled(width: u32, height: u32, colour: Yuv) -> Self {
        let luma = (width * height) as usize;
        let chroma = ((width / 2) * (height / 2)) as usize;
        Yuv420 {
            width,
            height,
            y: vec![colour.y; luma],
            u: vec![colour.u; chroma],
            v: vec![colour.v; chroma],
        }
    }

    /// Bytes of a raw picture of this size.
    pub fn raw_len(width: u32, height: u32) -> usize {
        (width * height) as usize + 2 * ((width / 2) * (height / 2)) as usize
    }

    /// Copy a YUV420P (or YUVA420P) frame into this picture at (x, y).
    pub fn blit(&mut self, src: &frame::Video, x: u32, y: u32) {
        let (w, h) = (
            src.width().min(self.width - x),
            src.height().min(self.height - y),
        );
        copy_plane(
            src.data(0),
            src.stride(0),
            &mut self.y,
            self.width as usize,
            x,
            y,
            w,
            h,
        );
        let (cw, ch) = (w / 2, h / 2);
        let cs = (self.width / 2) as usize;
        copy_plane(
            src.data(1),
            src.stride(1),
            &mut self.u,
            cs,
            x / 2,
            y / 2,
            cw,
            ch,
        );
        copy_plane(
            src.data(2),
            src.stride(2),
            &mut self.v,
            cs,
            x / 2,
            y / 2,
            cw,
            ch,
        );
    }

    /// Copy the whole picture into a YUV420P frame of the same size.
    pub fn copy_into(&self, dst: &mut frame::Video) {
        let rows = [
            (&self.y, self.width as usize, self.height as usize),
            (
                &self.u,
                (self.width / 2) as usize,
                (self.height / 2) as usize,
            ),
            (
                &self.v,
                (self.width / 2) as usize,
                (self.height / 2) as usize,
            ),
        ];
        for (plane, (src, w, h)) in rows.into_iter().enumerate() {
            let stride = dst.stride(plane);
            let data = dst.data_mut(plane);
            for row in 0..h {
                data[row * stride..row * stride + w].copy_from_slice(&src[row * w..row * w + w]);
            }
        }
    }

    /// Copy the even-aligned rectangle `(x, y, width, height)` of the
    /// picture into the same place of a YUV420P frame of the same size.
    pub fn copy_rect_into(
        &self,
        dst: &mut frame::Video,
        (x, y, width, height): (u32, u32, u32, u32),
    ) {
        let full = self.width as usize;
        let planes = [
            (&self.y, full, 1usize),
            (&self.u, full / 2, 2),
            (&self.v, full / 2, 2),
        ];
        for (plane, (src, src_stride, div)) in planes.into_iter().enumerate() {
            let (px, py) = (x as usize / div, y as usize / div);
            let (w, h) = (width as usize / div, height as usize / div);
            let stride = dst.stride(plane);
            let data = dst.data_mut(plane);
            for row in py..py + h {
                data[row * stride + px..row * stride + px + w]
                    .copy_from_slice(&src[row * src_stride + px..row * src_stride + px + w]);
            }
        }
    }

    /// Write the raw planes (Y, U, V) to `path`.
    pub fn write_raw(&self, path: &Path) -> Result<(), MediaError> {
        let file = std::fs::File::create(path).map_err(MediaError::io(path))?;
        let mut out = std::io::BufWriter::new(file);
        for plane in [&self.y, &self.u, &self.v] {
            out.write_all(plane).map_err(MediaError::io(path))?;
        }
        out.flush().map_err(MediaError::io(path))
    }

    /// Read raw planes written by [`Yuv420::write_raw`].
    pub fn read_raw(path: &Path, width: u32, height: u32) -> Result<Self, MediaError> {
        let mut pic = Yuv420::filled(width, height, Yuv { y: 0, u: 0, v: 0 });
        let mut file = std::fs::File::open(path).map_err(MediaError::io(path))?;
        for plane in [&mut pic.y, &mut pic.u, &mut pic.v] {
            file.read_exact(plane).map_err(MediaError::io(path))?;
        }
        Ok(pic)
    }
}

#[allow(clippy::too_many_arguments)]
fn copy_plane(
    src: &[u8],
    src_stride: usize,
    dst: &mut [u8],
    dst_stride: usize,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
) {
    let (x, y, w) = (x as usize, y as usize, w as usize);
    for row in 0..h as usize {
        let s = &src[row * src_stride..row * src_stride + w];
        let d = (y + row) * dst_stride + x;
        dst[d..d + w].copy_from_slice(s);
    }
}

/// FFmpeg `chromakey` parameters resolved to the clip's YUV values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChromaKey {
    /// The key colour's luma.
    pub y: u8,
    /// The key colour's chroma.
    pub u: u8,
    /// The key colour's chroma.
    pub v: u8,
    /// How close to the key a pixel must be to vanish (0..=1).
    pub similarity: f32,
    /// Width of the soft edge above `similarity` (0..=1).
    pub blend: f32,
}

impl ChromaKey {
    /// The key for `colour`, with `similarity` and `blend` as a deck gives
    /// them.
    pub fn new(colour: Rgb, similarity: f32, blend: f32) -> Self {
        let k = rgb_to_yuv709(colour);
        ChromaKey {
            y: k.y,
            u: k.u,
            v: k.v,
            similarity,
            blend,
        }
    }

    /// Opacity (0..=255) of a pixel with chroma (u, v), as FFmpeg's
    /// `chromakey` filter computes it (per pixel instead of over a 3x3
    /// neighbourhood).
    fn alpha(&self, u: u8, v: u8) -> u8 {
        let du = f32::from(u) - f32::from(self.u);
        let dv = f32::from(v) - f32::from(self.v);
        let diff = ((du * du + dv * dv) / (255.0 * 255.0 * 2.0)).sqrt();
        if self.blend > 0.0001 {
            (((diff - self.similarity) / self.blend).clamp(0.0, 1.0) * 255.0).round() as u8
        } else if diff > self.similarity {
            255
        } else {
            0
        }
    }
}

/// A key's answers for every chroma pair, computed once per segment so the
/// per-pixel work is a table lookup: the opacity, and the despilled chroma
/// of a fully opaque pixel. Both depend on (U, V) alone (despill compares
/// green with red and blue, and luma cancels out of every difference).
struct KeyTables {
    alpha: Box<[u8]>,
    opaque_chroma: Box<[(u8, u8)]>,
}

impl KeyTables {
    fn new(key: ChromaKey) -> Self {
        let mut alpha = vec![0u8; 1 << 16].into_boxed_slice();
        let mut opaque_chroma = vec![(0u8, 0u8); 1 << 16].into_boxed_slice();
        for u in 0..=255u8 {
            for v in 0..=255u8 {
                let i = KeyTables::index(u, v);
                alpha[i] = key.alpha(u, v);
                let px = Yuv { y: key.y, u, v };
                let (_, fu, fv) = despill(foreground(px, 1.0, key));
                let q = |f: f32| f.round().clamp(16.0, 240.0) as u8;
                opaque_chroma[i] = (q(fu), q(fv));
            }
        }
        KeyTables {
            alpha,
            opaque_chroma,
        }
    }

    fn index(u: u8, v: u8) -> usize {
        usize::from(u) << 8 | usize::from(v)
    }
}

/// How the avatar is cut out and where it goes, fixed for one segment.
pub struct Overlay {
    /// Where the scaled avatar goes, in output pixels.
    pub rect: Rect,
    /// Static opacity at luma and chroma resolution (a circle), or `None`
    /// for the whole rectangle.
    mask: Option<(Vec<u8>, Vec<u8>)>,
    key: Option<ChromaKey>,
    tables: Option<Box<KeyTables>>,
    /// Scratch opacity buffers, reused across frames.
    alpha_y: Vec<u8>,
    alpha_c: Vec<u8>,
    /// Scratch keyed chroma (U, V), reused across frames.
    keyed_chroma: Vec<(u8, u8)>,
}

impl Overlay {
    /// An overlay at `rect`, optionally masked to an inscribed soft-edged
    /// circle and keyed.
    pub fn new(rect: Rect, circle: bool, key: Option<ChromaKey>) -> Self {
        let mask = circle.then(|| circle_mask(rect.width, rect.height));
        Overlay {
            rect,
            mask,
            key,
            tables: key.map(|k| Box::new(KeyTables::new(k))),
            alpha_y: Vec::new(),
            alpha_c: Vec::new(),
            keyed_chroma: Vec::new(),
        }
    }

    /// Move a keyed or plain rectangular overlay to `rect` (a circle's
    /// mask is made for its rectangle and stays).
    pub fn set_rect(&mut self, rect: Rect) {
        if self.mask.is_none() {
            self.rect = rect;
        }
    }

    /// Draw `avatar` (YUV420P or YUVA420P, `rect`-sized) into `out` over the
    /// background `bg`. Outside `rect` nothing is touched.
    pub fn draw(&mut self, out: &mut frame::Video, bg: &Yuv420, avatar: &frame::Video) {
        let has_alpha = avatar.format() == ffmpeg::format::Pixel::YUVA420P;
        if self.mask.is_none() && self.key.is_none() && !has_alpha {
            self.copy(out, avatar);
        } else {
            self.compute_alpha(avatar, has_alpha);
            self.blend(out, bg, avatar);
        }
    }

    /// The rectangle fast path: a plane copy.
    fn copy(&self, out: &mut frame::Video, avatar: &frame::Video) {
        let r = self.rect;
        for plane in 0..3 {
            let (x, y, w, h) = if plane == 0 {
                (r.x, r.y, r.width, r.height)
            } else {
                (r.x / 2, r.y / 2, r.width / 2, r.height / 2)
            };
            let dst_stride = out.stride(plane);
            let dst = out.data_mut(plane);
            copy_plane(
                avatar.data(plane),
                avatar.stride(plane),
                dst,
                dst_stride,
                x,
                y,
                w,
                h,
            );
        }
    }

    fn compute_alpha(&mut self, avatar: &frame::Video, has_alpha: bool) {
        let (w, h) = (self.rect.width as usize, self.rect.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        self.alpha_y.clear();
        self.alpha_c.clear();
        match &self.mask {
            Some((my, mc)) => {
                self.alpha_y.extend_from_slice(my);
                self.alpha_c.extend_from_slice(mc);
            }
            None => {
                self.alpha_y.resize(w * h, 255);
                self.alpha_c.resize(cw * ch, 255);
            }
        }
        if let Some(tables) = &self.tables {
            let (us, vs) = (avatar.stride(1), avatar.stride(2));
            let (ud, vd) = (avatar.data(1), avatar.data(2));
            for cy in 0..ch {
                let (u_row, v_row) = (&ud[cy * us..cy * us + cw], &vd[cy * vs..cy * vs + cw]);
                let row_c = cy * cw..cy * cw + cw;
                if self.mask.is_none() {
                    // The common case: the key's opacity alone, a row of
                    // chroma samples, then each on its 2x2 luma pixels.
                    let alpha_row = &mut self.alpha_c[row_c.clone()];
                    for ((a, &u), &v) in alpha_row.iter_mut().zip(u_row).zip(v_row) {
                        *a = tables.alpha[KeyTables::index(u, v)];
                    }
                    for dy in 0..2 {
                        let at = (cy * 2 + dy) * w;
                        let luma_row = &mut self.alpha_y[at..at + w];
                        for (pair, &k) in luma_row
                            .chunks_exact_mut(2)
                            .zip(&self.alpha_c[row_c.clone()])
                        {
                            pair.fill(k);
                        }
                    }
                } else {
                    // Masked: the key's opacity times the mask's, per pixel.
                    for (cx, (&u, &v)) in u_row.iter().zip(v_row).enumerate() {
                        let k = u32::from(tables.alpha[KeyTables::index(u, v)]);
                        let ci = cy * cw + cx;
                        self.alpha_c[ci] = mul255(u32::from(self.alpha_c[ci]), k);
                        for dy in 0..2 {
                            let li = (cy * 2 + dy) * w + cx * 2;
                            for a in &mut self.alpha_y[li..li + 2] {
                                *a = mul255(u32::from(*a), k);
                            }
                        }
                    }
                }
            }
        }
        if has_alpha {
            let (as_, ad) = (avatar.stride(3), avatar.data(3));
            for y in 0..h {
                for x in 0..w {
                    let a = u32::from(ad[y * as_ + x]);
                    let li = y * w + x;
                    self.alpha_y[li] = mul255(u32::from(self.alpha_y[li]), a);
                }
            }
            for cy in 0..ch {
                for cx in 0..cw {
                    let r0 = cy * 2 * as_ + cx * 2;
                    let r1 = r0 + as_;
                    let a = (u32::from(ad[r0])
                        + u32::from(ad[r0 + 1])
                        + u32::from(ad[r1])
                        + u32::from(ad[r1 + 1])
                        + 2)
                        / 4;
                    let ci = cy * cw + cx;
                    self.alpha_c[ci] = mul255(u32::from(self.alpha_c[ci]), a);
                }
            }
        }
    }

    fn blend(&mut self, out: &mut frame::Video, bg: &Yuv420, avatar: &frame::Video) {
        if let Some(key) = self.key {
            self.blend_keyed(key, out, bg, avatar);
            return;
        }
        let r = self.rect;
        let bg_planes = [&bg.y, &bg.u, &bg.v];
        for (plane, bg_plane) in bg_planes.into_iter().enumerate() {
            let (x, y, w, h, bg_stride, alpha) = if plane == 0 {
                (r.x, r.y, r.width, r.height, bg.width, &self.alpha_y)
            } else {
                (
                    r.x / 2,
                    r.y / 2,
                    r.width / 2,
                    r.height / 2,
                    bg.width / 2,
                    &self.alpha_c,
                )
            };
            let (x, y, w, h, bg_stride) = (
                x as usize,
                y as usize,
                w as usize,
                h as usize,
                bg_stride as usize,
            );
            let src_stride = avatar.stride(plane);
            let src = avatar.data(plane);
            let dst_stride = out.stride(plane);
            let dst = out.data_mut(plane);
            for row in 0..h {
                let s = &src[row * src_stride..row * src_stride + w];
                let b = &bg_plane[(y + row) * bg_stride + x..(y + row) * bg_stride + x + w];
                let a = &alpha[row * w..row * w + w];
                let d = &mut dst[(y + row) * dst_stride + x..(y + row) * dst_stride + x + w];
                for i in 0..w {
                    let av = u32::from(a[i]);
                    d[i] =
                        ((u32::from(s[i]) * av + u32::from(b[i]) * (255 - av) + 127) / 255) as u8;
                }
            }
        }
    }
}

impl Overlay {
    /// Composite a keyed clip without fringes. A pixel the keyer made
    /// partly transparent is a mixture of the avatar and the key colour the
    /// vendor rendered behind it (`px = a*F + (1-a)*K`), so the key's share
    /// is taken out before the new background goes in
    /// (`out = px - (1-a)*K + (1-a)*B`, the avatar's share clamped to what
    /// `a` allows): no green and no dark rim. Then green spill on the avatar
    /// itself (light bounced off the green screen) is removed from the
    /// chroma, as the usual despill does in RGB (green at most the larger
    /// of red and blue), keeping the luma so edges do not darken.
    fn blend_keyed(
        &mut self,
        key: ChromaKey,
        out: &mut frame::Video,
        bg: &Yuv420,
        avatar: &frame::Video,
    ) {
        let r = self.rect;
        let (x, y, w, h) = (
            r.x as usize,
            r.y as usize,
            r.width as usize,
            r.height as usize,
        );
        let bg_w = bg.width as usize;
        // Luma: unmix, no despill.
        {
            let (src, ss) = (avatar.data(0), avatar.stride(0));
            let ds = out.stride(0);
            let dst = out.data_mut(0);
            for row in 0..h {
                let alpha = &self.alpha_y[row * w..row * w + w];
                let s_row = &src[row * ss..row * ss + w];
                let b_row = &bg.y[(y + row) * bg_w + x..(y + row) * bg_w + x + w];
                let d_row = &mut dst[(y + row) * ds + x..(y + row) * ds + x + w];
                for (((d, &a), &px), &b) in d_row.iter_mut().zip(alpha).zip(s_row).zip(b_row) {
                    *d = match a {
                        0 => b,
                        255 => px.clamp(16, 235),
                        a => unmix(
                            i32::from(px),
                            i32::from(a),
                            i32::from(key.y),
                            i32::from(b),
                            (16, 235),
                        ),
                    };
                }
            }
        }
        // Chroma: unmix the foreground, despill it, composite it, into
        // scratch space (both planes at once), then into the planes.
        let (cx0, cy0, cw, ch, bg_cw) = (x / 2, y / 2, w / 2, h / 2, bg_w / 2);
        let (ys, us, vs) = (avatar.stride(0), avatar.stride(1), avatar.stride(2));
        let (yd, ud, vd) = (avatar.data(0), avatar.data(1), avatar.data(2));
        let mut row_out = std::mem::take(&mut self.keyed_chroma);
        row_out.clear();
        row_out.resize(cw * ch, (128, 128));
        for row in 0..ch {
            let bg_at = (cy0 + row) * bg_cw + cx0;
            let pixels = row_out[row * cw..row * cw + cw].iter_mut().enumerate();
            for (col, o) in pixels {
                let a = self.alpha_c[row * cw + col];
                let (bu, bv) = (bg.u[bg_at + col], bg.v[bg_at + col]);
                let (u, v) = (ud[row * us + col], vd[row * vs + col]);
                *o = match (a, &self.tables) {
                    (0, _) => (bu, bv),
                    (255, Some(tables)) => tables.opaque_chroma[KeyTables::index(u, v)],
                    _ => {
                        let l = row * 2 * ys + col * 2;
                        let luma = (u32::from(yd[l])
                            + u32::from(yd[l + 1])
                            + u32::from(yd[l + ys])
                            + u32::from(yd[l + ys + 1])
                            + 2)
                            / 4;
                        let px = Yuv {
                            y: luma as u8,
                            u,
                            v,
                        };
                        let fg = despill(foreground(px, f32::from(a) / 255.0, key));
                        let af = f32::from(a) / 255.0;
                        let mix = |f: f32, b: u8| {
                            (af * f + (1.0 - af) * f32::from(b))
                                .round()
                                .clamp(16.0, 240.0) as u8
                        };
                        (mix(fg.1, bu), mix(fg.2, bv))
                    }
                };
            }
        }
        for (plane, pick) in [(1, 0), (2, 1)] {
            let stride = out.stride(plane);
            let dst = out.data_mut(plane);
            for row in 0..ch {
                let d = &mut dst[(cy0 + row) * stride + cx0..(cy0 + row) * stride + cx0 + cw];
                for (d, o) in d.iter_mut().zip(&row_out[row * cw..row * cw + cw]) {
                    *d = if pick == 0 { o.0 } else { o.1 };
                }
            }
        }
        self.keyed_chroma = row_out;
    }
}

/// One plane of a keyed pixel: `px` minus the key's share `(1-a)*key`
/// (clamped to what an opacity of `a` allows of the `range`), plus the
/// background's share. `a` in 0..=255.
fn unmix(px: i32, a: i32, key: i32, bg: i32, range: (i32, i32)) -> u8 {
    let fg = (px * 255 - (255 - a) * key).clamp(a * range.0, a * range.1);
    ((fg + (255 - a) * bg + 127) / 255).clamp(0, 255) as u8
}

/// The avatar's own colour behind a keyed pixel of opacity `a` (0..=1):
/// `(px - (1-a)*key) / a`, per channel, in YUV (floats, limited range).
fn foreground(px: Yuv, a: f32, key: ChromaKey) -> (f32, f32, f32) {
    let f = |p: u8, k: u8, lo: f32, hi: f32| {
        ((f32::from(p) - (1.0 - a) * f32::from(k)) / a).clamp(lo, hi)
    };
    (
        f(px.y, key.y, 16.0, 235.0),
        f(px.u, key.u, 16.0, 240.0),
        f(px.v, key.v, 16.0, 240.0),
    )
}

/// Remove green spill from a limited-range YUV colour: in RGB, green is
/// lowered to the larger of red and blue when it exceeds both; the chroma
/// of the result is returned with the original luma (so nothing darkens).
fn despill((y, u, v): (f32, f32, f32)) -> (f32, f32, f32) {
    let yn = (y - 16.0) / 219.0;
    let cb = (u - 128.0) / 224.0;
    let cr = (v - 128.0) / 224.0;
    let r = yn + 1.5748 * cr;
    let g = yn - 0.1873 * cb - 0.4681 * cr;
    let b = yn + 1.8556 * cb;
    let limit = r.max(b);
    if g <= limit {
        return (y, u, v);
    }
    let g = limit;
    let y2 = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let cb2 = (b - y2) / 1.8556;
    let cr2 = (r - y2) / 1.5748;
    (y, 128.0 + 224.0 * cb2, 128.0 + 224.0 * cr2)
}

fn mul255(a: u32, b: u32) -> u8 {
    ((a * b + 127) / 255) as u8
}

/// Opacity of a circle inscribed in a `width` x `height` box, with an
/// anti-aliased edge about 1.5 px wide, at luma and chroma resolution.
fn circle_mask(width: u32, height: u32) -> (Vec<u8>, Vec<u8>) {
    let sample = |w: u32, h: u32, feather: f64| {
        let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
        let radius = cx.min(cy);
        let mut m = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
                let d = (dx * dx + dy * dy).sqrt();
                let a = ((radius - d) / feather + 0.5).clamp(0.0, 1.0);
                m.push((a * 255.0).round() as u8);
            }
        }
        m
    };
    (
        sample(width, height, 1.5),
        sample(width / 2, height / 2, 0.75),
    )
}

/// Darken a YUV420P frame towards black: `level` 0 is black, 256 unchanged.
pub fn fade(frame: &mut frame::Video, level: u32) {
    if level >= 256 {
        return;
    }
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    for plane in 0..3 {
        let (pw, ph, centre) = if plane == 0 {
            (w, h, 16i32)
        } else {
            (w / 2, h / 2, 128i32)
        };
        let stride = frame.stride(plane);
        let data = frame.data_mut(plane);
        for row in 0..ph {
            for p in &mut data[row * stride..row * stride + pw] {
                let v = i32::from(*p) - centre;
                *p = (centre + ((v * level as i32) >> 8)).clamp(0, 255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bt709_conversion_round_trips_and_hits_the_reference_points() {
        assert_eq!(
            rgb_to_yuv709(Rgb::BLACK),
            Yuv {
                y: 16,
                u: 128,
                v: 128
            }
        );
        assert_eq!(
            rgb_to_yuv709(Rgb::new(255, 255, 255)),
            Yuv {
                y: 235,
                u: 128,
                v: 128
            }
        );
        // BT.709 green is Y 173 (BT.601 would give 145).
        assert_eq!(rgb_to_yuv709(Rgb::GREEN).y, 173);
        for c in [
            Rgb::new(200, 40, 60),
            Rgb::new(0x10, 0x18, 0x60),
            Rgb::new(240, 240, 224),
        ] {
            let back = yuv709_to_rgb(rgb_to_yuv709(c));
            assert!(
                back.r.abs_diff(c.r) <= 2 && back.g.abs_diff(c.g) <= 2 && back.b.abs_diff(c.b) <= 2,
                "{c} -> {back}"
            );
        }
    }

    #[test]
    fn fitted_rectangles_are_even_centred_and_inside() {
        let area = Rect::new(0, 0, 1920, 1080);
        assert_eq!(fit_rect(1024, 768, area), Rect::new(240, 0, 1440, 1080));
        assert_eq!(fit_rect(3840, 2160, area), area);
        let odd = fit_rect(333, 777, Rect::new(11, 7, 301, 199));
        assert_eq!(
            (odd.x % 2, odd.y % 2, odd.width % 2, odd.height % 2),
            (0, 0, 0, 0)
        );
        assert!(
            odd.x >= 10 && odd.x + odd.width <= 312 && odd.y + odd.height <= 206,
            "{odd:?}"
        );
    }

    #[test]
    fn chroma_key_follows_ffmpeg_similarity_and_blend() {
        let green = rgb_to_yuv709(Rgb::GREEN);
        let key = ChromaKey::new(Rgb::GREEN, 0.1, 0.0);
        assert_eq!(key.alpha(green.u, green.v), 0);
        let skin = rgb_to_yuv709(Rgb::new(0xF1, 0xC2, 0x7D));
        assert_eq!(key.alpha(skin.u, skin.v), 255);
        let soft = ChromaKey { blend: 0.5, ..key };
        let a = soft.alpha(green.u.saturating_add(40), green.v.saturating_add(40));
        assert!(a > 0 && a < 255, "{a}");
    }

    /// A clip's soft green edge: columns blend from the avatar's colour
    /// (with some green spill) to pure key green. Keyed over a grey
    /// background, no pixel of the edge keeps a green hue, none is darker
    /// than both the avatar and the background (no dark rim), and the
    /// background shows through where the clip was pure key.
    #[test]
    fn keyed_soft_green_edges_leave_neither_a_green_nor_a_dark_fringe() {
        let (w, h) = (64u32, 16u32);
        let figure = Rgb::new(0xE0, 0x66, 0x3A);
        let spilled = Rgb::new(0xC8, 0x8A, 0x3A); // the figure lit by green
        let grey = Rgb::new(0x80, 0x80, 0x80);
        let mix = |a: Rgb, b: Rgb, t: f64| {
            let m = |x: u8, y: u8| (f64::from(x) * (1.0 - t) + f64::from(y) * t).round() as u8;
            Rgb::new(m(a.r, b.r), m(a.g, b.g), m(a.b, b.b))
        };
        // Columns 0..20 the figure, 20..28 spill, 28..44 a soft edge into
        // green, 44.. pure green.
        let colour_at = |x: u32| match x {
            0..=19 => figure,
            20..=27 => spilled,
            28..=43 => mix(spilled, Rgb::GREEN, f64::from(x - 27) / 17.0),
            _ => Rgb::GREEN,
        };
        let mut avatar = frame::Video::new(ffmpeg::format::Pixel::YUV420P, w, h);
        for yy in 0..h as usize {
            for xx in 0..w as usize {
                let p = rgb_to_yuv709(colour_at(xx as u32));
                let s0 = avatar.stride(0);
                avatar.data_mut(0)[yy * s0 + xx] = p.y;
                if yy % 2 == 0 && xx % 2 == 0 {
                    // Chroma of the pair's average colour.
                    let c = rgb_to_yuv709(mix(colour_at(xx as u32), colour_at(xx as u32 + 1), 0.5));
                    let (s1, s2) = (avatar.stride(1), avatar.stride(2));
                    avatar.data_mut(1)[yy / 2 * s1 + xx / 2] = c.u;
                    avatar.data_mut(2)[yy / 2 * s2 + xx / 2] = c.v;
                }
            }
        }
        let key = ChromaKey::new(Rgb::GREEN, 0.1, 0.2);
        let bg = Yuv420::filled(w, h, rgb_to_yuv709(grey));
        let mut out = frame::Video::new(ffmpeg::format::Pixel::YUV420P, w, h);
        let mut overlay = Overlay::new(Rect::new(0, 0, w, h), false, Some(key));
        overlay.draw(&mut out, &bg, &avatar);

        let pixel = |x: usize, y: usize| {
            yuv709_to_rgb(Yuv {
                y: out.data(0)[y * out.stride(0) + x],
                u: out.data(1)[y / 2 * out.stride(1) + x / 2],
                v: out.data(2)[y / 2 * out.stride(2) + x / 2],
            })
        };
        let luma =
            |c: Rgb| 0.2126 * f64::from(c.r) + 0.7152 * f64::from(c.g) + 0.0722 * f64::from(c.b);
        let darkest_allowed = luma(figure).min(luma(grey)) - 12.0;
        let mut edge_pixels = 0;
        for x in 20..44 {
            let c = pixel(x, 8);
            assert!(
                i32::from(c.g) <= i32::from(c.r.max(c.b)) + 4,
                "column {x}: {c:?} keeps a green hue"
            );
            assert!(
                luma(c) >= darkest_allowed,
                "column {x}: {c:?} is a dark rim"
            );
            edge_pixels += 1;
        }
        assert_eq!(edge_pixels, 24);
        // Where the clip was pure key, the background.
        let far = pixel(60, 8);
        assert!(
            (i32::from(far.r) - 0x80).abs() <= 3 && (i32::from(far.g) - 0x80).abs() <= 3,
            "{far:?}"
        );
        // The figure itself is untouched.
        let body = pixel(4, 8);
        assert!((i32::from(body.r) - 0xE0).abs() <= 4, "{body:?}");
    }

    #[test]
    fn a_keyed_circle_takes_the_mask_once_on_luma_and_chroma() {
        let (w, h) = (64u32, 36u32);
        let mut avatar = frame::Video::new(ffmpeg::format::Pixel::YUV420P, w, h);
        let shirt = rgb_to_yuv709(Rgb::new(0xE0, 0x66, 0x3A));
        for (plane, value) in [(0, shirt.y), (1, shirt.u), (2, shirt.v)] {
            avatar.data_mut(plane).fill(value);
        }
        let key = ChromaKey::new(Rgb::GREEN, 0.1, 0.1);
        let mut overlay = Overlay::new(Rect::new(0, 0, w, h), true, Some(key));
        overlay.compute_alpha(&avatar, false);
        // Nothing is key coloured: the opacity is the circle's, once.
        let (mask_y, mask_c) = circle_mask(w, h);
        assert_eq!(overlay.alpha_y, mask_y);
        assert_eq!(overlay.alpha_c, mask_c);
        assert!(
            mask_y.iter().any(|&a| a > 0 && a < 255),
            "a soft rim to test"
        );
    }

    #[test]
    fn circle_mask_is_clear_in_the_corners_and_solid_in_the_middle() {
        let (luma, chroma) = circle_mask(64, 36);
        assert_eq!(luma[0], 0);
        assert_eq!(luma[63], 0);
        assert_eq!(luma[18 * 64 + 32], 255);
        assert_eq!(chroma.len(), 32 * 18);
        // Soft edge: some partial values along the rim.
        assert!(luma.iter().any(|&a| a > 0 && a < 255));
    }
}
