//! Many writers at once: threads of one process, and real child processes
//! (this test binary run again with `SLIDECAST_STORE_TEST_CHILD` set),
//! including one killed with SIGKILL in the middle of its writes. The cache
//! and the journal must come out whole: every clip byte-identical to what
//! was put, every journal parseable and complete, no temp files left.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use common::{clip_bytes, request, temp_files, write_clip};
use slidecast_core::{ClipRequest, RenderHandle};
use slidecast_store::{ClipCache, ClipKey, ClipOrigin, Journal};

const CHILD_ENV: &str = "SLIDECAST_STORE_TEST_CHILD";
const DIR_ENV: &str = "SLIDECAST_STORE_TEST_DIR";
const NAME_ENV: &str = "SLIDECAST_STORE_TEST_NAME";

/// Clips every writer puts (the same keys from every writer).
const SHARED_CLIPS: usize = 12;
/// Clips only one writer puts, or journal entries per writer.
const OWN_CLIPS: usize = 12;

/// Content of a clip, derived from its key so that all writers of a key
/// write the same bytes and any torn or mixed write is detectable.
fn content_of(key: &ClipKey, i: usize) -> Vec<u8> {
    clip_bytes(key.as_str(), 40_000 + i * 997)
}

fn shared_request(i: usize) -> ClipRequest {
    request(&format!("Shared clip number {i}."))
}

fn own_request(writer: &str, i: usize) -> ClipRequest {
    request(&format!("Clip {i} of writer {writer}."))
}

/// Put shared and own clips, reading each back at once: a reader must
/// never see anything but a whole clip.
fn cache_writer(dir: &Path, name: &str) {
    let cache = ClipCache::open(dir.join("cache")).unwrap();
    let work = dir.join(format!("work-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    for round in 0..2 {
        for i in 0..SHARED_CLIPS.max(OWN_CLIPS) {
            for r in [shared_request(i), own_request(name, i)] {
                if (r.script.starts_with("Shared") && i >= SHARED_CLIPS) || i >= OWN_CLIPS {
                    continue;
                }
                let key = ClipKey::for_request(&r);
                let bytes = content_of(&key, i);
                let src = write_clip(&work, &format!("{i}.mp4"), &bytes);
                let origin = ClipOrigin {
                    request: r.clone(),
                    vendor_id: Some(format!("{name}-{round}-{i}")),
                };
                let stored = cache.put(&key, &src, origin).unwrap();
                let got = cache.get(&key).expect("a clip just put is there");
                assert_eq!(got, stored);
                assert!(std::fs::read(&got).unwrap() == bytes, "torn clip {key}");
            }
            // Listing and a no-op prune contend for the same lock.
            cache.list().unwrap();
            cache
                .prune(std::time::Duration::from_secs(3650 * 86_400))
                .unwrap();
        }
    }
}

/// Record initiate/start/fetch of this writer's clips in the journal of
/// `output`, filling the shared cache.
fn journal_writer(dir: &Path, name: &str, output: &str) {
    let cache = ClipCache::open(dir.join("cache")).unwrap();
    let journal = Journal::open(&dir.join("state"), &dir.join(output))
        .unwrap()
        .with_cache(cache);
    let work = dir.join(format!("work-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    for i in 0..OWN_CLIPS {
        for r in [own_request(name, i), shared_request(i)] {
            let h = RenderHandle::new("elai", format!("{name}-{i}-{}", r.script.len()));
            journal.initiated(&r, &h).unwrap();
            journal.started(&r, &h).unwrap();
            let key = ClipKey::for_request(&r);
            let clip = write_clip(&work, &format!("{i}.mp4"), &content_of(&key, i));
            journal.fetched(&r, &h, &clip).unwrap();
        }
    }
}

/// Write journal entries until killed, announcing each one once it is
/// durable.
fn journal_forever(dir: &Path) -> ! {
    let journal = Journal::open(&dir.join("state"), &dir.join("out.mp4")).unwrap();
    for i in 0usize.. {
        let r = own_request("forever", i);
        let h = RenderHandle::new("elai", format!("v{i}"));
        journal.initiated(&r, &h).unwrap();
        journal.started(&r, &h).unwrap();
        println!("durable {i}");
    }
    unreachable!()
}

/// Entry point of the child processes; does nothing in a normal test run.
#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).unwrap());
    let name = std::env::var(NAME_ENV).unwrap();
    match role.as_str() {
        "cache" => cache_writer(&dir, &name),
        "journal-same-output" => journal_writer(&dir, &name, "out.mp4"),
        "journal-own-output" => journal_writer(&dir, &name, &format!("{name}.mp4")),
        "journal-forever" => journal_forever(&dir),
        other => panic!("unknown child role {other}"),
    }
}

fn spawn_child(role: &str, dir: &Path, name: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, role)
        .env(DIR_ENV, dir)
        .env(NAME_ENV, name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_ok(child: Child, what: &str) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every clip in the cache is whole, matches its metadata and its key's
/// content, and no temp file is left.
fn assert_cache_whole(cache: &ClipCache, expected: &[(ClipRequest, usize)]) {
    let entries = cache.list().unwrap();
    assert_eq!(entries.len(), expected.len(), "{entries:#?}");
    for (r, i) in expected {
        let key = ClipKey::for_request(r);
        let path = cache
            .peek(&key)
            .unwrap_or_else(|| panic!("clip {i} missing"));
        assert!(
            std::fs::read(&path).unwrap() == content_of(&key, *i),
            "clip {key} corrupt"
        );
        let entry = entries.iter().find(|e| e.key == key).unwrap();
        let meta = entry.meta.as_ref().expect("metadata parses");
        assert_eq!(meta.size, entry.size);
        assert_eq!(meta.request.script, r.script);
    }
    assert!(
        temp_files(cache.dir()).is_empty(),
        "{:?}",
        temp_files(cache.dir())
    );
}

fn expected_clips(writers: &[&str]) -> Vec<(ClipRequest, usize)> {
    let mut out: Vec<_> = (0..SHARED_CLIPS).map(|i| (shared_request(i), i)).collect();
    for w in writers {
        out.extend((0..OWN_CLIPS).map(|i| (own_request(w, i), i)));
    }
    out
}

#[test]
fn two_processes_filling_one_cache_leave_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let a = spawn_child("cache", dir.path(), "a");
    let b = spawn_child("cache", dir.path(), "b");
    wait_ok(a, "writer a");
    wait_ok(b, "writer b");
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    assert_cache_whole(&cache, &expected_clips(&["a", "b"]));
}

#[test]
fn threads_filling_one_cache_leave_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["t0", "t1", "t2", "t3"];
    std::thread::scope(|s| {
        for name in names {
            let dir = dir.path();
            s.spawn(move || cache_writer(dir, name));
        }
    });
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    assert_cache_whole(&cache, &expected_clips(&names));
}

#[test]
fn two_processes_rendering_the_same_output_take_turns_and_keep_both_records() {
    let dir = tempfile::tempdir().unwrap();
    let a = spawn_child("journal-same-output", dir.path(), "a");
    let b = spawn_child("journal-same-output", dir.path(), "b");
    wait_ok(a, "run a");
    wait_ok(b, "run b");

    let out = dir.path().join("out.mp4");
    let journal = Journal::read(&dir.path().join("state"), &out).unwrap();
    // Each run's own clips, plus the shared ones (recorded by both; the
    // later run's record wins).
    assert_eq!(journal.entries.len(), 2 * OWN_CLIPS + SHARED_CLIPS);
    for w in ["a", "b"] {
        for i in 0..OWN_CLIPS {
            let key = ClipKey::for_request(&own_request(w, i));
            let e = journal
                .entry(&key)
                .unwrap_or_else(|| panic!("{w} {i} lost"));
            assert!(e.started);
            assert_eq!(e.handle.id.split('-').next(), Some(w));
        }
    }
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    assert_cache_whole(&cache, &expected_clips(&["a", "b"]));
    assert!(temp_files(&dir.path().join("state")).is_empty());
}

#[test]
fn two_processes_with_their_own_outputs_share_the_state_dir_and_cache() {
    let dir = tempfile::tempdir().unwrap();
    let a = spawn_child("journal-own-output", dir.path(), "a");
    let b = spawn_child("journal-own-output", dir.path(), "b");
    wait_ok(a, "run a");
    wait_ok(b, "run b");
    let state = dir.path().join("state");
    for w in ["a", "b"] {
        let journal = Journal::read(&state, &dir.path().join(format!("{w}.mp4"))).unwrap();
        assert_eq!(journal.entries.len(), OWN_CLIPS + SHARED_CLIPS);
    }
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    assert_cache_whole(&cache, &expected_clips(&["a", "b"]));
    assert!(temp_files(&state).is_empty());
}

#[test]
fn scheduler_tasks_writing_one_journal_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.mp4");
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    let journal = Arc::new(
        Journal::open(&state, &out)
            .unwrap()
            .with_cache(cache.clone()),
    );
    std::thread::scope(|s| {
        for t in 0..6 {
            let journal = journal.clone();
            let work = dir.path().join(format!("work-{t}"));
            s.spawn(move || {
                std::fs::create_dir_all(&work).unwrap();
                for i in 0..8 {
                    let r = own_request(&format!("task{t}"), i);
                    let h = RenderHandle::new("elai", format!("{t}-{i}"));
                    journal.initiated(&r, &h).unwrap();
                    journal.started(&r, &h).unwrap();
                    let key = ClipKey::for_request(&r);
                    let clip = write_clip(&work, "c.mp4", &content_of(&key, i));
                    journal.fetched(&r, &h, &clip).unwrap();
                }
            });
        }
    });
    let on_disk = Journal::read(&state, &out).unwrap();
    assert_eq!(on_disk.entries.len(), 48);
    assert_eq!(on_disk, journal.snapshot());
    assert!(on_disk
        .entries
        .values()
        .all(|e| e.started && e.clip.is_some()));
    assert_eq!(cache.list().unwrap().len(), 48);
    assert!(temp_files(&state).is_empty());
}

#[test]
fn a_run_killed_mid_write_leaves_a_whole_journal_and_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("journal-forever", dir.path(), "k");
    let stdout = child.stdout.take().unwrap();
    let mut durable = 0;
    for line in BufReader::new(stdout).lines() {
        if let Some(n) = line.unwrap().strip_prefix("durable ") {
            durable = n.parse::<usize>().unwrap() + 1;
            if durable >= 40 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructors, no cleanup
    child.wait().unwrap();
    assert!(durable >= 40, "child stopped early");

    // The lock died with the process: a rerun gets in at once.
    let state = dir.path().join("state");
    let journal = Journal::try_open(&state, &dir.path().join("out.mp4")).unwrap();
    let snap = journal.snapshot();
    // Everything announced as durable is there (the kill may have landed
    // after a few more writes).
    assert!(
        snap.entries.len() >= durable,
        "{} < {durable}",
        snap.entries.len()
    );
    for i in 0..durable {
        let key = ClipKey::for_request(&own_request("forever", i));
        assert!(snap.entry(&key).unwrap().started, "entry {i} not started");
    }
    // Opening swept the dead writer's temp file, if it left one.
    assert!(temp_files(&state).is_empty(), "{:?}", temp_files(&state));
}
