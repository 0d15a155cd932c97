//! `slidecast-cli`: the `slidecast` command, a front end of the render
//! library (`slidecast-render`).
//!
//! - [`args`]: the command line (clap derive) with examples in every help.
//! - [`exit`]: the top-level error and the documented exit codes.
//! - [`validate`], [`render`]: the main subcommands; `render` turns flags
//!   into a `slidecast_render::RenderJob`, which does the work.
//! - [`progress`]: live bars, plain log lines or JSON events for a run.
//! - [`deckgen`]: `slidecast init` and `slidecast import` (the decks are
//!   written by `slidecast-deckgen`).
//! - `serve`: `slidecast serve`, a front end of `slidecast-service`
//!   (cargo feature `serve`, on by default).

pub mod args;
pub mod deckgen;
pub mod exit;
pub mod progress;
pub mod render;
#[cfg(feature = "serve")]
pub mod serve;
pub mod store_cmds;
pub mod validate;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tracing_subscriber::EnvFilter;

use args::{Cli, Command};
use exit::CliError;
use progress::LogSink;

/// Parse the command line, run the command, map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let sink = LogSink::default();
    init_logging(cli.verbose, cli.quiet, sink.clone());
    match run(cli, sink) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An invalid deck has already been listed problem by problem.
            if !matches!(e, CliError::Deck(slidecast_core::DeckError::Invalid(_))) {
                eprintln!("error: {e}");
            }
            e.into()
        }
    }
}

fn run(cli: Cli, sink: LogSink) -> Result<(), CliError> {
    match cli.command {
        Command::Validate(a) => validate::run(&a),
        Command::Render(a) => render::run(a, cli.quiet, sink),
        Command::Init(a) => deckgen::init(&a.folder, a.notes.as_deref(), a.force).map(|_| ()),
        Command::Import(a) => {
            let mut options = slidecast_deckgen::ImportOptions::new(a.file);
            options.output = a.output;
            options.notes = a.notes;
            options.width = a.width;
            options.force = a.force;
            deckgen::import(&options).map(|_| ())
        }
        Command::Plan(a) => store_cmds::plan(&a),
        Command::Cache(c) => store_cmds::cache(&c),
        Command::Elai(c) => store_cmds::elai(&c),
        Command::Heygen(c) => store_cmds::heygen(&c),
        Command::Did(c) => store_cmds::did(&c),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run(a),
        Command::Completions(a) => {
            let mut cmd = Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "slidecast", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// `-q`: errors only; default: warnings; `-v` info, `-vv` debug, `-vvv`
/// trace. `RUST_LOG` overrides all of it.
fn init_logging(verbose: u8, quiet: bool, sink: LogSink) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_target(verbose >= 2)
        .without_time()
        .try_init();
}
