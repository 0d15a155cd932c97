//! Deck loading and validation: defaults, every problem at once, no panics.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use slidecast_core::deck::{
    Corner, Layout, Placement, Quality, QualityLevel, Rgb, Shape, Transition,
};
use slidecast_core::{Deck, DeckError, DeckProblem};

/// A folder with a deck file and two small slide images.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("slides")).unwrap();
        for name in ["a.png", "b.png"] {
            std::fs::write(dir.path().join("slides").join(name), b"\x89PNG not really").unwrap();
        }
        Fixture { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(&self, text: &str) -> Result<Deck, DeckError> {
        Deck::load(&self.write("deck.toml", text))
    }

    /// Load, knowing which providers exist (as a render pipeline does).
    fn load_known(&self, text: &str) -> Result<Deck, DeckError> {
        let options = slidecast_core::LoadOptions::default().providers(["local", "elai", "mock"]);
        Deck::load_with(&self.write("deck.toml", text), &options)
    }
}

fn problems(err: DeckError) -> Vec<DeckProblem> {
    match err {
        DeckError::Invalid(p) => p,
        other => panic!("expected validation problems, got {other}"),
    }
}

fn has(problems: &[DeckProblem], slide: Option<usize>, field: &str) -> bool {
    problems
        .iter()
        .any(|p| p.slide == slide && p.field == field)
}

#[test]
fn minimal_deck_gets_every_default() {
    let fx = Fixture::new();
    let deck = fx
        .load(
            r#"
            [[slides]]
            image = "slides/a.png"
            script = "Hello there."
            "#,
        )
        .unwrap();
    assert_eq!(deck.title, "deck");
    assert_eq!(
        (deck.output.width, deck.output.height, deck.output.fps),
        (1920, 1080, 25)
    );
    assert_eq!(deck.output.background, Rgb::BLACK);
    assert_eq!(deck.output.quality, Quality::Level(QualityLevel::Standard));
    assert_eq!(deck.output.loudness, Some(-16.0));
    let slide = &deck.slides[0];
    assert_eq!(slide.number, 1);
    assert_eq!(slide.image, fx.dir.path().join("slides/a.png"));
    assert_eq!(slide.transition, Transition::Cut);
    let p = slide
        .presenter
        .as_ref()
        .expect("narrated slide has a presenter");
    assert_eq!(p.provider, "local");
    assert_eq!(p.avatar, "default");
    assert_eq!(p.shape, Shape::Rectangle);
    assert_eq!(p.avatar_background, Rgb::GREEN);
    assert_eq!(
        p.layout,
        Layout::PictureInPicture(Placement::Corner {
            corner: Corner::BottomRight,
            margin: 40,
            scale: 0.3
        })
    );
    let requests = slide.clip_requests(&deck);
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.script, "Hello there.");
    assert_eq!(req.canvas.0 % 2, 0);
}

#[test]
fn overrides_chroma_key_fade_and_slide_only() {
    let fx = Fixture::new();
    let deck = fx
        .load(
            r##"
            title = "Quarterly"
            [output]
            width = 1280
            height = 720
            fps = 30
            background = "#101820"
            quality = { preset = "veryfast", crf = 20 }
            [presenter]
            provider = "mock"
            layout = "split-screen"
            split_ratio = 0.6
            shape = "chroma-key"
            avatar_background = "#0000FF"

            [[slides]]
            image = "slides/a.png"
            script = "One."
            transition = "fade"

            [[slides]]
            image = "slides/b.png"
            duration = 4.0
            transition = { kind = "fade", duration = 1.5 }

            [[slides]]
            image = "slides/b.png"
            script = "Three is narrated but shown without presenter, five words."
            slide_only = true

            [[slides]]
            image = "slides/a.png"
            script = "Four."
            [slides.presenter]
            layout = "side-by-side"
            shape = "circle"
            avatar = "gia.casual"
            "##,
        )
        .unwrap();
    assert_eq!(deck.title, "Quarterly");
    assert_eq!(deck.output.quality.x264(), ("veryfast", 20));
    let s1 = deck.slides[0].presenter.as_ref().unwrap();
    assert_eq!(s1.layout, Layout::SplitScreen { ratio: 0.6 });
    assert_eq!(
        s1.shape,
        Shape::ChromaKey {
            key: Rgb::new(0, 0, 255),
            similarity: 0.3,
            blend: 0.1
        }
    );
    assert_eq!(
        deck.slides[0].transition,
        Transition::Fade {
            duration: Duration::from_millis(500)
        }
    );
    assert!(deck.slides[1].presenter.is_none());
    assert_eq!(deck.slides[1].duration, Some(Duration::from_secs(4)));
    assert_eq!(
        deck.slides[1].transition,
        Transition::Fade {
            duration: Duration::from_millis(1500)
        }
    );
    // Narrated but slide-only: no presenter, length estimated from the words.
    assert!(deck.slides[2].presenter.is_none());
    assert!(deck.slides[2].duration.unwrap() >= Duration::from_secs(1));
    let s4 = deck.slides[3].presenter.as_ref().unwrap();
    assert_eq!(s4.layout, Layout::SideBySide);
    assert_eq!(s4.shape, Shape::Circle);
    assert_eq!(s4.avatar, "gia.casual");
    assert_eq!(s4.provider, "mock");
    assert_eq!(deck.presenter_slides().count(), 2);
}

#[test]
fn deck_wide_slide_only_has_no_presenters() {
    let fx = Fixture::new();
    let deck = fx
        .load(
            r#"
            slide_only = true
            [presenter]
            provider = "elai"
            [[slides]]
            image = "slides/a.png"
            script = "Narration that nobody will speak."
            [[slides]]
            image = "slides/b.png"
            duration = 2
            "#,
        )
        .unwrap();
    assert!(deck.slides.iter().all(|s| s.presenter.is_none()));
    assert!(deck.slides.iter().all(|s| s.duration.is_some()));
}

#[test]
fn json_decks_work_through_the_same_path() {
    let fx = Fixture::new();
    let path = fx.write(
        "deck.json",
        r#"{"slides": [{"image": "slides/a.png", "script": "Hi."}]}"#,
    );
    let deck = Deck::load(&path).unwrap();
    assert_eq!(deck.slides.len(), 1);
    assert!(deck.slides[0].presenter.is_some());
}

#[test]
fn every_problem_is_reported_with_slide_and_field() {
    let fx = Fixture::new();
    let err = fx
        .load_known(
            r##"
            [output]
            width = 1921
            height = 0
            fps = 0
            background = "black"
            quality = { preset = "warp", crf = 60 }
            loudness = -3
            [presenter]
            provider = "heygen"
            layout = "diagonal"
            shape = "hexagon"
            split_ratio = 0.95
            avatar_background = "#GGGGGG"

            [[slides]]
            image = "slides/missing.png"
            script = "Hi."

            [[slides]]
            image = "slides/a.png"

            [[slides]]
            image = "slides/a.png"
            duration = -1
            transition = "wipe"

            [[slides]]
            script = "No image."
            [slides.presenter]
            placement = { corner = "top-left", margin = 10, scale = 1.5 }
            key_color = "#12"

            [[slides]]
            image = "slides/b.png"
            script = "Off screen."
            [slides.presenter]
            placement = { x = 100, y = 100, width = 640, height = 360 }
            "##,
        )
        .unwrap_err();
    let p = problems(err);
    for (slide, field) in [
        (None, "output.width"),
        (None, "output.height"),
        (None, "output.fps"),
        (None, "output.background"),
        (None, "output.quality.preset"),
        (None, "output.quality.crf"),
        (None, "output.loudness"),
        (None, "presenter.provider"),
        (None, "presenter.layout"),
        (None, "presenter.shape"),
        (None, "presenter.split_ratio"),
        (None, "presenter.avatar_background"),
        (Some(1), "image"),
        (Some(2), "script"),
        (Some(3), "duration"),
        (Some(3), "transition"),
        (Some(4), "image"),
        (Some(4), "presenter.placement.scale"),
        (Some(4), "presenter.key_color"),
    ] {
        assert!(
            has(&p, slide, field),
            "no problem for {slide:?} {field} in {p:#?}"
        );
    }
    // Every problem names the deck file.
    assert!(p.iter().all(|x| x.file == fx.dir.path().join("deck.toml")));
    // The bad deck-level provider is reported once, not once per slide.
    assert_eq!(
        p.iter().filter(|x| x.field == "presenter.provider").count(),
        1
    );
    let text = DeckError::Invalid(p).to_string();
    assert!(text.contains("slide 1: image"), "{text}");
}

#[test]
fn placement_off_screen_is_reported() {
    let fx = Fixture::new();
    let p = problems(
        fx.load(
            r#"
            [output]
            width = 640
            height = 360
            [[slides]]
            image = "slides/a.png"
            script = "Off screen."
            [slides.presenter]
            placement = { x = 100, y = 100, width = 640, height = 360 }
            [[slides]]
            image = "slides/a.png"
            script = "Margin too wide."
            [slides.presenter]
            placement = { corner = "top-right", margin = 300, scale = 0.5 }
            "#,
        )
        .unwrap_err(),
    );
    assert!(has(&p, Some(1), "presenter.placement"), "{p:#?}");
    assert!(has(&p, Some(2), "presenter.placement"), "{p:#?}");
}

#[test]
fn elai_needs_an_avatar_reported_once() {
    let fx = Fixture::new();
    let p = problems(
        fx.load(
            r#"
            [presenter]
            provider = "elai"
            [[slides]]
            image = "slides/a.png"
            script = "One."
            [[slides]]
            image = "slides/b.png"
            script = "Two."
            "#,
        )
        .unwrap_err(),
    );
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].field, "presenter.avatar");
    assert_eq!(p[0].slide, None);
}

#[test]
fn empty_deck_and_empty_image_and_long_script() {
    let fx = Fixture::new();
    let p = problems(fx.load("title = \"nothing\"\n").unwrap_err());
    assert!(has(&p, None, "slides"));

    std::fs::write(fx.dir.path().join("slides/empty.png"), b"").unwrap();
    let long = "word ".repeat(5000);
    let p = problems(
        fx.load(&format!(
            "[[slides]]\nimage = \"slides/empty.png\"\nscript = \"{long}\"\n[[slides]]\nimage = \"slides\"\nduration = 1\n"
        ))
        .unwrap_err(),
    );
    assert!(has(&p, Some(1), "image"));
    assert!(has(&p, Some(1), "script"));
    assert!(
        has(&p, Some(2), "image"),
        "a folder is not an image: {p:#?}"
    );
}

#[test]
fn toml_syntax_error_shows_line_and_column() {
    let fx = Fixture::new();
    let err = fx
        .load("title = \"x\"\n[output]\nwidth = = 3\n")
        .unwrap_err();
    let DeckError::Syntax { path, message } = &err else {
        panic!("expected a syntax error, got {err}");
    };
    assert_eq!(path, &fx.dir.path().join("deck.toml"));
    assert!(message.starts_with("line 3, column "), "{message}");
    // A wrong type is reported with its position.
    let err = fx
        .load("[[slides]]\nimage = \"slides/a.png\"\nduration = \"long\"\n")
        .unwrap_err();
    assert!(matches!(err, DeckError::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn misspelt_fields_are_reported_with_the_rest() {
    let fx = Fixture::new();
    let p = problems(
        fx.load(
            r#"
            titel = "x"
            [output]
            widht = 1280
            [presenter]
            avatr = "gia"
            [[slides]]
            imgae = "slides/a.png"
            script = "Hi."
            [[slides]]
            image = "slides/a.png"
            duration = 2
            [slides.presenter]
            lyout = "side-by-side"
            zzzzzz = 1
            [[slides]]
            image = "slides/nope.png"
            duration = 1
            "#,
        )
        .unwrap_err(),
    );
    let find = |slide: Option<usize>, field: &str| {
        p.iter()
            .find(|x| x.slide == slide && x.field == field)
            .unwrap_or_else(|| panic!("no {slide:?} {field} in {p:#?}"))
    };
    assert!(find(None, "titel").message.contains("did you mean `title`"));
    assert!(find(None, "output.widht").message.contains("`width`"));
    assert!(find(None, "presenter.avatr").message.contains("`avatar`"));
    assert!(find(Some(1), "imgae").message.contains("`image`"));
    assert!(find(Some(2), "presenter.lyout")
        .message
        .contains("`layout`"));
    assert!(find(Some(2), "presenter.zzzzzz")
        .message
        .contains("expected one of"));
    // And the ordinary problems in the same report.
    find(Some(1), "image");
    find(Some(3), "image");
}

#[test]
fn unreadable_deck_file_names_the_path() {
    let err = Deck::load(Path::new("/nonexistent/deck.toml")).unwrap_err();
    assert!(matches!(err, DeckError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/deck.toml"));
}

/// Random bytes, random TOML-ish text and mutated valid decks never panic.
#[test]
fn garbage_never_panics() {
    let fx = Fixture::new();
    let valid = r##"title = "t"
[output]
width = 640
height = 360
[presenter]
placement = { corner = "top-left", margin = 4, scale = 0.5 }
[[slides]]
image = "slides/a.png"
script = "Hi é ünïcode."
transition = { kind = "fade", duration = 0.5 }
[[slides]]
image = "slides/b.png"
duration = 2.5
"##;
    let alphabet: Vec<char> = "[]{}=\"#.,-_ \n\tabcxyz0129éß🙂\\'".chars().collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..1500 {
        let text: String = match round % 3 {
            0 => (0..rng.gen_range(0..200))
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect(),
            1 => {
                let mut chars: Vec<char> = valid.chars().collect();
                for _ in 0..rng.gen_range(1..6) {
                    let at = rng.gen_range(0..chars.len());
                    if rng.gen_bool(0.5) {
                        chars[at] = alphabet[rng.gen_range(0..alphabet.len())];
                    } else {
                        chars.remove(at);
                    }
                }
                chars.into_iter().collect()
            }
            _ => {
                let bytes: Vec<u8> = (0..rng.gen_range(0..100)).map(|_| rng.gen()).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        let path = fx
            .dir
            .path()
            .join(if round % 2 == 0 { "g.toml" } else { "g.json" });
        // Only checking that it returns.
        let _ = Deck::from_str_at(&text, &path);
    }
    // Extreme numbers.
    for extreme in ["1e308", "-0.0", "nan", "inf", "-inf", "0.0000001"] {
        let text = format!(
            "[presenter]\nsplit_ratio = {extreme}\nkey_similarity = {extreme}\n[[slides]]\nimage = \"slides/a.png\"\nduration = {extreme}\ntransition = {{ kind = \"fade\", duration = {extreme} }}\n"
        );
        let _ = Deck::from_str_at(&text, &fx.dir.path().join("x.toml"));
    }
}

#[test]
fn quality_and_placement_errors_say_what_is_accepted() {
    let fx = Fixture::new();
    let err = fx
        .load("[output]\nquality = \"ultra\"\n[[slides]]\nimage = \"slides/a.png\"\nduration = 1\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("unknown quality `ultra`"),
        "{err}"
    );
    assert!(err.contains("draft, standard, high"), "{err}");

    let err = fx
        .load("[presenter]\nplacement = { corner = \"middle\" }\n[[slides]]\nimage = \"slides/a.png\"\nduration = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("placement"), "{err}");
    assert!(err.contains("middle"), "{err}");

    let err = fx
        .load("[presenter]\nplacement = { x = 1, y = 2 }\n[[slides]]\nimage = \"slides/a.png\"\nduration = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("width"), "{err}");

    let deck = fx
        .load("[output]\nquality = \"high\"\n[presenter]\nplacement = { x = 10, y = 20, width = 320, height = 180 }\n[[slides]]\nimage = \"slides/a.png\"\nscript = \"Hi.\"\n")
        .unwrap();
    assert_eq!(deck.output.quality.x264(), ("medium", 18));
    assert_eq!(
        deck.slides[0].presenter.as_ref().unwrap().layout,
        Layout::PictureInPicture(Placement::Rect(slidecast_core::deck::Rect::new(
            10, 20, 320, 180
        )))
    );
}

/// Structured decks with every field set to odd values never panic, and a
/// deck that loads always has consistent slides.
#[test]
fn odd_values_in_every_field_never_panic() {
    let fx = Fixture::new();
    let values = [
        "0",
        "-1",
        "1",
        "2",
        "3",
        "7.5",
        "0.05",
        "0.5",
        "0.95",
        "1e12",
        "-0.0",
        "nan",
        "inf",
        "true",
        "\"\"",
        "\" \"",
        "\"#00FF00\"",
        "\"#12345G\"",
        "\"slides/a.png\"",
        "\"../..\"",
        "\"fade\"",
        "\"cut\"",
        "\"circle\"",
        "\"chroma-key\"",
        "\"split-screen\"",
        "\"side-by-side\"",
        "\"elai\"",
        "\"mock\"",
        "\"local\"",
        "\"standard\"",
        "[]",
        "{}",
        "{ kind = \"fade\", duration = 0.2 }",
        "{ corner = \"top-left\", margin = 0, scale = 1.0 }",
        "{ x = 0, y = 0, width = 64, height = 36 }",
        "{ preset = \"fast\", crf = 51 }",
    ];
    let output = ["width", "height", "fps", "background", "quality"];
    let presenter = [
        "provider",
        "avatar",
        "layout",
        "placement",
        "split_ratio",
        "shape",
        "key_color",
        "key_similarity",
        "key_blend",
        "avatar_background",
    ];
    let slide = ["image", "script", "duration", "transition", "slide_only"];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut loaded = 0;
    for _ in 0..3000 {
        // Each field: absent, an odd value, or (for image and script) a
        // good one, so that some decks are valid.
        let pick = |rng: &mut rand::rngs::StdRng, fields: &[&str], text: &mut String, odd: f64| {
            for f in fields {
                let good = match *f {
                    "image" => Some("\"slides/a.png\""),
                    "script" => Some("\"Hello there.\""),
                    _ => None,
                };
                if rng.gen_bool(odd) {
                    let v = values[rng.gen_range(0..values.len())];
                    text.push_str(&format!("{f} = {v}\n"));
                } else if let Some(v) = good {
                    text.push_str(&format!("{f} = {v}\n"));
                }
            }
        };
        let mut text = String::new();
        if rng.gen_bool(0.2) {
            text.push_str("slide_only = true\n");
        }
        text.push_str("[output]\n");
        pick(&mut rng, &output, &mut text, 0.15);
        text.push_str("[presenter]\n");
        pick(&mut rng, &presenter, &mut text, 0.15);
        let slides = rng.gen_range(0..4);
        for _ in 0..slides {
            text.push_str("[[slides]]\n");
            pick(&mut rng, &slide, &mut text, 0.15);
            text.push_str("[slides.presenter]\n");
            pick(&mut rng, &presenter, &mut text, 0.1);
        }
        if let Ok(deck) = Deck::from_str_at(&text, &fx.dir.path().join("f.toml")) {
            loaded += 1;
            assert!(!deck.slides.is_empty());
            for s in &deck.slides {
                assert!(s.presenter.is_some() || s.duration.is_some(), "{text}");
                for r in s.clip_requests(&deck) {
                    assert!(r.canvas.0 >= 2 && r.canvas.1 >= 2);
                    assert!(!r.script.is_empty());
                }
            }
        }
    }
    assert!(
        loaded > 0,
        "no random deck was valid; the generator is too harsh"
    );
}

#[test]
fn provider_names_are_checked_against_what_the_caller_knows() {
    let fx = Fixture::new();
    let deck = r#"
        [presenter]
        provider = "acme"
        [[slides]]
        image = "slides/a.png"
        script = "Hi."
        "#;
    // Without a list, any well-formed name loads (a tool may register it).
    let loaded = fx.load(deck).unwrap();
    assert_eq!(
        loaded.slides[0].presenter.as_ref().unwrap().provider,
        "acme"
    );
    // With one, an unknown name is a problem naming the field and the list.
    let p = problems(fx.load_known(deck).unwrap_err());
    let bad = p.iter().find(|x| x.field == "presenter.provider").unwrap();
    assert!(
        bad.message.contains("`acme`") && bad.message.contains("local, elai, mock"),
        "{bad}"
    );
    // A malformed name is a problem either way.
    let p = problems(fx.load(&deck.replace("acme", "Acme Video!")).unwrap_err());
    assert!(p.iter().any(|x| x.field == "presenter.provider"), "{p:?}");
}

#[test]
fn loudness_takes_a_target_or_off_and_refuses_other_values() {
    let fx = Fixture::new();
    let load = |value: &str| {
        fx.load(&format!(
            "[output]\nloudness = {value}\n[[slides]]\nimage = \"slides/a.png\"\nscript = \"Hi.\"\n"
        ))
    };
    assert_eq!(load("-23").unwrap().output.loudness, Some(-23.0));
    assert_eq!(load("-14.5").unwrap().output.loudness, Some(-14.5));
    assert_eq!(load("\"off\"").unwrap().output.loudness, None);
    assert_eq!(load("false").unwrap().output.loudness, None);
    let text = load("\"loud\"").unwrap_err().to_string();
    assert!(text.contains("loudness") && text.contains("LUFS"), "{text}");
    let text = load("-60").unwrap_err().to_string();
    assert!(
        text.contains("output.loudness") && text.contains("-60 LUFS"),
        "{text}"
    );
}

#[test]
fn music_plays_under_every_slide_unless_a_slide_changes_or_stops_it() {
    let fx = Fixture::new();
    fx.write("bed.mp3", "not really music");
    fx.write("outro.ogg", "not really music");
    let deck = fx
        .load(
            r#"
            music = "bed.mp3"
            [output]
            music_volume = -20
            [[slides]]
            image = "slides/a.png"
            script = "One."
            [[slides]]
            image = "slides/a.png"
            script = "Two."
            music = "off"
            [[slides]]
            image = "slides/b.png"
            script = "Three."
            music = "outro.ogg"
            "#,
        )
        .unwrap();
    let music: Vec<Option<PathBuf>> = deck.slides.iter().map(|s| s.music.clone()).collect();
    assert_eq!(
        music,
        [
            Some(fx.dir.path().join("bed.mp3")),
            None,
            Some(fx.dir.path().join("outro.ogg"))
        ]
    );
    assert_eq!(deck.output.music_volume, -20.0);

    // No music by default, at -14 dB when there is.
    let plain = fx
        .load("[[slides]]\nimage = \"slides/a.png\"\nscript = \"Hi.\"\n")
        .unwrap();
    assert!(plain.slides[0].music.is_none());
    assert_eq!(plain.output.music_volume, -14.0);

    // A missing file is named with its slide and field; so is a volume
    // out of range.
    let err = fx
        .load(
            r#"
            music = "nowhere.mp3"
            [output]
            music_volume = 6
            [[slides]]
            image = "slides/a.png"
            script = "One."
            music = "gone.wav"
            "#,
        )
        .unwrap_err();
    let p = problems(err);
    for (slide, field) in [
        (None, "music"),
        (Some(1), "music"),
        (None, "output.music_volume"),
    ] {
        assert!(
            has(&p, slide, field),
            "no problem for {slide:?} {field} in {p:#?}"
        );
    }
    let text = DeckError::Invalid(p).to_string();
    assert!(
        text.contains("gone.wav") && text.contains("nowhere.mp3"),
        "{text}"
    );
}
