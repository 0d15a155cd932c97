//! Help texts, exit-code documentation and shell completions.

mod common;

use common::slidecast;
use predicates::prelude::*;

#[test]
fn help_has_examples_and_exit_codes() {
    slidecast().arg("--help").assert().success().stdout(
        predicate::str::contains("Examples:")
            .and(predicate::str::contains("Exit codes:"))
            .and(predicate::str::contains("130")),
    );
    for sub in ["render", "validate", "simulate", "init", "import"] {
        slidecast().args([sub, "--help"]).assert().success().stdout(
            predicate::str::contains(format!("slidecast {sub}"))
                .and(predicate::str::contains("Exit codes:")),
        );
    }
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_slidecast()"),
        ("zsh", "#compdef slidecast"),
        ("fish", "complete -c slidecast"),
    ] {
        slidecast()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker).and(predicate::str::contains("simulate")));
    }
}

#[test]
fn usage_errors_exit_2() {
    slidecast().arg("frobnicate").assert().code(2);
    slidecast()
        .args(["simulate", "--render", "90..40"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is empty"));
}
