//! `slidecast simulate`: the real scheduler on the mock provider and composer
//! under a virtual clock, for all three schedules at once
//! ([`slidecast_core::simulate`]), printed as a table or JSON, and the eager
//! run drawn as a timeline on request.

use std::time::Duration;

use slidecast_core::simulate::{parse_seconds, simulate, RenderSpec, Scenario, SimulationReport};

use crate::args::{SimulateArgs, SimulateFormat};
use crate::deckgen::write_atomic;
use crate::exit::CliError;
use crate::timeline;

fn seconds(name: &str, v: f64) -> Result<Duration, CliError> {
    parse_seconds(&v.to_string()).map_err(|e| CliError::Usage(format!("--{name}: {e}")))
}

/// The scenario the arguments describe.
pub fn scenario(args: &SimulateArgs) -> Result<Scenario, CliError> {
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

/// Run `slidecast simulate`.
pub fn run(args: &SimulateArgs) -> Result<(), CliError> {
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
        write_atomic(path, &svg)?;
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
pub fn table(s: &Scenario, r: &SimulationReport) -> String {
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
