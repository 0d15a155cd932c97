//! Generates the quickstart deck's slide images (run once; the PNGs are
//! committed): `cargo run -p slidecast-local --example make_quickstart_slides -- examples/quickstart/slides`.
//!
//! Flat colours and DejaVu Sans (Debian package `fonts-dejavu-core`) keep
//! the PNGs small. Narrated slides leave the bottom-right corner free for the
//! presenter.

use std::path::{Path, PathBuf};

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

const W: u32 = 1280;
const H: u32 = 720;
const FONT_DIR: &str = "/usr/share/fonts/truetype/dejavu";

type Rgb = (u8, u8, u8);
const NAVY: Rgb = (0x14, 0x21, 0x3D);
const INK: Rgb = (0x1F, 0x2A, 0x44);
const MUTED: Rgb = (0x5C, 0x67, 0x7D);
const PAPER: Rgb = (0xF7, 0xF9, 0xFC);
const ACCENT: Rgb = (0xFC, 0xA3, 0x11);
const TEAL: Rgb = (0x2A, 0x9D, 0x8F);
const LINE: Rgb = (0xD9, 0xDF, 0xE8);

/// Draws one slide.
type SlideFn = fn(&Fonts) -> Option<Pixmap>;

struct Fonts {
    regular: FontVec,
    bold: FontVec,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "examples/quickstart/slides".into()),
    );
    std::fs::create_dir_all(&out)?;
    let load = |name: &str| -> Result<FontVec, Box<dyn std::error::Error>> {
        let path = Path::new(FONT_DIR).join(name);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("{}: {e} (install fonts-dejavu-core)", path.display()))?;
        Ok(FontVec::try_from_vec(bytes)?)
    };
    let fonts = Fonts {
        regular: load("DejaVuSans.ttf")?,
        bold: load("DejaVuSans-Bold.ttf")?,
    };
    let slides: [(&str, SlideFn); 5] = [
        ("01-title.png", title_slide),
        ("02-what.png", what_slide),
        ("03-how.png", how_slide),
        ("04-chart.png", chart_slide),
        ("05-thanks.png", thanks_slide),
    ];
    for (name, draw) in slides {
        let pixmap = draw(&fonts).ok_or("drawing failed")?;
        let path = out.join(name);
        save_indexed_png(&pixmap, &path)?;
        println!(
            "wrote {} ({} bytes)",
            path.display(),
            std::fs::metadata(&path)?.len()
        );
    }
    Ok(())
}

/// Write an opaque pixmap as a palette PNG: flat slides have few colours,
/// and a palette makes the committed files several times smaller. The
/// antialiasing shades are reduced (nearest of the most frequent colours)
/// only when there are more than 256.
fn save_indexed_png(pixmap: &Pixmap, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use std::collections::HashMap;
    let pixels: Vec<[u8; 3]> = pixmap
        .data()
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
    for p in &pixels {
        *counts.entry(*p).or_default() += 1;
    }
    let mut by_count: Vec<([u8; 3], usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let palette: Vec<[u8; 3]> = by_count.iter().take(256).map(|c| c.0).collect();
    let mut index_of: HashMap<[u8; 3], u8> = HashMap::new();
    for (i, c) in palette.iter().enumerate() {
        index_of.insert(*c, i as u8);
    }
    let nearest = |p: &[u8; 3]| -> u8 {
        let d = |c: &[u8; 3]| {
            (0..3)
                .map(|k| (c[k] as i32 - p[k] as i32).pow(2))
                .sum::<i32>()
        };
        (0..palette.len())
            .min_by_key(|&i| d(&palette[i]))
            .unwrap_or(0) as u8
    };
    let mut indices = Vec::with_capacity(pixels.len());
    let mut cache: HashMap<[u8; 3], u8> = HashMap::new();
    for p in &pixels {
        let i = match index_of.get(p) {
            Some(i) => *i,
            None => *cache.entry(*p).or_insert_with(|| nearest(p)),
        };
        indices.push(i);
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, pixmap.width(), pixmap.height());
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette.concat());
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&indices)?;
    Ok(())
}

fn paint(c: Rgb) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(c.0, c.1, c.2, 255));
    p.anti_alias = true;
    p
}

fn canvas(bg: Rgb) -> Option<Pixmap> {
    let mut p = Pixmap::new(W, H)?;
    p.fill(Color::from_rgba8(bg.0, bg.1, bg.2, 255));
    Some(p)
}

fn rect(p: &mut Pixmap, x: f32, y: f32, w: f32, h: f32, c: Rgb) {
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        p.fill_rect(r, &paint(c), Transform::identity(), None);
    }
}

fn rounded(p: &mut Pixmap, x: f32, y: f32, w: f32, h: f32, r: f32, c: Rgb) {
    let mut pb = PathBuilder::new();
    pb.move_to(x + r, y);
    pb.line_to(x + w - r, y);
    pb.quad_to(x + w, y, x + w, y + r);
    pb.line_to(x + w, y + h - r);
    pb.quad_to(x + w, y + h, x + w - r, y + h);
    pb.line_to(x + r, y + h);
    pb.quad_to(x, y + h, x, y + h - r);
    pb.line_to(x, y + r);
    pb.quad_to(x, y, x + r, y);
    pb.close();
    if let Some(path) = pb.finish() {
        p.fill_path(
            &path,
            &paint(c),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

fn circle(p: &mut Pixmap, cx: f32, cy: f32, r: f32, c: Rgb) {
    if let Some(path) = PathBuilder::from_circle(cx, cy, r) {
        p.fill_path(
            &path,
            &paint(c),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

fn line(p: &mut Pixmap, x0: f32, y0: f32, x1: f32, y1: f32, width: f32, c: Rgb) {
    let mut pb = PathBuilder::new();
    pb.move_to(x0, y0);
    pb.line_to(x1, y1);
    if let Some(path) = pb.finish() {
        let stroke = Stroke {
            width,
            ..Stroke::default()
        };
        p.stroke_path(&path, &paint(c), &stroke, Transform::identity(), None);
    }
}

fn text_width(font: &FontVec, px: f32, text: &str) -> f32 {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut width = 0.0;
    let mut last = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = last {
            width += scaled.kern(prev, id);
        }
        width += scaled.h_advance(id);
        last = Some(id);
    }
    width
}

/// Draw `text` with its baseline at `y`, starting at `x`; blends coverage
/// over the (opaque) pixels.
fn text(p: &mut Pixmap, font: &FontVec, px: f32, x: f32, y: f32, c: Rgb, s: &str) {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut caret = x;
    let mut last = None;
    let (w, h) = (p.width() as i32, p.height() as i32);
    let data = p.data_mut();
    for ch in s.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(prev) = last {
            caret += scaled.kern(prev, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), point(caret, y));
        caret += scaled.h_advance(id);
        last = Some(id);
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let (px_x, px_y) = (
                bounds.min.x as i32 + gx as i32,
                bounds.min.y as i32 + gy as i32,
            );
            if px_x < 0 || px_y < 0 || px_x >= w || px_y >= h {
                return;
            }
            let i = ((px_y * w + px_x) * 4) as usize;
            let a = coverage.clamp(0.0, 1.0);
            for (k, v) in [c.0, c.1, c.2].into_iter().enumerate() {
                let old = data[i + k] as f32;
                data[i + k] = (old + (v as f32 - old) * a).round() as u8;
            }
        });
    }
}

fn centered(p: &mut Pixmap, font: &FontVec, px: f32, y: f32, c: Rgb, s: &str) {
    let x = (W as f32 - text_width(font, px, s)) / 2.0;
    text(p, font, px, x, y, c, s);
}

/// A content slide's frame: title, accent rule, footer.
fn content(fonts: &Fonts, title: &str, page: u32) -> Option<Pixmap> {
    let mut p = canvas(PAPER)?;
    rect(&mut p, 0.0, 0.0, 14.0, H as f32, NAVY);
    text(&mut p, &fonts.bold, 54.0, 96.0, 132.0, INK, title);
    rect(&mut p, 96.0, 158.0, 96.0, 8.0, ACCENT);
    line(&mut p, 96.0, 664.0, 780.0, 664.0, 1.5, LINE);
    text(
        &mut p,
        &fonts.regular,
        20.0,
        96.0,
        696.0,
        MUTED,
        "slidecast quickstart",
    );
    text(
        &mut p,
        &fonts.regular,
        20.0,
        740.0,
        696.0,
        MUTED,
        &format!("{page} / 5"),
    );
    Some(p)
}

fn bullets(p: &mut Pixmap, fonts: &Fonts, items: &[(&str, &str)]) {
    let mut y = 262.0;
    for (head, rest) in items {
        circle(p, 112.0, y - 13.0, 8.0, TEAL);
        text(p, &fonts.bold, 34.0, 140.0, y, INK, head);
        text(p, &fonts.regular, 26.0, 140.0, y + 40.0, MUTED, rest);
        y += 112.0;
    }
}

fn title_slide(fonts: &Fonts) -> Option<Pixmap> {
    let mut p = canvas(NAVY)?;
    // A band of overlapping "slides" as a simple motif.
    for (i, c) in [(0x22, 0x33, 0x5C), (0x2E, 0x44, 0x75), TEAL]
        .iter()
        .enumerate()
    {
        let i = i as f32;
        rounded(
            &mut p,
            820.0 + 70.0 * i,
            120.0 + 50.0 * i,
            300.0,
            190.0,
            18.0,
            *c,
        );
    }
    circle(&mut p, 1080.0, 385.0, 34.0, ACCENT);
    text(
        &mut p,
        &fonts.bold,
        84.0,
        96.0,
        330.0,
        (0xFF, 0xFF, 0xFF),
        "Slidecast",
    );
    rect(&mut p, 100.0, 362.0, 120.0, 10.0, ACCENT);
    text(
        &mut p,
        &fonts.regular,
        38.0,
        96.0,
        440.0,
        (0xE5, 0xE9, 0xF0),
        "Slides and a script in,",
    );
    text(
        &mut p,
        &fonts.regular,
        38.0,
        96.0,
        490.0,
        (0xE5, 0xE9, 0xF0),
        "a narrated video out.",
    );
    text(
        &mut p,
        &fonts.regular,
        24.0,
        96.0,
        620.0,
        (0x9A, 0xA7, 0xBD),
        "Quickstart deck",
    );
    Some(p)
}

fn what_slide(fonts: &Fonts) -> Option<Pixmap> {
    let mut p = content(fonts, "What slidecast does", 2)?;
    bullets(
        &mut p,
        fonts,
        &[
            (
                "Reads a deck",
                "Slide images plus a short narration script for each",
            ),
            (
                "Adds a presenter",
                "A talking avatar, from a vendor or drawn locally",
            ),
            (
                "Renders one video",
                "Every slide timed to its narration, joined in order",
            ),
        ],
    );
    Some(p)
}

fn how_slide(fonts: &Fonts) -> Option<Pixmap> {
    let mut p = content(fonts, "How it works", 3)?;
    let steps = [
        ("1", "Write deck.toml", "images, scripts, presenter"),
        ("2", "Run one command", "slidecast render deck.toml"),
        ("3", "Share the video", "an MP4 that plays anywhere"),
    ];
    for (i, (n, head, rest)) in steps.iter().enumerate() {
        let x = 96.0 + 370.0 * i as f32;
        // A card with a coloured top edge.
        rounded(
            &mut p,
            x,
            215.0,
            330.0,
            255.0,
            20.0,
            if i == 2 { ACCENT } else { TEAL },
        );
        rounded(&mut p, x, 225.0, 330.0, 245.0, 20.0, (0xFF, 0xFF, 0xFF));
        circle(&mut p, x + 60.0, 290.0, 34.0, NAVY);
        let nw = text_width(&fonts.bold, 36.0, n);
        text(
            &mut p,
            &fonts.bold,
            36.0,
            x + 60.0 - nw / 2.0,
            303.0,
            (0xFF, 0xFF, 0xFF),
            n,
        );
        text(&mut p, &fonts.bold, 30.0, x + 28.0, 380.0, INK, head);
        text(&mut p, &fonts.regular, 22.0, x + 28.0, 424.0, MUTED, rest);
    }
    Some(p)
}

fn chart_slide(fonts: &Fonts) -> Option<Pixmap> {
    let mut p = content(fonts, "Videos published per quarter", 4)?;
    let data = [("Q1", 18.0), ("Q2", 27.0), ("Q3", 41.0), ("Q4", 58.0)];
    let (left, base, top) = (150.0f32, 600.0f32, 220.0f32);
    let max = 60.0;
    for tick in [0.0, 20.0, 40.0, 60.0] {
        let y = base - (base - top) * tick / max;
        line(&mut p, left, y, 760.0, y, 1.0, LINE);
        let label = format!("{tick:.0}");
        let lw = text_width(&fonts.regular, 20.0, &label);
        text(
            &mut p,
            &fonts.regular,
            20.0,
            left - 16.0 - lw,
            y + 7.0,
            MUTED,
            &label,
        );
    }
    for (i, (label, value)) in data.iter().enumerate() {
        let x = left + 40.0 + 150.0 * i as f32;
        let h = (base - top) * value / max;
        let colour = if i == data.len() - 1 { ACCENT } else { TEAL };
        rect(&mut p, x, base - h, 90.0, h, colour);
        let v = format!("{value:.0}");
        let vw = text_width(&fonts.bold, 26.0, &v);
        text(
            &mut p,
            &fonts.bold,
            26.0,
            x + 45.0 - vw / 2.0,
            base - h - 14.0,
            INK,
            &v,
        );
        let lw = text_width(&fonts.regular, 22.0, label);
        text(
            &mut p,
            &fonts.regular,
            22.0,
            x + 45.0 - lw / 2.0,
            base + 32.0,
            MUTED,
            label,
        );
    }
    line(&mut p, left, base, 760.0, base, 2.0, INK);
    // Key figure, to the right of the chart and clear of the presenter.
    text(&mut p, &fonts.bold, 72.0, 850.0, 300.0, ACCENT, "3.2x");
    text(
        &mut p,
        &fonts.regular,
        26.0,
        850.0,
        345.0,
        INK,
        "growth from Q1 to Q4",
    );
    Some(p)
}

fn thanks_slide(fonts: &Fonts) -> Option<Pixmap> {
    let mut p = canvas(NAVY)?;
    centered(
        &mut p,
        &fonts.bold,
        80.0,
        330.0,
        (0xFF, 0xFF, 0xFF),
        "Thank you",
    );
    rect(&mut p, (W as f32 - 120.0) / 2.0, 366.0, 120.0, 10.0, ACCENT);
    centered(
        &mut p,
        &fonts.regular,
        32.0,
        450.0,
        (0xE5, 0xE9, 0xF0),
        "Make your own: slidecast init my-deck",
    );
    Some(p)
}
