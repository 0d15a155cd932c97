//! The presenter, drawn with antialiased vectors (tiny-skia).
//!
//! The bust is laid out in a design space 100 units tall, centred
//! horizontally: head centre at (0, 40), chin at y 61, shoulders from y 76
//! to the bottom edge. [`draw_avatar`] maps that space onto any canvas and
//! draws one frame for a [`Pose`] (mouth, eyelids, head tilt, breathing).
//! The background is one flat colour so chroma key and circle masks work on
//! the clip exactly as on a vendor's.

use slidecast_core::deck::Rgb;
use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, LinearGradient, Paint, Path, PathBuilder,
    Pixmap, Point, RadialGradient, Shader, SpreadMode, Stroke, Transform,
};

/// How the presenter's hair is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HairStyle {
    /// Short, with a side part.
    Short,
    /// Long, falling to the shoulders, with a side-swept fringe.
    Long,
    /// Short and curly.
    Curly,
    /// A jaw-length bob with a straight fringe.
    Bob,
}

/// The presenter's colours and hair: what an avatar code picks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// Skin tone (shading is derived from it).
    pub skin: Rgb,
    /// Hair and eyebrow colour.
    pub hair: Rgb,
    /// Hair cut.
    pub hair_style: HairStyle,
    /// Eye colour.
    pub iris: Rgb,
    /// Jacket colour.
    pub jacket: Rgb,
    /// Shirt and collar colour.
    pub shirt: Rgb,
    /// Lip colour (also the blush).
    pub lips: Rgb,
    /// The espeak-ng voice variant that suits the look (`f3`, `m3`, ...),
    /// used unless the deck names an espeak voice itself.
    pub voice_variant: Option<&'static str>,
}

const SKINS: [Rgb; 5] = [
    Rgb::new(0xF2, 0xC9, 0xA8),
    Rgb::new(0xE3, 0xB0, 0x8A),
    Rgb::new(0xC6, 0x8E, 0x66),
    Rgb::new(0x9C, 0x6A, 0x48),
    Rgb::new(0x6E, 0x47, 0x30),
];
const HAIRS: [Rgb; 5] = [
    Rgb::new(0x3B, 0x2A, 0x20),
    Rgb::new(0x1E, 0x1A, 0x1A),
    Rgb::new(0x7A, 0x48, 0x2A),
    Rgb::new(0xB8, 0x8A, 0x4E),
    Rgb::new(0x8A, 0x8C, 0x90),
];
const JACKETS: [Rgb; 5] = [
    Rgb::new(0x24, 0x3B, 0x63),
    Rgb::new(0x3A, 0x3F, 0x47),
    Rgb::new(0x6B, 0x2E, 0x3F),
    Rgb::new(0x1F, 0x5A, 0x66),
    Rgb::new(0x5A, 0x46, 0x32),
];
const SHIRTS: [Rgb; 3] = [
    Rgb::new(0xF4, 0xF4, 0xF0),
    Rgb::new(0xCF, 0xE0, 0xF2),
    Rgb::new(0xF0, 0xE4, 0xD0),
];
const IRISES: [Rgb; 3] = [
    Rgb::new(0x5A, 0x3A, 0x22),
    Rgb::new(0x3C, 0x6E, 0x8F),
    Rgb::new(0x4E, 0x6B, 0x3A),
];

impl Look {
    /// The default presenter: short dark hair, navy jacket, white shirt.
    pub const DEFAULT: Look = Look {
        skin: SKINS[1],
        hair: HAIRS[0],
        hair_style: HairStyle::Short,
        iris: IRISES[0],
        jacket: JACKETS[0],
        shirt: SHIRTS[0],
        lips: Rgb::new(0xB8, 0x6A, 0x62),
        voice_variant: None,
    };

    /// The look for a deck's avatar code. `default`, `ava`, `leo` and `mia`
    /// are designed looks (`ava` and `mia` speak with espeak-ng's female
    /// variants `f3`/`f2`, `leo` with `m3`) (a `.variant` suffix is ignored, so `ava.casual`
    /// is `ava`); any other code gets a stable look derived from its hash.
    pub fn for_code(code: &str) -> Look {
        let base = code
            .split('.')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "" | "default" | "local" => Look::DEFAULT,
            "ava" => Look {
                skin: SKINS[0],
                hair: HAIRS[2],
                hair_style: HairStyle::Long,
                iris: IRISES[2],
                jacket: JACKETS[3],
                shirt: SHIRTS[2],
                lips: Rgb::new(0xC2, 0x5E, 0x62),
                voice_variant: Some("f3"),
            },
            "leo" => Look {
                skin: SKINS[3],
                hair: HAIRS[1],
                hair_style: HairStyle::Curly,
                iris: IRISES[0],
                jacket: JACKETS[1],
                shirt: SHIRTS[1],
                lips: Rgb::new(0x8E, 0x50, 0x46),
                voice_variant: Some("m3"),
            },
            "mia" => Look {
                skin: SKINS[2],
                hair: HAIRS[1],
                hair_style: HairStyle::Bob,
                iris: IRISES[0],
                jacket: JACKETS[2],
                shirt: SHIRTS[0],
                lips: Rgb::new(0xA8, 0x52, 0x52),
                voice_variant: Some("f2"),
            },
            _ => Look::from_hash(stable_hash(&base)),
        }
    }

    fn from_hash(mut h: u64) -> Look {
        let mut pick = |n: usize| {
            let i = (h % n as u64) as usize;
            h /= n as u64;
            i
        };
        let skin = SKINS[pick(SKINS.len())];
        let hair = HAIRS[pick(HAIRS.len())];
        let hair_style = [
            HairStyle::Short,
            HairStyle::Long,
            HairStyle::Curly,
            HairStyle::Bob,
        ][pick(4)];
        let iris = IRISES[pick(IRISES.len())];
        let jacket = JACKETS[pick(JACKETS.len())];
        let shirt = SHIRTS[pick(SHIRTS.len())];
        Look {
            skin,
            hair,
            hair_style,
            iris,
            jacket,
            shirt,
            lips: mix(skin, Rgb::new(0xA0, 0x40, 0x48), 0.45),
            voice_variant: None,
        }
    }
}

/// FNV-1a: stable across runs and platforms (unlike `DefaultHasher`'s
/// contract), so an unknown avatar code always gets the same look.
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One frame's pose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// 0 = closed (a gentle smile), 1 = wide open.
    pub mouth_open: f32,
    /// 1 = eyes open, 0 = closed (a blink).
    pub eye_open: f32,
    /// Head tilt in degrees, around the neck.
    pub head_tilt: f32,
    /// Head offset in design units (sway and nod).
    pub head_offset: (f32, f32),
    /// Vertical body offset in design units (breathing).
    pub breath: f32,
    /// Eyebrow lift in design units (expression while speaking).
    pub brow_raise: f32,
    /// 0 = a wide, spread mouth (`ee`, `s`), 1 = a round one (`oo`, `o`).
    pub mouth_round: f32,
    /// Where the eyes look, in design units from straight ahead.
    pub gaze: (f32, f32),
}

impl Default for Pose {
    fn default() -> Self {
        Pose {
            mouth_open: 0.0,
            eye_open: 1.0,
            head_tilt: 0.0,
            head_offset: (0.0, 0.0),
            breath: 0.0,
            brow_raise: 0.0,
            mouth_round: 0.0,
            gaze: (0.0, 0.0),
        }
    }
}

/// The bust's rectangle for a canvas, in canvas pixels: the mouth region the
/// tests watch is derived from it.
pub fn design_to_canvas(width: u32, height: u32) -> Transform {
    let (w, h) = (width as f32, height as f32);
    // 100 units, slightly more than the height (the frame crops the lower
    // jacket); narrow canvases shrink the bust so the shoulders fit.
    let scale = (h / 93.0).min(w / 100.0);
    // Anchor the bust to the bottom edge.
    Transform::from_row(scale, 0.0, 0.0, scale, w / 2.0, h - 100.0 * scale)
}

/// The mouth's centre in canvas pixels for the rest pose, and a radius that
/// covers the mouth at its widest.
pub fn mouth_region(width: u32, height: u32) -> (f32, f32, f32) {
    let t = design_to_canvas(width, height);
    let mut p = Point::from_xy(0.0, HEAD_Y + MOUTH_Y + 1.5);
    t.map_points(std::slice::from_mut(&mut p));
    (p.x, p.y, 6.0 * t.sy)
}

const HEAD_Y: f32 = 45.5;
const NECK_PIVOT_Y: f32 = 67.0;
const MOUTH_Y: f32 = 13.8;
const EYE_X: f32 = 6.4;
const EYE_Y: f32 = 1.0;

/// Draw one frame: the flat background, then the bust in `pose`.
pub fn draw_avatar(pixmap: &mut Pixmap, look: &Look, pose: &Pose, background: Rgb) {
    pixmap.fill(color(background, 1.0));
    let base = design_to_canvas(pixmap.width(), pixmap.height());
    let body = base.pre_translate(0.0, pose.breath);
    let head = body
        .pre_translate(pose.head_offset.0, pose.head_offset.1)
        .pre_concat(Transform::from_rotate_at(pose.head_tilt, 0.0, NECK_PIVOT_Y))
        .pre_translate(0.0, HEAD_Y);

    if matches!(look.hair_style, HairStyle::Long | HairStyle::Bob) {
        draw_back_hair(pixmap, look, head);
    }
    draw_torso(pixmap, look, body, head);
    draw_ears(pixmap, look, head);
    draw_face(pixmap, look, head);
    draw_front_hair(pixmap, look, head);
    draw_brows(pixmap, look, pose, head);
    draw_eyes(pixmap, look, pose, head);
    draw_nose(pixmap, look, head);
    draw_mouth(pixmap, look, pose, head);
}

fn color(c: Rgb, alpha: f32) -> Color {
    Color::from_rgba8(c.r, c.g, c.b, (alpha.clamp(0.0, 1.0) * 255.0).round() as u8)
}

fn solid(c: Rgb, alpha: f32) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(color(c, alpha));
    paint.anti_alias = true;
    paint
}

fn shaded(shader: Shader<'static>) -> Paint<'static> {
    Paint {
        shader,
        anti_alias: true,
        ..Paint::default()
    }
}

/// `a` blended towards `b` by `t`.
fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let l = |x: u8, y: u8| {
        (x as f32 + (y as f32 - x as f32) * t)
            .round()
            .clamp(0.0, 255.0) as u8
    };
    Rgb::new(l(a.r, b.r), l(a.g, b.g), l(a.b, b.b))
}

fn darker(c: Rgb, t: f32) -> Rgb {
    mix(c, Rgb::new(0x20, 0x10, 0x10), t)
}

fn lighter(c: Rgb, t: f32) -> Rgb {
    mix(c, Rgb::new(0xFF, 0xF8, 0xF0), t)
}

fn fill(pixmap: &mut Pixmap, path: Option<Path>, paint: &Paint, t: Transform) {
    if let Some(path) = path {
        pixmap.fill_path(&path, paint, FillRule::Winding, t, None);
    }
}

fn stroke(pixmap: &mut Pixmap, path: Option<Path>, paint: &Paint, width: f32, t: Transform) {
    if let Some(path) = path {
        let stroke = Stroke {
            width,
            line_cap: LineCap::Round,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        pixmap.stroke_path(&path, paint, &stroke, t, None);
    }
}

fn oval(cx: f32, cy: f32, rx: f32, ry: f32) -> Option<Path> {
    PathBuilder::from_oval(tiny_skia::Rect::from_xywh(
        cx - rx,
        cy - ry,
        2.0 * rx,
        2.0 * ry,
    )?)
}

fn polygon(points: &[(f32, f32)]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    let (first, rest) = points.split_first()?;
    pb.move_to(first.0, first.1);
    for p in rest {
        pb.line_to(p.0, p.1);
    }
    pb.close();
    pb.finish()
}

fn radial(center: (f32, f32), radius: f32, stops: &[(f32, Rgb)]) -> Shader<'static> {
    let stops = stops
        .iter()
        .map(|&(pos, c)| GradientStop::new(pos, color(c, 1.0)))
        .collect();
    RadialGradient::new(
        Point::from_xy(center.0, center.1),
        Point::from_xy(center.0, center.1),
        radius,
        stops,
        SpreadMode::Pad,
        Transform::identity(),
    )
    .unwrap_or(Shader::SolidColor(color(stops_fallback(), 1.0)))
}

fn stops_fallback() -> Rgb {
    Rgb::new(0x80, 0x80, 0x80)
}

fn linear(from: (f32, f32), to: (f32, f32), a: Rgb, b: Rgb) -> Shader<'static> {
    LinearGradient::new(
        Point::from_xy(from.0, from.1),
        Point::from_xy(to.0, to.1),
        vec![
            GradientStop::new(0.0, color(a, 1.0)),
            GradientStop::new(1.0, color(b, 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    )
    .unwrap_or(Shader::SolidColor(color(a, 1.0)))
}

/// The face outline in head space (centre of the head at the origin): a
/// rounded top, full cheeks and a tapering jaw.
fn face_path() -> Option<Path> {
    let mut pb = PathBuilder::new();
    pb.move_to(0.0, -21.0);
    pb.cubic_to(10.5, -21.0, 16.5, -14.0, 16.5, -3.0);
    pb.cubic_to(16.5, 7.0, 13.0, 15.0, 7.5, 19.5);
    pb.cubic_to(4.0, 22.3, -4.0, 22.3, -7.5, 19.5);
    pb.cubic_to(-13.0, 15.0, -16.5, 7.0, -16.5, -3.0);
    pb.cubic_to(-16.5, -14.0, -10.5, -21.0, 0.0, -21.0);
    pb.close();
    pb.finish()
}

fn draw_back_hair(pixmap: &mut Pixmap, look: &Look, head: Transform) {
    let hair = look.hair;
    let mut pb = PathBuilder::new();
    match look.hair_style {
        HairStyle::Long => {
            pb.move_to(0.0, -25.0);
            pb.cubic_to(14.0, -25.0, 21.0, -16.0, 21.0, -2.0);
            pb.cubic_to(21.0, 12.0, 22.5, 24.0, 25.0, 34.0);
            pb.cubic_to(18.0, 37.5, 8.0, 37.0, 0.0, 34.0);
            pb.cubic_to(-8.0, 37.0, -18.0, 37.5, -25.0, 34.0);
            pb.cubic_to(-22.5, 24.0, -21.0, 12.0, -21.0, -2.0);
            pb.cubic_to(-21.0, -16.0, -14.0, -25.0, 0.0, -25.0);
        }
        _ => {
            pb.move_to(0.0, -24.5);
            pb.cubic_to(13.5, -24.5, 20.0, -15.0, 20.0, -2.0);
            pb.cubic_to(20.0, 8.0, 20.5, 14.0, 19.0, 18.0);
            pb.cubic_to(14.0, 19.5, -14.0, 19.5, -19.0, 18.0);
            pb.cubic_to(-20.5, 14.0, -20.0, 8.0, -20.0, -2.0);
            pb.cubic_to(-20.0, -15.0, -13.5, -24.5, 0.0, -24.5);
        }
    }
    pb.close();
    let paint = shaded(linear((0.0, -20.0), (0.0, 36.0), hair, darker(hair, 0.35)));
    fill(pixmap, pb.finish(), &paint, head);
}

fn draw_torso(pixmap: &mut Pixmap, look: &Look, body: Transform, head: Transform) {
    let jacket = look.jacket;
    let shirt = look.shirt;
    let skin = look.skin;

    // Neck first (it is partly hidden by the collar), in the skin's shadow
    // tone, with a darker band under the chin. It follows the head a little.
    let neck_paint = shaded(linear(
        (0.0, 16.0),
        (0.0, 26.0),
        darker(skin, 0.28),
        darker(skin, 0.12),
    ));
    fill(
        pixmap,
        polygon(&[(-7.2, 10.0), (7.2, 10.0), (7.6, 31.0), (-7.6, 31.0)]),
        &neck_paint,
        head,
    );

    // Jacket: rounded shoulders, anchored to the body.
    let mut pb = PathBuilder::new();
    pb.move_to(-47.0, 101.0);
    pb.line_to(-45.0, 91.0);
    pb.cubic_to(-43.5, 82.5, -35.0, 78.5, -22.0, 76.6);
    pb.line_to(-7.5, 74.2);
    pb.line_to(7.5, 74.2);
    pb.line_to(22.0, 76.6);
    pb.cubic_to(35.0, 78.5, 43.5, 82.5, 45.0, 91.0);
    pb.line_to(47.0, 101.0);
    pb.close();
    let jacket_paint = shaded(linear(
        (0.0, 74.0),
        (0.0, 101.0),
        lighter(jacket, 0.12),
        darker(jacket, 0.15),
    ));
    fill(pixmap, pb.finish(), &jacket_paint, body);

    // Shirt front in the jacket's opening.
    fill(
        pixmap,
        polygon(&[(-10.5, 74.6), (10.5, 74.6), (0.0, 101.0)]),
        &solid(shirt, 1.0),
        body,
    );
    // Skin in the open collar.
    let mut pb = PathBuilder::new();
    pb.move_to(-6.8, 73.0);
    pb.line_to(6.8, 73.0);
    pb.line_to(0.0, 83.5);
    pb.close();
    fill(pixmap, pb.finish(), &solid(darker(skin, 0.12), 1.0), body);

    // Collar points, with a thin shadow line so they read against the shirt.
    let collar_edge = solid(darker(shirt, 0.25), 1.0);
    for side in [-1.0f32, 1.0] {
        let pts = [
            (side * 6.4, 71.2),
            (side * 10.8, 74.6),
            (side * 5.2, 86.5),
            (side * 0.8, 84.0),
        ];
        fill(pixmap, polygon(&pts), &solid(shirt, 1.0), body);
        let mut pb = PathBuilder::new();
        pb.move_to(pts[0].0, pts[0].1);
        pb.line_to(pts[1].0, pts[1].1);
        pb.line_to(pts[2].0, pts[2].1);
        pb.line_to(pts[3].0, pts[3].1);
        stroke(pixmap, pb.finish(), &collar_edge, 0.45, body);
        // Jacket lapel edge.
        let mut pb = PathBuilder::new();
        pb.move_to(side * 11.0, 75.0);
        pb.line_to(side * 16.5, 79.5);
        pb.line_to(side * 0.6, 101.0);
        stroke(
            pixmap,
            pb.finish(),
            &solid(darker(jacket, 0.35), 1.0),
            0.6,
            body,
        );
    }
}

fn draw_ears(pixmap: &mut Pixmap, look: &Look, head: Transform) {
    let skin = look.skin;
    for side in [-1.0f32, 1.0] {
        fill(
            pixmap,
            oval(side * 16.3, 2.0, 2.9, 4.6),
            &solid(darker(skin, 0.1), 1.0),
            head,
        );
        fill(
            pixmap,
            oval(side * 16.6, 2.3, 1.4, 2.8),
            &solid(darker(skin, 0.25), 1.0),
            head,
        );
    }
}

fn draw_face(pixmap: &mut Pixmap, look: &Look, head: Transform) {
    let skin = look.skin;
    // Soft light from the upper left.
    let paint = shaded(radial(
        (-4.0, -6.0),
        27.0,
        &[
            (0.0, lighter(skin, 0.18)),
            (0.55, skin),
            (1.0, darker(skin, 0.2)),
        ],
    ));
    fill(pixmap, face_path(), &paint, head);
    // Blush.
    for side in [-1.0f32, 1.0] {
        let stops = vec![
            GradientStop::new(0.0, color(look.lips, 0.28)),
            GradientStop::new(1.0, color(look.lips, 0.0)),
        ];
        let shader = RadialGradient::new(
            Point::from_xy(side * 10.0, 9.5),
            Point::from_xy(side * 10.0, 9.5),
            4.5,
            stops,
            SpreadMode::Pad,
            Transform::identity(),
        );
        if let Some(shader) = shader {
            fill(
                pixmap,
                oval(side * 10.0, 9.5, 4.5, 4.5),
                &shaded(shader),
                head,
            );
        }
    }
}

fn draw_front_hair(pixmap: &mut Pixmap, look: &Look, head: Transform) {
    let hair = look.hair;
    let paint = shaded(linear((0.0, -25.0), (0.0, 0.0), lighter(hair, 0.12), hair));
    let mut pb = PathBuilder::new();
    match look.hair_style {
        HairStyle::Short => {
            pb.move_to(-16.9, 1.0);
            pb.cubic_to(-18.5, -9.0, -17.0, -24.5, 0.0, -24.5);
            pb.cubic_to(15.0, -24.5, 18.5, -12.0, 16.9, 1.0);
            pb.cubic_to(15.8, -4.0, 15.0, -9.0, 12.5, -12.5);
            pb.cubic_to(6.0, -11.0, -4.0, -14.5, -7.5, -15.5);
            pb.cubic_to(-11.5, -12.0, -15.0, -7.0, -16.9, 1.0);
            pb.close();
        }
        HairStyle::Long => {
            pb.move_to(-17.5, 8.0);
            pb.cubic_to(-19.5, -8.0, -15.5, -25.0, 0.0, -25.0);
            pb.cubic_to(15.5, -25.0, 19.5, -8.0, 17.5, 8.0);
            pb.cubic_to(15.5, -2.0, 13.0, -10.0, 8.0, -14.5);
            pb.cubic_to(2.0, -9.0, -8.0, -6.0, -15.0, -5.0);
            pb.cubic_to(-16.0, -1.0, -17.0, 3.0, -17.5, 8.0);
            pb.close();
        }
        HairStyle::Bob => {
            pb.move_to(-17.5, 10.0);
            pb.cubic_to(-19.5, -8.0, -15.5, -25.0, 0.0, -25.0);
            pb.cubic_to(15.5, -25.0, 19.5, -8.0, 17.5, 10.0);
            pb.cubic_to(16.0, 2.0, 15.5, -4.0, 14.0, -8.0);
            pb.cubic_to(6.0, -7.0, -6.0, -7.0, -14.0, -8.0);
            pb.cubic_to(-15.5, -4.0, -16.0, 2.0, -17.5, 10.0);
            pb.close();
        }
        HairStyle::Curly => {
            pb.move_to(-16.8, 0.0);
            pb.cubic_to(-18.0, -10.0, -15.0, -22.0, 0.0, -22.5);
            pb.cubic_to(15.0, -22.0, 18.0, -10.0, 16.8, 0.0);
            pb.cubic_to(15.5, -6.0, 13.0, -11.0, 9.0, -12.5);
            pb.cubic_to(3.0, -11.0, -3.0, -11.0, -9.0, -12.5);
            pb.cubic_to(-13.0, -11.0, -15.5, -6.0, -16.8, 0.0);
            pb.close();
        }
    }
    fill(pixmap, pb.finish(), &paint, head);
    if look.hair_style == HairStyle::Curly {
        // Curls along the crown and the hairline.
        let curl = solid(hair, 1.0);
        let highlight = solid(lighter(hair, 0.15), 0.5);
        for i in 0..11 {
            let a = std::f32::consts::PI * (1.08 + 0.84 * i as f32 / 10.0);
            let (x, y) = (17.0 * a.cos(), -7.0 + 16.0 * a.sin());
            fill(pixmap, oval(x, y, 4.2, 4.2), &curl, head);
            fill(pixmap, oval(x - 1.1, y - 1.4, 1.1, 0.7), &highlight, head);
        }
        for i in 0..5 {
            let x = -8.0 + 4.0 * i as f32;
            fill(
                pixmap,
                oval(x, -12.5 - (i % 2) as f32, 3.0, 2.8),
                &curl,
                head,
            );
        }
    } else {
        // A sheen line gives the hair some volume.
        let mut pb = PathBuilder::new();
        pb.move_to(-9.0, -19.5);
        pb.cubic_to(-4.0, -22.5, 4.0, -22.5, 9.0, -19.5);
        stroke(
            pixmap,
            pb.finish(),
            &solid(lighter(hair, 0.3), 0.45),
            1.2,
            head,
        );
    }
}

fn draw_brows(pixmap: &mut Pixmap, look: &Look, pose: &Pose, head: Transform) {
    let paint = solid(darker(look.hair, 0.1), 1.0);
    let lift = pose.brow_raise;
    for side in [-1.0f32, 1.0] {
        let mut pb = PathBuilder::new();
        pb.move_to(side * 3.4, -3.6 - lift * 0.8);
        pb.quad_to(side * 6.5, -6.0 - lift, side * 9.6, -4.2 - lift * 0.7);
        stroke(pixmap, pb.finish(), &paint, 1.25, head);
    }
}

fn draw_eyes(pixmap: &mut Pixmap, look: &Look, pose: &Pose, head: Transform) {
    let open = pose.eye_open.clamp(0.0, 1.0);
    let lid = solid(darker(look.hair, 0.3), 1.0);
    for side in [-1.0f32, 1.0] {
        let (cx, cy) = (side * EYE_X, EYE_Y);
        let (rx, ry) = (3.2, 2.1 * open);
        if open < 0.2 {
            // Closed: a lash line curving down.
            let mut pb = PathBuilder::new();
            pb.move_to(cx - rx, cy);
            pb.quad_to(cx, cy + 1.2, cx + rx, cy);
            stroke(pixmap, pb.finish(), &lid, 0.7, head);
            continue;
        }
        // Almond-shaped eye white.
        let almond = |extra: f32| {
            let mut pb = PathBuilder::new();
            pb.move_to(cx - rx - extra, cy);
            pb.cubic_to(
                cx - rx * 0.5,
                cy - ry * 1.35,
                cx + rx * 0.5,
                cy - ry * 1.35,
                cx + rx + extra,
                cy,
            );
            pb.cubic_to(
                cx + rx * 0.5,
                cy + ry * 1.25,
                cx - rx * 0.5,
                cy + ry * 1.25,
                cx - rx - extra,
                cy,
            );
            pb.close();
            pb.finish()
        };
        fill(
            pixmap,
            almond(0.0),
            &solid(Rgb::new(0xFA, 0xF8, 0xF5), 1.0),
            head,
        );
        // Iris and pupil, squashed with the lid so they never spill out.
        let squash = open.min(1.0);
        fill(
            pixmap,
            oval(cx, cy + 0.1, 1.75, 1.75 * squash),
            &solid(look.iris, 1.0),
            head,
        );
        fill(
            pixmap,
            oval(cx, cy + 0.1, 0.85, 0.85 * squash),
            &solid(Rgb::new(0x15, 0x10, 0x10), 1.0),
            head,
        );
        fill(
            pixmap,
            oval(cx + 0.55, cy - 0.55 * squash, 0.42, 0.42 * squash),
            &solid(Rgb::new(0xFF, 0xFF, 0xFF), 1.0),
            head,
        );
        // Upper lid line.
        let mut pb = PathBuilder::new();
        pb.move_to(cx - rx - 0.2, cy + 0.1);
        pb.cubic_to(
            cx - rx * 0.5,
            cy - ry * 1.35,
            cx + rx * 0.5,
            cy - ry * 1.35,
            cx + rx + 0.3,
            cy - 0.1,
        );
        stroke(pixmap, pb.finish(), &lid, 0.75, head);
    }
}

fn draw_nose(pixmap: &mut Pixmap, look: &Look, head: Transform) {
    let shadow = solid(darker(look.skin, 0.3), 0.8);
    let mut pb = PathBuilder::new();
    pb.move_to(0.9, 3.0);
    pb.cubic_to(1.4, 5.5, 2.4, 7.6, 1.6, 8.8);
    pb.quad_to(0.6, 9.7, -1.0, 9.2);
    stroke(pixmap, pb.finish(), &shadow, 0.7, head);
}

fn draw_mouth(pixmap: &mut Pixmap, look: &Look, pose: &Pose, head: Transform) {
    let open = pose.mouth_open.clamp(0.0, 1.0);
    let lips = look.lips;
    let y = MOUTH_Y;
    if open < 0.04 {
        // Closed: a gentle smile and a hint of the lower lip.
        let mut pb = PathBuilder::new();
        pb.move_to(-4.6, y - 0.4);
        pb.quad_to(0.0, y + 1.6, 4.6, y - 0.4);
        stroke(
            pixmap,
            pb.finish(),
            &solid(darker(lips, 0.15), 1.0),
            0.95,
            head,
        );
        let mut pb = PathBuilder::new();
        pb.move_to(-2.2, y + 1.9);
        pb.quad_to(0.0, y + 2.7, 2.2, y + 1.9);
        stroke(pixmap, pb.finish(), &solid(lips, 0.55), 0.8, head);
        return;
    }
    let round = pose.mouth_round.clamp(0.0, 1.0);
    // Round vowels pull the corners in and the mouth a little taller.
    let half_width = 5.0 - 0.4 * open - 1.6 * round * open;
    let height = (1.0 + 4.9 * open) * (1.0 + 0.15 * round);
    let top_ctrl = y + 0.9 - 0.6 * open;
    let bottom_ctrl = y + 2.0 * height;
    let shape = |upper: f32, lower: f32| {
        let mut pb = PathBuilder::new();
        pb.move_to(-half_width, y - 0.3);
        pb.quad_to(0.0, upper, half_width, y - 0.3);
        pb.quad_to(0.0, lower, -half_width, y - 0.3);
        pb.close();
        pb.finish()
    };
    // Mouth interior, teeth, tongue, then the lips around it.
    fill(
        pixmap,
        shape(top_ctrl, bottom_ctrl),
        &solid(Rgb::new(0x4A, 0x1C, 0x22), 1.0),
        head,
    );
    if open > 0.15 {
        let teeth = top_ctrl + (height * 0.7).min(2.2);
        fill(
            pixmap,
            shape(top_ctrl, teeth),
            &solid(Rgb::new(0xF6, 0xF2, 0xEC), 1.0),
            head,
        );
        let tongue = top_ctrl + (bottom_ctrl - top_ctrl) * 0.62;
        fill(
            pixmap,
            shape(tongue, bottom_ctrl),
            &solid(Rgb::new(0xB8, 0x58, 0x5E), 1.0),
            head,
        );
    }
    stroke(
        pixmap,
        shape(top_ctrl, bottom_ctrl),
        &solid(lips, 1.0),
        0.95,
        head,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_get_a_stable_look_and_variants_share_a_base() {
        assert_eq!(Look::for_code("gia.casual"), Look::for_code("gia.casual"));
        assert_eq!(Look::for_code("ava.business"), Look::for_code("ava"));
        assert_eq!(Look::for_code(""), Look::DEFAULT);
        assert_ne!(Look::for_code("ava"), Look::for_code("leo"));
    }

    #[test]
    fn draws_over_a_flat_background() {
        let mut pixmap = Pixmap::new(320, 180).unwrap();
        let bg = Rgb::new(0, 255, 0);
        draw_avatar(&mut pixmap, &Look::DEFAULT, &Pose::default(), bg);
        let px = |x: u32, y: u32| pixmap.pixel(x, y).unwrap();
        // Corners are the background, the face centre is not.
        assert_eq!((px(2, 2).red(), px(2, 2).green()), (0, 255));
        let (mx, my, _) = mouth_region(320, 180);
        assert_ne!(px(mx as u32, my as u32 - 12).green(), 255);
    }
}
