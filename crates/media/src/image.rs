//! Still images: decoding a slide background into the output frame
//! (letterboxed, BT.709) and encoding PNG/JPEG files (for tests, examples and
//! generated decks).

use std::path::Path;

use ffmpeg::software::scaling;
use ffmpeg::{codec, format, frame, Packet};
use ffmpeg_next as ffmpeg;
use slidecast_core::deck::{Rect, Rgb};

use crate::error::MediaError;
use crate::picture::{fit_rect, rgb_to_yuv709, Yuv420};
use slidecast_av::compat;

/// Open the picture in `path` and return the width and height its header
/// declares (nothing is decoded, so it is cheap for a whole deck): a slide
/// image that cannot be read is reported before any render is paid for
/// its slide. Blocking.
pub fn image_size(path: &Path) -> Result<(u32, u32), MediaError> {
    slidecast_av::init();
    let bad = |m: String| MediaError::bad_input(path, m);
    let ictx = format::input(path).map_err(|e| bad(format!("not a readable image: {e}")))?;
    let stream = ictx
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| bad("no picture in the file".into()))?;
    match compat::video_size(&stream) {
        (0, _) | (_, 0) => Err(bad("the picture has no size (damaged header)".into())),
        size => Ok(size),
    }
}

/// Decode the first picture of an image file (PNG, JPEG, anything FFmpeg's
/// image decoders read) as packed RGB, with transparency composited over
/// `matte`.
pub fn decode_rgb(path: &Path, matte: Rgb) -> Result<frame::Video, MediaError> {
    let bad = |m: String| MediaError::bad_input(path, m);
    let mut ictx = format::input(path).map_err(|e| bad(format!("not a readable image: {e}")))?;
    let stream = ictx
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| bad("no picture in the file".into()))?;
    let index = stream.index();
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|e| bad(format!("no decoder for this image: {e}")))?;
    let mut decoded = frame::Video::empty();
    let mut got = false;
    let mut packet = Packet::empty();
    loop {
        match crate::read_packet(&mut ictx, &mut packet) {
            Ok(()) if packet.stream() == index => {
                decoder
                    .send_packet(&packet)
                    .map_err(|e| bad(format!("cannot decode the image: {e}")))?;
                if decoder.receive_frame(&mut decoded).is_ok() {
                    got = true;
                    break;
                }
            }
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(e) => return Err(bad(format!("cannot read the image: {e}"))),
        }
    }
    if !got {
        let _ = decoder.send_eof();
        got = decoder.receive_frame(&mut decoded).is_ok();
    }
    if !got || decoded.width() == 0 || decoded.height() == 0 {
        return Err(bad("the image has no decodable picture".into()));
    }
    // JPEG decodes to full-range BT.601 YUV: convert to RGB first, so the
    // final RGB -> BT.709 step is the only matrix that matters.
    let mut rgba = frame::Video::empty();
    let mut to_rgba = scaling::Context::get(
        decoded.format(),
        decoded.width(),
        decoded.height(),
        format::Pixel::RGBA,
        decoded.width(),
        decoded.height(),
        scaling::Flags::BICUBIC,
    )
    .map_err(|e| {
        bad(format!(
            "unsupported pixel format {:?}: {e}",
            decoded.format()
        ))
    })?;
    let full_range = matches!(
        decoded.format(),
        format::Pixel::YUVJ420P | format::Pixel::YUVJ422P | format::Pixel::YUVJ444P
    ) || decoded.color_range() == ffmpeg::color::Range::JPEG;
    let src_709 = decoded.color_space() == ffmpeg::color::Space::BT709;
    compat::set_scaler_colorspace(&mut to_rgba, src_709, full_range, false, true);
    to_rgba
        .run(&decoded, &mut rgba)
        .map_err(|e| bad(format!("cannot convert the image: {e}")))?;

    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    let mut rgb = frame::Video::new(format::Pixel::RGB24, rgba.width(), rgba.height());
    let (ss, ds) = (rgba.stride(0), rgb.stride(0));
    let src = rgba.data(0);
    let dst = rgb.data_mut(0);
    let m = [u32::from(matte.r), u32::from(matte.g), u32::from(matte.b)];
    for y in 0..h {
        for x in 0..w {
            let s = &src[y * ss + x * 4..y * ss + x * 4 + 4];
            let a = u32::from(s[3]);
            for c in 0..3 {
                dst[y * ds + x * 3 + c] =
                    ((u32::from(s[c]) * a + m[c] * (255 - a) + 127) / 255) as u8;
            }
        }
    }
    Ok(rgb)
}

/// The slide picture for one output frame: the image at `path` fitted into
/// `area` keeping its aspect ratio, the rest of the `width` x `height` frame
/// filled with `background`, converted once to BT.709 YUV 4:2:0.
pub fn slide_picture(
    path: &Path,
    width: u32,
    height: u32,
    area: Rect,
    background: Rgb,
) -> Result<Yuv420, MediaError> {
    let rgb = decode_rgb(path, background)?;
    let mut canvas = Yuv420::filled(width, height, rgb_to_yuv709(background));
    let fitted = fit_rect(rgb.width(), rgb.height(), area);
    let mut scaler = scaling::Context::get(
        format::Pixel::RGB24,
        rgb.width(),
        rgb.height(),
        format::Pixel::YUV420P,
        fitted.width,
        fitted.height,
        scaling::Flags::LANCZOS | scaling::Flags::ACCURATE_RND | scaling::Flags::FULL_CHR_H_INT,
    )
    .map_err(MediaError::ff("image scaler"))?;
    compat::set_scaler_colorspace(&mut scaler, true, true, true, false);
    let mut scaled = frame::Video::empty();
    scaler
        .run(&rgb, &mut scaled)
        .map_err(MediaError::ff("scale image"))?;
    canvas.blit(&scaled, fitted.x, fitted.y);
    Ok(canvas)
}

/// Write a slide-like picture to `path` (PNG or JPEG by extension), for
/// benchmarks and tests: a light gradient with a title bar tinted by `hue`
/// and dark lines of "text", the kind of mostly static content a deck has.
pub fn write_mock_slide(path: &Path, width: u32, height: u32, hue: u8) -> Result<(), MediaError> {
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    for y in 0..height {
        for x in 0..width {
            let i = ((y * width + x) * 3) as usize;
            let title = (80..200).contains(&y) && (120..1500).contains(&x);
            let line = y > 300 && (y - 300) % 90 < 30 && (160..(900 + (y * 7 % 600))).contains(&x);
            let (r, g, b) = if title {
                (hue, 60, 200u8.wrapping_sub(hue))
            } else if line {
                (40, 40, 50)
            } else {
                (
                    230u8.saturating_sub((x / 40) as u8),
                    235u8.saturating_sub((y / 40) as u8),
                    225,
                )
            };
            rgb[i..i + 3].copy_from_slice(&[r, g, b]);
        }
    }
    write_image(path, width, height, &rgb)
}

/// Encode packed RGB pixels (`width * height * 3` bytes) as a PNG, or a JPEG
/// when `path` ends in `.jpg`/`.jpeg`. Written to a temporary file and
/// renamed.
pub fn write_image(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), MediaError> {
    crate::init();
    if rgb.len() != (width * height * 3) as usize || width == 0 || height == 0 {
        return Err(MediaError::msg(format!(
            "{}: {} bytes is not a {width}x{height} RGB picture",
            path.display(),
            rgb.len()
        )));
    }
    let jpeg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
    let mut src = frame::Video::new(format::Pixel::RGB24, width, height);
    let stride = src.stride(0);
    let row = (width * 3) as usize;
    for (y, line) in rgb.chunks_exact(row).enumerate() {
        src.data_mut(0)[y * stride..y * stride + row].copy_from_slice(line);
    }
    let (codec_name, pixel) = if jpeg {
        ("mjpeg", format::Pixel::YUVJ420P)
    } else {
        ("png", format::Pixel::RGB24)
    };
    let picture = if jpeg {
        let mut conv = scaling::Context::get(
            format::Pixel::RGB24,
            width,
            height,
            pixel,
            width,
            height,
            scaling::Flags::BICUBIC,
        )
        .map_err(MediaError::ff("jpeg colour conversion"))?;
        compat::set_scaler_colorspace(&mut conv, false, true, false, true);
        let mut out = frame::Video::empty();
        conv.run(&src, &mut out)
            .map_err(MediaError::ff("jpeg colour conversion"))?;
        out
    } else {
        src
    };
    let codec = ffmpeg::encoder::find_by_name(codec_name)
        .ok_or_else(|| MediaError::msg(format!("FFmpeg has no {codec_name} encoder")))?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(MediaError::ff("image encoder"))?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(pixel);
    enc.set_time_base(ffmpeg::Rational::new(1, 25));
    if jpeg {
        enc.set_color_range(ffmpeg::color::Range::JPEG);
        enc.set_qmin(2);
        enc.set_qmax(3);
    }
    let mut enc = enc
        .open()
        .map_err(MediaError::ff(format!("open {codec_name} encoder")))?;
    let mut picture = picture;
    picture.set_pts(Some(0));
    enc.send_frame(&picture)
        .map_err(MediaError::ff("encode image"))?;
    enc.send_eof().map_err(MediaError::ff("encode image"))?;
    let mut bytes = Vec::new();
    let mut packet = Packet::empty();
    while enc.receive_packet(&mut packet).is_ok() {
        bytes.extend_from_slice(packet.data().unwrap_or_default());
    }
    slidecast_core::atomic::write_atomic(path, &bytes).map_err(MediaError::io(path))
}
