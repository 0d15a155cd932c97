//! `slidecast render` against fake HeyGen, D-ID and Elai servers on
//! 127.0.0.1: a HeyGen deck (transparent WebM where the avatar has it), and
//! one deck mixing all three vendors slide by slide, every render started
//! before the first is ready, each paid once, priced per vendor by `plan`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{probe_codecs, probe_duration, slidecast};
use slidecast_did::fake::{FakeDid, FakeDidConfig};
use slidecast_elai::fake::{FakeElai, FakeElaiConfig};
use slidecast_heygen::fake::{FakeHeyGen, FakeHeyGenConfig, VOICES};

const RENDER_DELAY: Duration = Duration::from_secs(5);
const PHOTO: &str = "https://images.example/founder.jpg";

struct Fakes {
    _runtime: tokio::runtime::Runtime,
    heygen: FakeHeyGen,
    did: FakeDid,
    elai: FakeElai,
}

/// The three fakes, serving generated 320x180 clips (HeyGen also a VP9
/// WebM with alpha for its transparent avatars).
fn start_fakes(dir: &Path) -> Fakes {
    let mp4 = dir.join("vendor.mp4");
    slidecast_media::mock_clip::write(&mp4, Duration::from_millis(1500), 320, 180, 25).unwrap();
    let webm = dir.join("vendor.webm");
    slidecast_media::MockClip {
        fps: 25,
        transparent: true,
        ..slidecast_media::MockClip::new(Duration::from_millis(1500), 320, 180)
    }
    .write(&webm)
    .unwrap();
    let (mp4, webm) = (std::fs::read(&mp4).unwrap(), std::fs::read(&webm).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let heygen = runtime
        .block_on(FakeHeyGen::start(
            FakeHeyGenConfig::new(mp4.clone())
                .webm(webm)
                .render_delay(RENDER_DELAY),
        ))
        .unwrap();
    let did = runtime
        .block_on(FakeDid::start(
            FakeDidConfig::new(mp4.clone()).render_delay(RENDER_DELAY),
        ))
        .unwrap();
    let elai = runtime
        .block_on(FakeElai::start(
            FakeElaiConfig::new(mp4).render_delay(RENDER_DELAY),
        ))
        .unwrap();
    Fakes {
        _runtime: runtime,
        heygen,
        did,
        elai,
    }
}

/// The binary aimed at the fakes (API roots and keys in the environment).
fn with_fakes(f: &Fakes) -> assert_cmd::Command {
    let mut cmd = slidecast();
    cmd.env("HEYGEN_BASE_URL", f.heygen.base_url())
        .env("HEYGEN_API_KEY", f.heygen.api_key())
        .env("DID_BASE_URL", f.did.base_url())
        .env("DID_API_KEY", f.did.api_key())
        .env("ELAI_BASE_URL", f.elai.base_url())
        .env("ELAI_API_KEY", f.elai.api_key());
    cmd
}

/// A deck presented as `default` says (a `[presenter]` table's lines)
/// whose slide `n` has the presenter table `presenters[n - 1]`.
fn deck(dir: &Path, default: &str, presenters: &[String]) -> PathBuf {
    let mut text = format!(
        "title = \"Vendors\"\n[output]\nwidth = 320\nheight = 180\nfps = 25\nquality = \"draft\"\n\
         [presenter]\n{default}\n"
    );
    for (i, presenter) in presenters.iter().enumerate() {
        let n = i + 1;
        common::png_sized(&dir.join(format!("{n}.png")), 64, 36, [40, 90, 160]);
        text.push_str(&format!(
            "\n[[slides]]\nimage = \"{n}.png\"\nscript = \"Slide {n} says a few words.\"\n{presenter}\n"
        ));
    }
    let path = dir.join("deck.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn heygen(avatar: &str) -> String {
    format!(
        "presenter = {{ provider = \"heygen\", avatar = \"{avatar}\", voice = \"{}\" }}",
        VOICES[0].0
    )
}

fn did_talk() -> String {
    format!("presenter = {{ provider = \"did\", avatar = \"{PHOTO}\", shape = \"circle\" }}")
}

fn elai() -> String {
    "presenter = { provider = \"elai\", avatar = \"gia.casual\" }".to_string()
}

const ELAI_DEFAULT: &str = "provider = \"elai\"\navatar = \"gia.casual\"";

#[test]
fn a_heygen_deck_renders_through_the_binary_with_alpha_where_the_avatar_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = start_fakes(dir.path());
    // The deck says heygen; slide 2 picks an avatar without WebM.
    let default = format!(
        "provider = \"heygen\"\navatar = \"Angela-inTshirt-20220820\"\nvoice = \"{}\"",
        VOICES[0].0
    );
    let deck = deck(
        dir.path(),
        &default,
        &[
            String::new(),
            "presenter = { avatar = \"Daisy-inskirt-20220818\" }".to_string(),
            String::new(),
        ],
    );
    let out = dir.path().join("talk.mp4");
    let render = |flags: &[&str]| {
        with_fakes(&fakes)
            .args(["render", "--progress", "plain"])
            .args(flags)
            .arg(&deck)
            .arg("-o")
            .arg(&out)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .assert()
            .success()
    };
    render(&[]);
    let stats = fakes.heygen.stats();
    assert_eq!((stats.creates, stats.webm_creates), (3, 2), "{stats:?}");
    assert!(
        stats.creates_by_slide.values().all(|n| *n == 1),
        "{stats:?}"
    );
    assert!(
        stats.last_create_at.unwrap() <= stats.first_ready_at.unwrap(),
        "{stats:?}"
    );
    assert_eq!(probe_codecs(&out), ["h264", "aac", "mov_text", "bin_data"]);
    assert!(probe_duration(&out) > 4.0, "{}", probe_duration(&out));

    // Again, with `--provider heygen` (the same clips): the WebM and MP4
    // clips come back from the cache, unpaid.
    std::fs::remove_file(&out).unwrap();
    render(&["--provider", "heygen"]);
    assert_eq!(fakes.heygen.stats().creates, 3);
    assert!(probe_duration(&out) > 4.0);
}

#[test]
fn a_deck_mixing_elai_heygen_and_did_renders_with_every_render_started_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = start_fakes(dir.path());
    let deck = deck(
        dir.path(),
        ELAI_DEFAULT,
        &[
            elai(),
            heygen("Daisy-inskirt-20220818"),
            did_talk(),
            heygen("Tyler-incasualsuit-20220721"),
            did_talk().replace(PHOTO, "https://images.example/cto.png"),
            elai().replace("gia.casual", "dan"),
        ],
    );
    let out = dir.path().join("mixed.mp4");
    let cache = dir.path().join("cache");

    // Priced per vendor before anything is paid; a budget too small stops it.
    let plan = with_fakes(&fakes)
        .arg("plan")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .arg("--cache-dir")
        .arg(&cache)
        .args(["--max-cost", "heygen=1"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&plan.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&plan.get_output().stderr).into_owned();
    assert!(
        stdout.contains("did 2 credits, heygen 2 credits"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 credit ") && stdout.contains("1 min"),
        "{stdout}"
    );
    assert!(
        stderr.contains("about 2 heygen credits for 2 clip(s)"),
        "{stderr}"
    );

    let render = || {
        with_fakes(&fakes)
            .args([
                "render",
                "--progress",
                "plain",
                "--max-cost",
                "heygen=2",
                "--max-cost",
                "did=2",
            ])
            .arg(&deck)
            .arg("-o")
            .arg(&out)
            .arg("--cache-dir")
            .arg(&cache)
            .assert()
            .success()
    };
    render();
    let (h, d, e) = (fakes.heygen.stats(), fakes.did.stats(), fakes.elai.stats());
    assert_eq!(
        (h.creates, d.talks, e.creates),
        (2, 2, 2),
        "{h:?}\n{d:?}\n{e:?}"
    );
    assert!(
        h.creates_by_slide.values().all(|n| *n == 1)
            && e.creates_by_slide.values().all(|n| *n == 1)
    );
    assert!(d.creates_by_token.values().all(|n| *n == 1), "{d:?}");
    let last_create = [h.last_create_at, d.last_create_at, e.last_create_at]
        .into_iter()
        .flatten()
        .max();
    let first_ready = [h.first_ready_at, d.first_ready_at, e.first_ready_at]
        .into_iter()
        .flatten()
        .min();
    assert!(
        last_create.unwrap() <= first_ready.unwrap(),
        "every render, of every vendor, initiated before the first was ready"
    );
    assert_eq!(probe_codecs(&out), ["h264", "aac", "mov_text", "bin_data"]);
    assert!(probe_duration(&out) > 8.0, "{}", probe_duration(&out));

    // The same command again: every clip from the cache, nothing paid.
    std::fs::remove_file(&out).unwrap();
    render();
    assert_eq!(
        (
            fakes.heygen.stats().creates,
            fakes.did.stats().talks,
            fakes.elai.stats().creates
        ),
        (2, 2, 2)
    );
}

#[test]
fn vendor_look_ups_list_heygen_avatars_and_voices_and_did_presenters() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = start_fakes(dir.path());
    let run = |args: &[&str]| {
        let out = with_fakes(&fakes).args(args).assert().success();
        String::from_utf8_lossy(&out.get_output().stdout).into_owned()
    };
    let avatars = run(&["heygen", "avatars"]);
    assert!(
        avatars.contains("Angela-inTshirt-20220820") && avatars.contains("photo:c1d2e3f4a5b6"),
        "{avatars}"
    );
    assert!(run(&["heygen", "voices"]).contains(VOICES[2].0));
    assert!(run(&["did", "presenters"]).contains("amy-Aq6OmGZnMt"));
    // A wrong key: exit 1 with the variable to check, and no key echoed.
    let out = with_fakes(&fakes)
        .env("HEYGEN_API_KEY", "hg-wrong-SECRET")
        .args(["heygen", "avatars"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("HEYGEN_API_KEY") && !stderr.contains("SECRET"),
        "{stderr}"
    );
}
