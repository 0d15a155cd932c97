//! The clip cache on a real directory: atomic puts, lookups, listing,
//! removal after a failed verification, pruning by age.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{clip_bytes, request, temp_files, write_clip};
use slidecast_core::ClipRequest;
use slidecast_store::{
    parse_age, CacheListing, ClipCache, ClipKey, ClipMeta, ClipOrigin, StoreError,
};

fn origin(r: &ClipRequest, id: &str) -> ClipOrigin {
    ClipOrigin {
        request: r.clone(),
        vendor_id: Some(id.into()),
    }
}

/// Pretend the clip of `key` was last used `age` ago.
fn age_entry(cache: &ClipCache, key: &ClipKey, age: Duration) {
    let path = cache.dir().join(format!("{key}.json"));
    let mut meta: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let then = SystemTime::now() - age;
    meta["last_used"] = then.duration_since(UNIX_EPOCH).unwrap().as_secs().into();
    fs::write(&path, serde_json::to_vec(&meta).unwrap()).unwrap();
}

#[test]
fn put_then_get_returns_an_identical_copy_and_leaves_no_temp_files() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path().join("clips")).unwrap();
    let r = request("Hello.");
    let key = ClipKey::for_request(&r);
    assert_eq!(cache.get(&key), None);

    let bytes = clip_bytes("clip-one", 200_000);
    let src = write_clip(work.path(), "fetched.mp4", &bytes);
    let stored = cache.put(&key, &src, origin(&r, "vid-1")).unwrap();

    assert_eq!(stored, cache.clip_path(&key));
    assert_eq!(cache.get(&key), Some(stored.clone()));
    assert_eq!(fs::read(&stored).unwrap(), bytes);
    // A copy, not a link: rewriting the source leaves the cache alone.
    fs::write(&src, b"overwritten in place").unwrap();
    assert_eq!(fs::read(&stored).unwrap(), bytes);
    assert!(temp_files(cache.dir()).is_empty());
    assert!(temp_files(work.path()).is_empty());

    let meta: ClipMeta =
        serde_json::from_slice(&fs::read(cache.dir().join(format!("{key}.json"))).unwrap())
            .unwrap();
    assert_eq!(meta.key, key);
    assert_eq!(meta.provider, "elai");
    assert_eq!(meta.vendor_id.as_deref(), Some("vid-1"));
    assert_eq!(meta.size, bytes.len() as u64);
    assert_eq!(meta.request.script, "Hello.");
}

#[test]
fn put_replaces_a_damaged_clip() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path()).unwrap();
    let r = request("Heal me.");
    let key = ClipKey::for_request(&r);
    let good = clip_bytes("good", 50_000);
    let src = write_clip(work.path(), "a.mp4", &good);
    let stored = cache.put(&key, &src, origin(&r, "v1")).unwrap();

    // Truncate the cached clip, as a full disk or a bad copy would.
    fs::OpenOptions::new()
        .write(true)
        .open(&stored)
        .unwrap()
        .set_len(1000)
        .unwrap();
    cache.put(&key, &src, origin(&r, "v2")).unwrap();
    assert_eq!(fs::read(&stored).unwrap(), good);
    assert_eq!(
        cache.list().unwrap()[0]
            .meta
            .as_ref()
            .unwrap()
            .vendor_id
            .as_deref(),
        Some("v2")
    );
}

#[test]
fn put_of_the_cached_file_itself_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path()).unwrap();
    let r = request("Self.");
    let key = ClipKey::for_request(&r);
    let bytes = clip_bytes("self", 10_000);
    let stored = cache
        .put(
            &key,
            &write_clip(work.path(), "s.mp4", &bytes),
            origin(&r, "v"),
        )
        .unwrap();
    cache.put(&key, &stored, origin(&r, "v")).unwrap();
    assert_eq!(fs::read(&stored).unwrap(), bytes);
}

#[test]
fn empty_clip_files_are_not_hits() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path()).unwrap();
    let key = ClipKey::for_request(&request("Empty."));
    fs::write(cache.clip_path(&key), b"").unwrap();
    assert_eq!(cache.get(&key), None);
    assert_eq!(cache.peek(&key), None);
}

#[test]
fn remove_forgets_a_clip_and_its_metadata() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path()).unwrap();
    let r = request("Bye.");
    let key = ClipKey::for_request(&r);
    let src = write_clip(work.path(), "c.mp4", &clip_bytes("c", 1000));
    cache.put(&key, &src, origin(&r, "v")).unwrap();
    assert!(cache.remove(&key).unwrap());
    assert_eq!(cache.get(&key), None);
    assert!(!cache.dir().join(format!("{key}.json")).exists());
    assert!(!cache.remove(&key).unwrap());
}

#[test]
fn get_records_the_use_so_prune_keeps_used_clips() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path()).unwrap();
    let r = request("Used.");
    let key = ClipKey::for_request(&r);
    cache
        .put(
            &key,
            &write_clip(work.path(), "u.mp4", b"clip"),
            origin(&r, "v"),
        )
        .unwrap();
    age_entry(&cache, &key, Duration::from_secs(30 * 86_400));
    // peek does not count as a use; get does.
    cache.peek(&key).unwrap();
    assert!(cache.list().unwrap()[0].last_used < SystemTime::now() - Duration::from_secs(86_400));
    cache.get(&key).unwrap();
    let report = cache.prune(Duration::from_secs(7 * 86_400)).unwrap();
    assert!(report.removed.is_empty());
    assert_eq!(report.kept, 1);
}

#[test]
fn prune_removes_only_clips_unused_for_longer_than_the_age() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path()).unwrap();
    let mut keys = Vec::new();
    for (i, age_days) in [0u64, 3, 8, 30].iter().enumerate() {
        let r = request(&format!("Clip number {i}."));
        let key = ClipKey::for_request(&r);
        let src = write_clip(
            work.path(),
            &format!("{i}.mp4"),
            &clip_bytes(&i.to_string(), 1000),
        );
        cache.put(&key, &src, origin(&r, &format!("v{i}"))).unwrap();
        age_entry(&cache, &key, Duration::from_secs(age_days * 86_400));
        keys.push(key);
    }
    // Leftovers: metadata without its clip, and a week-old temp file of a
    // copy a killed process abandoned; a fresh temp file may be a copy in
    // progress and must stay.
    let orphan = ClipKey::for_request(&request("orphan"));
    fs::write(cache.dir().join(format!("{orphan}.json")), b"{}").unwrap();
    let stale = cache.dir().join(".tmp-dead");
    fs::write(&stale, b"half a clip").unwrap();
    let week_ago = SystemTime::now() - Duration::from_secs(7 * 86_400);
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_times(fs::FileTimes::new().set_modified(week_ago))
        .unwrap();
    let fresh = cache.dir().join(".tmp-live");
    fs::write(&fresh, b"copy in progress").unwrap();

    let report = cache.prune(parse_age("7d").unwrap()).unwrap();
    let mut removed = report.removed.clone();
    removed.sort();
    let mut expected = vec![keys[2].clone(), keys[3].clone()];
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(report.kept, 2);
    assert_eq!(report.freed_bytes, 2000);
    assert_eq!(report.leftovers_removed, 2);
    assert!(!stale.exists() && fresh.exists());
    assert!(cache.get(&keys[0]).is_some() && cache.get(&keys[1]).is_some());
    assert!(cache.peek(&keys[2]).is_none() && cache.peek(&keys[3]).is_none());
    assert!(report
        .to_string()
        .starts_with("removed 2 clip(s), freed 2.0 kB; 2 kept"));
}

#[test]
fn list_shows_every_clip_most_recent_first_even_without_metadata() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path()).unwrap();
    let old = request("Old clip.");
    let new = request("New clip.");
    for (r, age) in [(&old, 5 * 86_400), (&new, 60)] {
        let key = ClipKey::for_request(r);
        let src = write_clip(work.path(), "x.mp4", &clip_bytes(&r.script, 3000));
        cache.put(&key, &src, origin(r, "v")).unwrap();
        age_entry(&cache, &key, Duration::from_secs(age));
    }
    // A clip whose metadata is garbage is still listed (and prunable).
    let odd = ClipKey::for_request(&request("Odd."));
    fs::write(cache.clip_path(&odd), b"clip").unwrap();
    fs::write(cache.dir().join(format!("{odd}.json")), b"not json").unwrap();

    let entries = cache.list().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].key, odd); // its mtime is now
    assert_eq!(entries[1].key, ClipKey::for_request(&new));
    assert_eq!(entries[2].key, ClipKey::for_request(&old));
    assert!(entries[0].meta.is_none());
    assert_eq!(entries[1].size, 3000);

    let table = CacheListing {
        entries: &entries,
        now: SystemTime::now(),
    }
    .to_string();
    assert!(table.contains("New clip."), "{table}");
    assert!(table.contains("5d ago"), "{table}");
    assert!(table.contains("(no metadata)"), "{table}");
    assert!(table.contains("3 clip(s)"), "{table}");
}

#[test]
fn default_dir_follows_xdg_cache_home() {
    // Read-only check of the rule; the variable is not modified (tests run
    // in parallel threads).
    let dir = ClipCache::default_dir().unwrap();
    assert!(dir.ends_with(Path::new("slidecast").join("clips")));
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        assert!(dir.starts_with(xdg));
    } else if let Some(home) = std::env::var_os("HOME") {
        assert!(dir.starts_with(Path::new(&home).join(".cache")));
    }
}

#[test]
fn durations_parse_like_the_cli_takes_them() {
    assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(7 * 86_400));
    assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(12 * 3600));
    assert_eq!(parse_age("90min").unwrap(), Duration::from_secs(90 * 60));
    assert_eq!(
        parse_age("2weeks").unwrap(),
        Duration::from_secs(14 * 86_400)
    );
    let err = parse_age("seven days").unwrap_err();
    assert!(matches!(err, StoreError::BadDuration { .. }));
    assert!(err.to_string().contains("`seven days`"), "{err}");
}

#[test]
fn an_unwritable_cache_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let err = ClipCache::open(file.join("clips")).unwrap_err();
    assert!(err.to_string().contains("a-file"), "{err}");
}
