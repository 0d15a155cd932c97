//! `slidecast-simulate`: the real scheduler on the mock provider and
//! composer under a virtual clock, for all three schedules at once
//! ([`slidecast_simulate`]), printed as a table or JSON, and the eager run
//! drawn as a timeline on request.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use slidecast_render::timeline;
use slidecast_simulate::{parse_seconds, simulate, RenderSpec, Scenario, SimulationReport};

const EXAMPLES: &str = "\
Examples:
  slidecast-simulate --slides 5 --init 0 --render 60 --prep 10 --compose 6 --jobs 1
  slidecast-simulate --slides 5 --init 10 --render 60 --prep 10 --compose 6 --jobs 1 --format json
  slidecast-simulate --slides 30 --render 40..120 --seed 7 --max-renders 8 --timeline eager.svg

Times are seconds. --render takes one value, a comma list (one per slide,
repeated) or MIN..MAX (uniform, reproducible with --seed).
The lower bound is the best any schedule could do: every render starts at
once (within --max-renders) and only the work that must follow the last
clip remains (see docs/cli.md).

Exit codes: 0 success, 1 the simulation failed, 2 bad usage.";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SimulateFormat {
    /// A table with ratios.
    Table,
    /// JSON with the keys sequential, in_order, eager, lower_bound.
    Json,
}

/// Compare the three schedules of slidecast on a simulated deck, instantly
/// (the real scheduler under a virtual clock).
#[derive(Debug, Parser)]
#[command(name = "slidecast-simulate", version, after_help = EXAMPLES)]
struct SimulateArgs {
    /// Slides in the simulated deck (all narrated).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
    slides: u32,
    /// Seconds per create+start request to the vendor.
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    init: f64,
    /// Vendor render seconds: `60`, `50,60,70` or `40..90`.
    #[arg(long, default_value = "60", value_name = "SPEC")]
    render: String,
    /// Seconds to prepare one slide (decode + scale the background).
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    prep: f64,
    /// Seconds to compose one slide's segment.
    #[arg(long, default_value_t = 6.0, value_name = "S")]
    compose: f64,
    /// Prepare/compose tasks at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: u32,
    /// Renders in flight at the vendor at once (default: all slides).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_renders: Option<u32>,
    /// Seed for `--render MIN..MAX`.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output: a table, or JSON with the keys sequential, in_order, eager, lower_bound.
    #[arg(long, value_enum, default_value = "table")]
    format: SimulateFormat,
    /// Write the eager schedule as an SVG Gantt chart.
    #[arg(long, value_name = "FILE.svg")]
    timeline: Option<PathBuf>,
}

/// A failure, with the exit code it maps to.
#[derive(Debug)]
enum CliError {
    /// Bad arguments (exit 2).
    Usage(String),
    /// The simulation or its output failed (exit 1).
    Run { message: String },
}

fn main() -> ExitCode {
    let args = SimulateArgs::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(CliError::Run { message }) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn seconds(name: &str, v: f64) -> Result<Duration, CliError> {
    parse_seconds(&v.to_string()).map_err(|e| CliError::Usage(format!("--{name}: {e}")))
}

/// The scenario the arguments describe.
fn scenario(args: &SimulateArgs) -> Result<Scenario, CliError> {
    let spec: RenderSpec = args
        .render
        .parse()
        .map_err(|e| CliError::Usage(format!("--render: {e}")))?;
    let slides = args.slides as usize;
    Ok(Scenario {
        slides,
        init: seconds("init", args.init)?,
        render: spec.durations(slides, args.seed),
        prep: seconds("prep", args.prep)?,
        compose: seconds("compose", args.compose)?,
        jobs: args.jobs as usize,
        max_renders: args.max_renders.map_or(slides, |n| n as usize),
    })
}

/// Run the simulation and print it.
fn run(args: &SimulateArgs) -> Result<(), CliError> {
    let scenario = scenario(args)?;
    let report = simulate(&scenario).map_err(|e| CliError::Run {
        message: format!("simulation failed: {e}"),
    })?;
    match args.format {
        SimulateFormat::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(|e| CliError::Run {
                message: format!("cannot write JSON: {e}"),
            })?;
            println!("{json}");
        }
        SimulateFormat::Table => print!("{}", table(&scenario, &report)),
    }
    if let Some(path) = &args.timeline {
        let svg = timeline::svg(
            &report.eager_spans,
            "slidecast simulate: eager schedule",
            &format!(
                "{}\nmakespan {:.1} s · sequential {:.1} s · in-order {:.1} s · lower bound {:.1} s",
                describe(&scenario),
                report.eager,
                report.sequential,
                report.in_order,
                report.lower_bound
            ),
        );
        slidecast_core::atomic::write_atomic(path, svg.as_bytes()).map_err(|e| CliError::Run {
            message: format!("{}: {e}", path.display()),
        })?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// One line describing the scenario.
fn describe(s: &Scenario) -> String {
    let secs = |d: Duration| format!("{}", (d.as_secs_f64() * 10.0).round() / 10.0);
    let render = match (s.render.iter().min(), s.render.iter().max()) {
        (Some(a), Some(b)) if a == b => format!("render {} s", secs(*a)),
        (Some(a), Some(b)) => format!("render {}..{} s", secs(*a), secs(*b)),
        _ => "no renders".into(),
    };
    format!(
        "{} slides, init {} s, {render}, prepare {} s, compose {} s, {} job(s), {} render slot(s)",
        s.slides,
        secs(s.init),
        secs(s.prep),
        secs(s.compose),
        s.jobs,
        s.max_renders
    )
}

/// The comparison table: makespan per policy, ratio to sequential, and how
/// close eager comes to the lower bound.
fn table(s: &Scenario, r: &SimulationReport) -> String {
    let ratio = |v: f64| {
        if r.sequential > 0.0 {
            v / r.sequential
        } else {
            1.0
        }
    };
    let faster = |v: f64| {
        if v > 0.0 && r.sequential > v {
            format!("  ({:.1}x faster)", r.sequential / v)
        } else {
            String::new()
        }
    };
    let mut out = format!("Simulated deck: {}\n\n", describe(s));
    out.push_str("  schedule       makespan   vs sequential\n");
    for (name, v) in [
        ("sequential", r.sequential),
        ("in-order", r.in_order),
        ("eager", r.eager),
    ] {
        out.push_str(&format!(
            "  {name:<12} {v:>9.1} s   {:>13.2}{}\n",
            ratio(v),
            faster(v)
        ));
    }
    out.push_str(&format!(
        "  {:<12} {:>9.1} s   {:>13.2}\n\n",
        "lower bound",
        r.lower_bound,
        ratio(r.lower_bound)
    ));
    let to_bound = if r.lower_bound > 0.0 {
        r.eager / r.lower_bound
    } else {
        1.0
    };
    out.push_str(&format!(
        "eager / lower bound = {to_bound:.2} (1.00 is the best any schedule can do)\n"
    ));
    out
}
