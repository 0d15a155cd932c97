//! A fleet of real `slidecast serve` processes: one `--role api` and two or
//! three `--role worker`, each with its own data folder, sharing a database and a
//! blob store (a SQLite file and a folder; PostgreSQL and S3 from
//! `scripts/with-services`). Three decks that share slides are submitted at
//! once; once every render is created, a worker that holds a job is killed
//! with `-9`. Its jobs move to the live workers when its lease runs out,
//! every job succeeds, and the vendor sees one create per distinct clip.
//! And a worker killed while a create's answer is on its way: the worker
//! that takes the job over finds that render by its token instead of
//! creating another.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::serve::{zipped_deck, Api, Serve};
use common::start_fake_elai;
use slidecast_elai::fake::FakeElai;
use slidecast_tests::backends::{urls, Backends};
use slidecast_tests::Probe;

const LEASE_SECS: &str = "3";

fn args(role: &str, data: &Path, database: &str, blobs: &str) -> Vec<OsString> {
    vec![
        "--role".into(),
        role.into(),
        "--data-dir".into(),
        data.as_os_str().to_owned(),
        "--database".into(),
        database.into(),
        "--blobs".into(),
        blobs.into(),
        "--lease-secs".into(),
        LEASE_SECS.into(),
    ]
}

/// One `--role api` process and `--role worker` processes, each with its
/// own data folder in `dir`, sharing fresh `backends`.
struct Fleet {
    api: Serve,
    workers: Vec<Serve>,
    worker_dirs: Vec<PathBuf>,
}

impl Fleet {
    fn start(backends: Backends, dir: &Path, fake: &FakeElai, workers: usize) -> Fleet {
        let (database, blobs) = urls(backends, dir);
        let key_file = dir.join("elai.key");
        std::fs::write(&key_file, fake.api_key()).unwrap();
        let api = Serve::start(
            &[],
            fake,
            &key_file,
            &args("api", &dir.join("api"), &database, &blobs),
        );
        let worker_dirs: Vec<_> = (1..=workers).map(|i| dir.join(format!("w{i}"))).collect();
        let workers = worker_dirs
            .iter()
            .map(|d| {
                Serve::start(
                    &["-v"],
                    fake,
                    &key_file,
                    &args("worker", d, &database, &blobs),
                )
            })
            .collect();
        Fleet {
            api,
            workers,
            worker_dirs,
        }
    }
}

/// The workers whose data folder holds a job (they took one).
fn holding_a_job(dirs: &[PathBuf]) -> Vec<usize> {
    (0..dirs.len())
        .filter(|&i| std::fs::read_dir(dirs[i].join("jobs")).is_ok_and(|mut r| r.next().is_some()))
        .collect()
}

fn kill_a_worker_mid_job(backends: Backends, worker_count: usize) {
    let dir = tempfile::tempdir().unwrap();
    // Renders long enough that the kill lands while they are in flight.
    let (runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1500), |c| {
        c.render_delay(Duration::from_secs(6))
    });
    let Fleet {
        api: api_proc,
        mut workers,
        worker_dirs,
    } = Fleet::start(backends, dir.path(), &fake, worker_count);
    let api = Api {
        runtime: &runtime,
        client: reqwest::Client::new(),
        base: api_proc.base().to_string(),
    };
    let t0 = Instant::now();
    let ids: Vec<String> = ["A", "B", "C"]
        .iter()
        .map(|v| api.submit(zipped_deck(&dir.path().join(v), v)))
        .collect();

    // Slides 1 and 4 are shared, 3 differs: five distinct clips.
    let until = Instant::now() + Duration::from_secs(90);
    while fake.stats().renders < 5 {
        assert!(Instant::now() < until, "{:?}", fake.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let holders = holding_a_job(&worker_dirs);
    let victim = *holders.first().expect("a worker holds a job");
    let killed_at = Instant::now();
    workers[victim].kill();
    assert_eq!(fake.stats().creates, 5, "{:?}", fake.stats());
    assert!(
        fake.stats()
            .first_ready_at
            .is_some_and(|t| killed_at < t.into_std()),
        "killed while every render was still in flight"
    );

    // Taken over: the killed worker's job runs again, as attempt 2.
    let until = Instant::now() + Duration::from_secs(60);
    let taken_over_at = loop {
        let attempts: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| api.job(id)["attempt"].clone())
            .collect();
        if attempts.iter().any(|a| a == 2) {
            break Instant::now();
        }
        assert!(
            Instant::now() < until,
            "no job was taken over: {attempts:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for id in &ids {
        let job = api.wait_final(id, Duration::from_secs(240));
        assert_eq!(job["state"], "succeeded", "{job}");
        let file = dir.path().join(format!("{id}.mp4"));
        api.download_video(id, &file);
        assert!(Probe::of(&file).duration() > 4.0);
    }
    let done_at = Instant::now();
    let stats = fake.stats();
    assert_eq!(stats.creates, 5, "no render paid twice: {stats:?}");
    assert_eq!(stats.renders, 5, "{stats:?}");
    // A live worker took the killed one's job over.
    let logs: String = workers
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, w)| w.kill())
        .collect();
    assert!(
        logs.contains("requeued: its worker's lease ran out"),
        "{logs}"
    );
    eprintln!(
        "{backends:?}: 3 jobs on {worker_count} workers (lease {LEASE_SECS} s), one killed {:.1} s after submit; \
         its job taken over {:.1} s after the kill; all done {:.1} s after the kill",
        (killed_at - t0).as_secs_f64(),
        (taken_over_at - killed_at).as_secs_f64(),
        (done_at - killed_at).as_secs_f64()
    );
}

fn kill_a_worker_whose_create_answer_never_came(backends: Backends) {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1500), |c| {
        c.render_delay(Duration::from_secs(4))
            .faults(slidecast_elai::fake::Faults {
                hung_create_answers: 1,
                ..Default::default()
            })
    });
    let Fleet {
        api: api_proc,
        mut workers,
        worker_dirs,
    } = Fleet::start(backends, dir.path(), &fake, 2);
    let api = Api {
        runtime: &runtime,
        client: reqwest::Client::new(),
        base: api_proc.base().to_string(),
    };
    let id = api.submit(zipped_deck(&dir.path().join("A"), "A"));
    // Three distinct clips; the first create's answer never comes.
    let until = Instant::now() + Duration::from_secs(90);
    while fake.stats().creates < 3 {
        assert!(Instant::now() < until, "{:?}", fake.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let victim = *holding_a_job(&worker_dirs)
        .first()
        .expect("a worker holds the job");
    workers[victim].kill();

    let job = api.wait_final(&id, Duration::from_secs(240));
    assert_eq!(job["state"], "succeeded", "{job}");
    let file = dir.path().join("video.mp4");
    api.download_video(&id, &file);
    assert!(Probe::of(&file).duration() > 4.0);
    let stats = fake.stats();
    assert_eq!(
        stats.creates, 3,
        "the lost create was found, not paid again: {stats:?}"
    );
    assert_eq!(stats.renders, 3, "{stats:?}");
    let successor = workers[1 - victim].kill();
    assert!(
        successor.contains("found the render a lost create made"),
        "{successor}"
    );
}

#[test]
fn sqlite_and_files_a_lost_create_is_found_by_the_successor() {
    kill_a_worker_whose_create_answer_never_came(Backends::Embedded);
}

#[test]
fn postgres_and_s3_a_lost_create_is_found_by_the_successor() {
    kill_a_worker_whose_create_answer_never_came(Backends::Cloud);
}

#[test]
fn sqlite_and_files_one_of_three_workers_killed_mid_job_is_taken_over_paying_once() {
    kill_a_worker_mid_job(Backends::Embedded, 3);
}

#[test]
fn postgres_and_s3_one_of_three_workers_killed_mid_job_is_taken_over_paying_once() {
    kill_a_worker_mid_job(Backends::Cloud, 3);
}

#[test]
fn postgres_and_s3_one_of_two_workers_killed_mid_job_is_taken_over_paying_once() {
    kill_a_worker_mid_job(Backends::Cloud, 2);
}
