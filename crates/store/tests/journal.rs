//! The resume journal: round trips, resume sources, reuse across deck
//! edits, locking, and what happens to a damaged journal file.

mod common;

use std::fs;
use std::path::Path;
use std::sync::mpsc;

use common::{by_slide, clip_bytes, deck, request, temp_files, write_clip};
use slidecast_core::{ClipRequest, ClipSource, RenderHandle, RenderJournal};
use slidecast_store::{ClipCache, ClipKey, Journal, StoreError};

fn handle(id: &str) -> RenderHandle {
    RenderHandle {
        provider: "elai".into(),
        id: id.into(),
        data: serde_json::json!({ "script_chars": 42 }),
    }
}

fn slide_request(deck: &slidecast_core::Deck, n: usize) -> ClipRequest {
    deck.slides[n - 1].clip_requests(deck).remove(0)
}

#[test]
fn default_state_dir_is_a_hidden_folder_beside_the_output() {
    assert_eq!(
        Journal::default_state_dir(Path::new("talks/q3.mp4")),
        Path::new("talks/.slidecast")
    );
    assert_eq!(
        Journal::default_state_dir(Path::new("q3.mp4")),
        Path::new("./.slidecast")
    );
    assert_eq!(
        Journal::journal_path(Path::new("s"), Path::new("talks/q3.mp4")),
        Path::new("s/q3.mp4.journal.json")
    );
}

#[test]
fn every_call_is_on_disk_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.mp4");
    let journal = Journal::open(&state, &out).unwrap();
    let r = request("One.");
    let key = ClipKey::for_request(&r);
    let h = handle("vid-1");

    journal.initiated(&r, &h).unwrap();
    let on_disk = Journal::read(&state, &out).unwrap();
    let e = on_disk.entry(&key).unwrap();
    assert_eq!(
        (e.handle.clone(), e.started, e.clip.clone()),
        (h.clone(), false, None)
    );
    assert_eq!(e.slide, 1);

    journal.started(&r, &h).unwrap();
    assert!(
        Journal::read(&state, &out)
            .unwrap()
            .entry(&key)
            .unwrap()
            .started
    );

    let clip = write_clip(dir.path(), "clip.mp4", b"frames");
    journal.fetched(&r, &h, &clip).unwrap();
    let e = Journal::read(&state, &out)
        .unwrap()
        .entry(&key)
        .unwrap()
        .clone();
    // Without a shared cache the clip is kept under its key in the state dir.
    let kept = journal.private_clips_dir().join(format!("{key}.mp4"));
    assert_eq!(e.clip.as_deref(), Some(kept.as_path()));
    assert_eq!(fs::read(&kept).unwrap(), b"frames");
    assert_eq!(journal.path(), Journal::journal_path(&state, &out));
    assert_eq!(RenderJournal::path(&journal), Some(journal.path()));
    // The handle's provider data survives the round trip.
    assert_eq!(e.handle.data["script_chars"], 42);
    assert_eq!(Journal::read(&state, &out).unwrap(), journal.snapshot());
    assert!(temp_files(&state).is_empty());
}

#[test]
fn discarded_forgets_only_the_render_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let journal = Journal::open(dir.path(), &out).unwrap();
    let r = request("Flaky.");
    let key = ClipKey::for_request(&r);
    journal.initiated(&r, &handle("old")).unwrap();
    journal.discarded(&r, &handle("old")).unwrap();
    assert!(journal.snapshot().entry(&key).is_none());

    // A resubmission supersedes the failed render; a late discard of the
    // failed one must not drop the new one.
    journal.initiated(&r, &handle("new")).unwrap();
    journal.discarded(&r, &handle("old")).unwrap();
    assert_eq!(journal.snapshot().entry(&key).unwrap().handle.id, "new");
}

#[test]
fn rerun_resumes_initiated_renders_and_reuses_fetched_clips() {
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(
        dir.path(),
        "elai",
        &[
            Some("First slide."),
            Some("Second slide."),
            None,
            Some("Fourth slide."),
        ],
    );
    let state = dir.path().join(".slidecast");
    let out = dir.path().join("out.mp4");
    {
        let journal = Journal::open(&state, &out).unwrap();
        let (r1, r2) = (slide_request(&deck, 1), slide_request(&deck, 2));
        journal.initiated(&r1, &handle("v1")).unwrap();
        journal.started(&r1, &handle("v1")).unwrap();
        let clip = write_clip(dir.path(), "v1.mp4", b"clip one");
        journal.fetched(&r1, &handle("v1"), &clip).unwrap();
        // Slide 2: created at the vendor, the process died before start.
        journal.initiated(&r2, &handle("v2")).unwrap();
        // Slide 4 was never initiated. The process "crashes" here.
    }
    let journal = Journal::open(&state, &out).unwrap();
    let sources = by_slide(&deck, &journal.plan_sources(&deck, None));
    assert_eq!(sources.len(), 3, "slide-only slides get no source");
    let key1 = ClipKey::for_request(&slide_request(&deck, 1));
    let kept = journal.private_clips_dir().join(format!("{key1}.mp4"));
    assert_eq!(sources[&1], ClipSource::Cached(kept.clone()));
    assert_eq!(
        sources[&2],
        ClipSource::Resume {
            handle: handle("v2"),
            started: false
        }
    );
    assert_eq!(sources[&4], ClipSource::Render);

    // A fetched clip whose file is gone is fetched again from the same
    // render, without a new create.
    fs::remove_file(&kept).unwrap();
    assert_eq!(
        by_slide(&deck, &journal.plan_sources(&deck, None))[&1],
        ClipSource::Resume {
            handle: handle("v1"),
            started: true
        }
    );
}

#[test]
fn fetched_clips_go_into_the_cache_and_the_journal_points_at_them() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    let deck = deck(dir.path(), "elai", &[Some("Cache me.")]);
    let out = dir.path().join("out.mp4");
    let journal = Journal::open(&dir.path().join("state"), &out)
        .unwrap()
        .with_cache(cache.clone());
    let r = slide_request(&deck, 1);
    let key = ClipKey::for_request(&r);
    let work = write_clip(dir.path(), "work.mp4", &clip_bytes("cached", 5000));
    journal.initiated(&r, &handle("v9")).unwrap();
    journal.fetched(&r, &handle("v9"), &work).unwrap();

    assert_eq!(cache.peek(&key), Some(cache.clip_path(&key)));
    assert_eq!(
        journal.snapshot().entry(&key).unwrap().clip,
        Some(cache.clip_path(&key))
    );
    let meta = cache.list().unwrap().remove(0).meta.unwrap();
    assert_eq!(meta.vendor_id.as_deref(), Some("v9"));

    // Another output of the same deck (another journal) finds it cached.
    let other = Journal::open(&dir.path().join("state"), &dir.path().join("other.mp4")).unwrap();
    assert_eq!(
        by_slide(&deck, &other.plan_sources(&deck, Some(&cache)))[&1],
        ClipSource::Cached(cache.clip_path(&key))
    );
}

#[test]
fn a_journal_from_an_edited_deck_serves_the_slides_whose_keys_still_match() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let state = dir.path().join("state");
    let before = deck(
        dir.path().join("v1").as_path(),
        "elai",
        &[Some("Intro."), Some("Numbers went up."), Some("Thanks.")],
    );
    {
        let journal = Journal::open(&state, &out).unwrap();
        for (n, id) in [(1, "a"), (2, "b"), (3, "c")] {
            let r = slide_request(&before, n);
            journal.initiated(&r, &handle(id)).unwrap();
            journal.started(&r, &handle(id)).unwrap();
        }
    }
    // Slide 2's script changed, a slide was inserted before "Thanks.".
    let after = deck(
        dir.path().join("v2").as_path(),
        "elai",
        &[
            Some("Intro."),
            Some("Numbers went down."),
            None,
            Some("Thanks."),
        ],
    );
    let journal = Journal::open(&state, &out).unwrap();
    let sources = by_slide(&after, &journal.plan_sources(&after, None));
    let resume = |id: &str| ClipSource::Resume {
        handle: handle(id),
        started: true,
    };
    assert_eq!(sources[&1], resume("a"));
    assert_eq!(sources[&2], ClipSource::Render);
    assert_eq!(sources[&4], resume("c"), "moved slide keeps its render");
}

#[test]
fn identical_slides_share_one_journal_entry() {
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(
        dir.path(),
        "elai",
        &[Some("Same."), Some("Other."), Some("Same.")],
    );
    let journal = Journal::open(dir.path(), &dir.path().join("o.mp4")).unwrap();
    journal
        .initiated(&slide_request(&deck, 1), &handle("x"))
        .unwrap();
    let sources = by_slide(&deck, &journal.plan_sources(&deck, None));
    assert_eq!(sources[&1], sources[&3]);
    assert_eq!(journal.snapshot().entries.len(), 1);
}

/// A tiny executor for the async verification API: the futures it is given
/// here never wait on anything, so polling once in a loop suffices.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn clips_that_fail_verification_are_dropped_and_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    let deck = deck(
        dir.path(),
        "elai",
        &[
            Some("Good clip."),
            Some("Truncated clip."),
            Some("Never rendered."),
            Some("Truncated clip."),
        ],
    );
    let out = dir.path().join("out.mp4");
    let state = dir.path().join("state");
    {
        let journal = Journal::open(&state, &out)
            .unwrap()
            .with_cache(cache.clone());
        for (n, id) in [(1, "g"), (2, "t")] {
            let r = slide_request(&deck, n);
            journal.initiated(&r, &handle(id)).unwrap();
            journal.started(&r, &handle(id)).unwrap();
            let clip = write_clip(dir.path(), &format!("{id}.mp4"), &clip_bytes(id, 4000));
            journal.fetched(&r, &handle(id), &clip).unwrap();
        }
    }
    let bad_key = ClipKey::for_request(&slide_request(&deck, 2));
    let bad = cache.clip_path(&bad_key);
    fs::OpenOptions::new()
        .write(true)
        .open(&bad)
        .unwrap()
        .set_len(100)
        .unwrap();

    let journal = Journal::open(&state, &out)
        .unwrap()
        .with_cache(cache.clone());
    let mut verified = Vec::new();
    let sources = block_on(journal.verified_sources(&deck, Some(&cache), |clip| {
        verified.push(clip.clone());
        let len = fs::metadata(&clip).map(|m| m.len()).unwrap_or(0);
        async move {
            if len == 4000 {
                Ok(())
            } else {
                Err(format!("truncated at {len} bytes"))
            }
        }
    }));
    let sources = by_slide(&deck, &sources);

    let good_key = ClipKey::for_request(&slide_request(&deck, 1));
    assert_eq!(sources[&1], ClipSource::Cached(cache.clip_path(&good_key)));
    // The truncated clip is gone from the cache and the journal, and both
    // slides that use it fetch it again from the existing render.
    let refetch = ClipSource::Resume {
        handle: handle("t"),
        started: true,
    };
    assert_eq!(sources[&2], refetch);
    assert_eq!(sources[&4], refetch);
    assert_eq!(sources[&3], ClipSource::Render);
    assert!(!bad.exists());
    assert_eq!(journal.snapshot().entry(&bad_key).unwrap().clip, None);
    assert_eq!(
        Journal::read(&state, &out)
            .unwrap()
            .entry(&bad_key)
            .unwrap()
            .clip,
        None
    );
    // Each distinct clip was verified once, however many slides use it.
    assert_eq!(verified.len(), 2, "{verified:?}");
}

#[test]
fn a_second_run_of_the_same_output_waits_and_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.mp4");
    let r = request("Shared.");
    let key = ClipKey::for_request(&r);

    let (held_tx, held_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let first = {
        let (state, out, r) = (state.clone(), out.clone(), r.clone());
        std::thread::spawn(move || {
            let journal = Journal::open(&state, &out).unwrap();
            held_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            journal.initiated(&r, &handle("first")).unwrap();
            // The lock is released when `journal` drops here.
        })
    };
    held_rx.recv().unwrap();

    // While the first run holds it: try_open fails clearly...
    let err = Journal::try_open(&state, &out).unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }));
    assert!(
        err.to_string()
            .contains("another slidecast run is rendering"),
        "{err}"
    );
    // ...reading for a plan works...
    assert!(Journal::read(&state, &out).unwrap().entries.is_empty());
    // ...and open waits until the first run is done, then sees its work.
    let second = {
        let (state, out) = (state.clone(), out.clone());
        std::thread::spawn(move || Journal::open(&state, &out).unwrap().snapshot())
    };
    go_tx.send(()).unwrap();
    first.join().unwrap();
    let seen = second.join().unwrap();
    assert_eq!(seen.entry(&key).unwrap().handle.id, "first");
}

#[test]
fn different_outputs_in_one_state_dir_do_not_block_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = Journal::open(dir.path(), &dir.path().join("a.mp4")).unwrap();
    let b = Journal::try_open(dir.path(), &dir.path().join("b.mp4")).unwrap();
    a.initiated(&request("a"), &handle("a")).unwrap();
    b.initiated(&request("b"), &handle("b")).unwrap();
    assert_eq!(a.snapshot().entries.len(), 1);
    assert_eq!(b.snapshot().entries.len(), 1);
}

#[test]
fn a_corrupt_journal_is_a_clear_error_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let path = Journal::journal_path(dir.path(), &out);
    fs::write(&path, b"{\"format\": 1, \"entries\": {\"trunc").unwrap();

    let err = Journal::open(dir.path(), &out).unwrap_err();
    assert!(matches!(err, StoreError::CorruptJournal { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("move it aside"), "{msg}");
    assert!(Journal::read(dir.path(), &out).is_err());
    assert_eq!(
        fs::read(&path).unwrap(),
        b"{\"format\": 1, \"entries\": {\"trunc"
    );

    // Valid JSON of the wrong shape is just as corrupt.
    fs::write(&path, b"[1, 2, 3]").unwrap();
    assert!(matches!(
        Journal::open(dir.path(), &out).unwrap_err(),
        StoreError::CorruptJournal { .. }
    ));
}

#[test]
fn a_journal_from_a_newer_slidecast_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let path = Journal::journal_path(dir.path(), &out);
    fs::write(&path, br#"{"format": 99, "whatever": true}"#).unwrap();
    let err = Journal::open(dir.path(), &out).unwrap_err();
    assert!(
        matches!(err, StoreError::JournalFormat { found: 99, .. }),
        "{err:?}"
    );
}

#[test]
fn journal_errors_reach_the_scheduler_as_io_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.mp4");
    let journal = Journal::open(&state, &out).unwrap();
    // Make the journal's path a directory: the atomic rename must fail.
    fs::create_dir_all(journal.path().join("blocker")).unwrap();
    let err = journal.initiated(&request("x"), &handle("x")).unwrap_err();
    assert!(err.to_string().contains("journal.json"), "{err}");
    assert!(
        temp_files(&state).is_empty(),
        "a failed write leaves no temp file"
    );
}

#[test]
fn the_work_dir_lives_in_the_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), Path::new("talks/q3.mp4")).unwrap();
    assert_eq!(journal.work_dir(), dir.path().join("q3.mp4.work"));
}

#[test]
fn without_a_cache_a_reused_work_file_name_cannot_swap_clips() {
    // The scheduler names work files after the slide number. Run 1 fetches
    // slide 2's clip into clip-slide-002.mp4; the deck is then edited so a
    // different clip is slide 2 and the old one moves to slide 3. Run 2's
    // fetch of the new slide 2 overwrites the work file: slide 3 must still
    // get its own clip.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let state = dir.path().join("state");
    let work = dir.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let v1 = deck(
        &dir.path().join("v1"),
        "elai",
        &[Some("Intro."), Some("Old second.")],
    );
    {
        let journal = Journal::open(&state, &out).unwrap();
        let r = slide_request(&v1, 2);
        journal.initiated(&r, &handle("old")).unwrap();
        let clip = write_clip(&work, "clip-slide-002.mp4", b"old second clip");
        journal.fetched(&r, &handle("old"), &clip).unwrap();
    }
    let v2 = deck(
        &dir.path().join("v2"),
        "elai",
        &[Some("Intro."), Some("New second."), Some("Old second.")],
    );
    let journal = Journal::open(&state, &out).unwrap();
    let ClipSource::Cached(path) = by_slide(&v2, &journal.plan_sources(&v2, None))[&3].clone()
    else {
        panic!("slide 3 should be served from disk");
    };
    write_clip(&work, "clip-slide-002.mp4", b"new second clip");
    assert_eq!(fs::read(path).unwrap(), b"old second clip");
}

/// The file is a log: each call adds one line, whatever the journal's size.
#[test]
fn each_call_appends_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let journal = Journal::open(dir.path(), &out).unwrap();
    let lines = || fs::read_to_string(journal.path()).unwrap().lines().count();
    journal.initiated(&request("a"), &handle("a")).unwrap();
    assert_eq!(lines(), 2, "header and one record");
    for i in 0..20 {
        journal
            .initiated(&request(&format!("s{i}")), &handle(&format!("s{i}")))
            .unwrap();
    }
    let before = fs::metadata(journal.path()).unwrap().len();
    journal.started(&request("a"), &handle("a")).unwrap();
    let grew = fs::metadata(journal.path()).unwrap().len() - before;
    assert_eq!(lines(), 23);
    assert!(grew < 1000, "one line, not a rewrite: grew {grew} bytes");
    assert_eq!(Journal::read(dir.path(), &out).unwrap().entries.len(), 21);
}

/// A crash mid-append leaves a line without its newline: it was never
/// acknowledged, so it is dropped, and every line before it stands.
#[test]
fn a_torn_last_line_is_dropped_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let (ra, rb) = (request("a"), request("b"));
    {
        let journal = Journal::open(dir.path(), &out).unwrap();
        journal.initiated(&ra, &handle("a")).unwrap();
        journal.initiated(&rb, &handle("b")).unwrap();
    }
    let path = Journal::journal_path(dir.path(), &out);
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"op":"put","entry":{"slide":1,"key":"#);
    fs::write(&path, &text).unwrap();

    let read = Journal::read(dir.path(), &out).unwrap();
    assert_eq!(
        read.entries.len(),
        2,
        "lock-free readers skip the torn line"
    );
    let journal = Journal::open(dir.path(), &out).unwrap();
    assert_eq!(journal.snapshot().entries.len(), 2);
    // Appending after the repair gives a well-formed log.
    journal.started(&ra, &handle("a")).unwrap();
    drop(journal);
    let again = Journal::read(dir.path(), &out).unwrap();
    assert!(again.entry(&ClipKey::for_request(&ra)).unwrap().started);
    assert_eq!(again.entries.len(), 2);
}

/// A garbled line in the middle is not a torn append: the journal is
/// refused, never rewritten.
#[test]
fn a_garbled_middle_line_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    {
        let journal = Journal::open(dir.path(), &out).unwrap();
        journal.initiated(&request("a"), &handle("a")).unwrap();
        journal.initiated(&request("b"), &handle("b")).unwrap();
    }
    let path = Journal::journal_path(dir.path(), &out);
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{not json";
    let garbled = lines.join("\n") + "\n";
    fs::write(&path, &garbled).unwrap();
    let err = Journal::open(dir.path(), &out).unwrap_err();
    assert!(matches!(err, StoreError::CorruptJournal { .. }), "{err:?}");
    assert!(err.to_string().contains("line 2"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), garbled);
}

/// Opening compacts a log much longer than its live entries.
#[test]
fn a_long_log_is_compacted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let r = request("flaky");
    {
        let journal = Journal::open(dir.path(), &out).unwrap();
        for i in 0..200 {
            journal.initiated(&r, &handle(&format!("v{i}"))).unwrap();
            journal.started(&r, &handle(&format!("v{i}"))).unwrap();
        }
    }
    let path = Journal::journal_path(dir.path(), &out);
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 401);
    let journal = Journal::open(dir.path(), &out).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 2);
    let entry = journal
        .snapshot()
        .entry(&ClipKey::for_request(&r))
        .cloned()
        .unwrap();
    assert_eq!((entry.handle.id.as_str(), entry.started), ("v199", true));
    assert!(temp_files(dir.path()).is_empty());
}

/// A journal written by an earlier slidecast (one JSON object) is read,
/// and rewritten as a log on the first change.
#[test]
fn a_format_1_journal_is_read_and_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let r = request("old run");
    let key = ClipKey::for_request(&r);
    let v1 = serde_json::json!({
        "format": 1,
        "output": out,
        "entries": { key.as_str(): {
            "slide": 1, "key": key.as_str(), "provider": "elai",
            "handle": {"provider": "elai", "id": "v-old", "data": {"script_chars": 42}},
            "started": true, "updated": 1_700_000_000u64
        }}
    });
    let path = Journal::journal_path(dir.path(), &out);
    fs::write(&path, serde_json::to_vec_pretty(&v1).unwrap()).unwrap();

    let read = Journal::read(dir.path(), &out).unwrap();
    assert_eq!(read.entry(&key).unwrap().handle.id, "v-old");
    let journal = Journal::open(dir.path(), &out).unwrap();
    assert!(journal.snapshot().entry(&key).unwrap().started);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(r#"{"op":"header","format":2"#), "{text}");
    journal
        .initiated(&request("new"), &handle("v-new"))
        .unwrap();
    drop(journal);
    let read = Journal::read(dir.path(), &out).unwrap();
    assert_eq!(read.entries.len(), 2);
    assert_eq!(read.entry(&key).unwrap().handle.data["script_chars"], 42);
}
