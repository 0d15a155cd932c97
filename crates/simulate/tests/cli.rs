//! `slidecast-simulate`: the seed's figures, the table, and the timeline.

use assert_cmd::Command;
use predicates::prelude::*;

fn slidecast() -> Command {
    Command::cargo_bin("slidecast-simulate").expect("binary built")
}
use serde_json::Value;

fn simulate_json(args: &[&str]) -> Value {
    let out = slidecast()
        .args(args)
        .args(["--format", "json"])
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).expect("JSON on stdout")
}

const SEED: [&str; 10] = [
    "--slides",
    "5",
    "--render",
    "60",
    "--prep",
    "10",
    "--compose",
    "6",
    "--jobs",
    "1",
];

#[test]
fn reproduces_the_seed_arithmetic() {
    let no_init = simulate_json(&[&SEED[..], &["--init", "0"]].concat());
    assert_eq!(no_init["sequential"].as_f64(), Some(380.0));

    let init = simulate_json(&[&SEED[..], &["--init", "10"]].concat());
    assert_eq!(init["in_order"].as_f64(), Some(150.0));
    let eager = init["eager"].as_f64().unwrap();
    assert!(eager <= 100.0, "eager {eager} s must be at most 100 s");
    let bound = init["lower_bound"].as_f64().unwrap();
    assert!(bound <= eager + 1e-9, "no schedule beats the lower bound");
    // Exactly the four documented keys.
    let mut keys: Vec<&String> = init.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["eager", "in_order", "lower_bound", "sequential"]);
}

#[test]
fn eager_never_loses_to_in_order_on_random_scenarios() {
    for seed in 1..=6u64 {
        let report = simulate_json(&[
            "--slides",
            &(3 + seed * 2).to_string(),
            "--init",
            "3",
            "--render",
            "20..120",
            "--seed",
            &seed.to_string(),
            "--prep",
            "7",
            "--compose",
            "9",
            "--jobs",
            &(1 + seed % 3).to_string(),
            "--max-renders",
            &(2 + seed % 4).to_string(),
        ]);
        let (eager, in_order, bound) = (
            report["eager"].as_f64().unwrap(),
            report["in_order"].as_f64().unwrap(),
            report["lower_bound"].as_f64().unwrap(),
        );
        assert!(eager <= in_order + 1e-9, "seed {seed}: {report}");
        assert!(bound <= eager + 1e-9, "seed {seed}: {report}");
    }
}

#[test]
fn table_shows_every_policy_and_the_ratios() {
    slidecast()
        .args(SEED)
        .args(["--init", "10"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("sequential")
                .and(predicate::str::is_match(r"in-order\s+150\.0 s").unwrap())
                .and(predicate::str::is_match(r"eager\s+100\.0 s").unwrap())
                .and(predicate::str::contains("eager / lower bound = 1.00")),
        );
}

#[test]
fn timeline_of_the_eager_run_has_a_row_per_slide() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("plan.svg");
    slidecast()
        .args([
            "--slides",
            "7",
            "--render",
            "30..60",
            "--seed",
            "2",
            "--max-renders",
            "3",
        ])
        .arg("--timeline")
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let rows: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("row"))
        .filter_map(|n| n.attribute("data-slide"))
        .collect();
    assert_eq!(rows, ["1", "2", "3", "4", "5", "6", "7"]);
    // Every slide's row shows its vendor render and its compose.
    for row in doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("row"))
    {
        let classes: Vec<&str> = row
            .children()
            .filter_map(|c| c.attribute("class"))
            .collect();
        assert!(classes.contains(&"bar render"), "{classes:?}");
        assert!(classes.contains(&"bar compose"), "{classes:?}");
    }
}

#[test]
fn bad_numbers_are_usage_errors() {
    slidecast().args(["--prep", "-3"]).assert().code(2);
    slidecast()
        .args(["--render", "90..40"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is empty"));
    slidecast()
        .args(["--render", "abc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--render"));
}
