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
}

/// Every subcommand, found from the command definition itself so a new one
/// cannot be forgotten here: its help names it, has examples and the exit
/// codes; and so does each nested subcommand's.
#[test]
fn every_subcommand_has_examples_and_exit_codes() {
    use clap::CommandFactory;
    let cli = slidecast_cli::args::Cli::command();
    let mut checked = 0;
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        slidecast()
            .args([name, "--help"])
            .assert()
            .success()
            .stdout(
                predicate::str::contains(format!("slidecast {name}"))
                    .and(predicate::str::contains("Examples:"))
                    .and(predicate::str::contains("Exit codes:")),
            );
        checked += 1;
        for nested in sub.get_subcommands() {
            let nested = nested.get_name();
            slidecast()
                .args([name, nested, "--help"])
                .assert()
                .success()
                .stdout(predicate::str::contains(format!(
                    "slidecast {name} {nested}"
                )));
            checked += 1;
        }
    }
    // render validate init import plan cache(list prune) elai(avatars voices) completions
    assert!(checked >= 12, "only {checked} subcommands found");
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
            .stdout(predicate::str::contains(marker).and(predicate::str::contains("render")));
    }
}

#[test]
fn usage_errors_exit_2() {
    slidecast().arg("frobnicate").assert().code(2);
    slidecast()
        .args(["render", "--jobs", "0", "deck.toml", "-o", "o.mp4"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--jobs"));
}
