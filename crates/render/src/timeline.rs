//! `--timeline FILE.svg`: the run's schedule as an SVG Gantt chart.
//!
//! One row per slide (plus one for the final join). Each slide row has two
//! lanes, because in the eager schedule the vendor side and the local side of
//! a slide overlap: the upper lane shows the vendor's work (initiate, render,
//! fetch), the lower lane the local work (prepare, compose). The SVG is
//! hand-written text: no renderer, no fonts embedded, readable in any browser.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use slidecast_core::schedule::{Span, Stage};

/// Colour, legend label and lane of each stage.
fn style(stage: Stage) -> (&'static str, &'static str, Lane) {
    match stage {
        Stage::Initiate => ("#8E6BBF", "initiate", Lane::Vendor),
        Stage::Render => ("#F2A541", "vendor render", Lane::Vendor),
        Stage::Fetch => ("#3FA7D6", "download", Lane::Vendor),
        Stage::Prepare => ("#7DB36A", "prepare", Lane::Local),
        Stage::Compose => ("#2E6FB7", "compose", Lane::Local),
        Stage::Join => ("#5B5F66", "join", Lane::Whole),
        _ => ("#9AA0A6", "other", Lane::Local),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Vendor,
    Local,
    Whole,
}

const STAGES: [Stage; 6] = [
    Stage::Initiate,
    Stage::Render,
    Stage::Fetch,
    Stage::Prepare,
    Stage::Compose,
    Stage::Join,
];

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 86.0;
const RIGHT: f64 = 28.0;
/// Top of the plot with a one-line subtitle; each further line adds [`LINE`].
const TOP_BASE: f64 = 78.0;
const LINE: f64 = 17.0;
const ROW: f64 = 32.0;
const LANE: f64 = 11.0;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

/// Render `spans` as an SVG document. `title` is the heading; `subtitle`
/// goes under it (for example the makespan and schedule), one line per `\n`.
pub fn svg(spans: &[Span], title: &str, subtitle: &str) -> String {
    // Rows: every slide that has a span, in deck order, then the join.
    let mut rows: BTreeMap<usize, Vec<&Span>> = BTreeMap::new();
    let mut join: Vec<&Span> = Vec::new();
    for span in spans {
        match span.slide {
            Some(n) => rows.entry(n).or_default().push(span),
            None => join.push(span),
        }
    }
    let n_rows = rows.len() + usize::from(!join.is_empty());
    let end = spans
        .iter()
        .map(|s| s.end)
        .max()
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
        .max(1e-3);
    let (step, unit_div, unit) = tick_step(end);
    let mut axis_end = (end / step).ceil() * step;
    if axis_end - end < step * 0.25 {
        // Room for the makespan label at the right edge.
        axis_end += step;
    }
    let sub_lines: Vec<&str> = subtitle.lines().collect();
    let top = TOP_BASE + LINE * sub_lines.len().saturating_sub(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: f64| LEFT + t / axis_end * plot_w;
    let plot_h = n_rows as f64 * ROW;
    let axis_y = top + plot_h;
    let legend_y = axis_y + 44.0;
    let height = legend_y + 40.0;

    let mut out = String::with_capacity(4096 + spans.len() * 220);
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="{FONT}">
<title>{title}</title>
<rect width="100%" height="100%" fill="#FFFFFF"/>
<text x="{LEFT}" y="32" font-size="20" font-weight="600" fill="#1F2328">{title}</text>
"##,
        title = escape(title),
    );
    for (i, line) in sub_lines.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text x="{LEFT}" y="{y}" font-size="13" fill="#57606A">{text}</text>"##,
            y = 54.0 + LINE * i as f64,
            text = escape(line),
        );
    }

    // Row backgrounds first, then the grid, then the bars on top.
    out.push_str("<g class=\"grid\">\n");
    for i in 0..n_rows {
        if i % 2 == 0 {
            let y = top + i as f64 * ROW;
            let _ = writeln!(
                out,
                r##"<rect x="{LEFT}" y="{y}" width="{plot_w}" height="{ROW}" fill="#F5F7FA"/>"##
            );
        }
    }
    let mut t = 0.0;
    while t <= axis_end + step / 2.0 {
        let xt = x(t);
        let _ = writeln!(
            out,
            r##"<line x1="{xt:.1}" y1="{top}" x2="{xt:.1}" y2="{axis_y}" stroke="#D8DEE4" stroke-width="1"/>
<line x1="{xt:.1}" y1="{axis_y}" x2="{xt:.1}" y2="{y2}" stroke="#57606A" stroke-width="1"/>
<text x="{xt:.1}" y="{ty}" font-size="11" fill="#57606A" text-anchor="middle">{label}</text>"##,
            y2 = axis_y + 5.0,
            ty = axis_y + 18.0,
            label = tick_label(t / unit_div, unit),
        );
        t += step;
    }
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{x2}" y2="{axis_y}" stroke="#57606A" stroke-width="1"/>
</g>"##,
        x2 = LEFT + plot_w,
    );

    let bar = |out: &mut String, span: &Span, row_y: f64, label: &str| {
        let (colour, name, lane) = style(span.stage);
        let (y, h) = match lane {
            Lane::Vendor => (row_y + 4.0, LANE),
            Lane::Local => (row_y + 6.0 + LANE, LANE),
            Lane::Whole => (row_y + 4.0, 2.0 * LANE + 2.0),
        };
        let (s, e) = (span.start.as_secs_f64(), span.end.as_secs_f64());
        // A zero-length stage still gets a sliver so it can be seen.
        let w = (x(e) - x(s)).max(1.5);
        let _ = writeln!(
            out,
            r##"<rect class="bar {stage}" x="{bx:.2}" y="{y}" width="{w:.2}" height="{h}" rx="2.5" fill="{colour}"><title>{label}: {name} {s:.1}–{e:.1} s</title></rect>"##,
            stage = stage_class(span.stage),
            bx = x(s),
        );
    };

    for (i, (slide, spans)) in rows.iter().enumerate() {
        let row_y = top + i as f64 * ROW;
        let _ = writeln!(
            out,
            r##"<g class="row" data-slide="{slide}">
<text x="{lx}" y="{ly}" font-size="12" fill="#1F2328" text-anchor="end">Slide {slide}</text>"##,
            lx = LEFT - 10.0,
            ly = row_y + ROW / 2.0 + 4.0,
        );
        for span in spans {
            bar(&mut out, span, row_y, &format!("slide {slide}"));
        }
        out.push_str("</g>\n");
    }
    if !join.is_empty() {
        let row_y = top + rows.len() as f64 * ROW;
        let _ = writeln!(
            out,
            r##"<g class="row join">
<text x="{lx}" y="{ly}" font-size="12" font-weight="600" fill="#1F2328" text-anchor="end">Join</text>"##,
            lx = LEFT - 10.0,
            ly = row_y + ROW / 2.0 + 4.0,
        );
        for span in &join {
            bar(&mut out, span, row_y, "deck");
        }
        out.push_str("</g>\n");
    }

    // The makespan: a dashed line where the run ended.
    let xe = x(end);
    let _ = writeln!(
        out,
        r##"<g class="end">
<line x1="{xe:.1}" y1="{y1}" x2="{xe:.1}" y2="{axis_y}" stroke="#CF222E" stroke-width="1.2" stroke-dasharray="4 3"/>
<text x="{tx:.1}" y="{ty}" font-size="11" font-weight="600" fill="#CF222E" text-anchor="{anchor}">{end:.1} s</text>
</g>"##,
        y1 = top - 8.0,
        tx = xe,
        ty = top - 12.0,
        anchor = if xe > WIDTH - RIGHT - 40.0 {
            "end"
        } else {
            "middle"
        },
    );

    // Legend: one swatch per stage, then a note on the lanes.
    out.push_str("<g class=\"legend\">\n");
    let mut lx = LEFT;
    for stage in STAGES {
        let (colour, name, _) = style(stage);
        let _ = writeln!(
            out,
            r##"<rect x="{lx}" y="{sy}" width="14" height="14" rx="3" fill="{colour}"/>
<text x="{tx}" y="{ty}" font-size="12" fill="#1F2328">{name}</text>"##,
            sy = legend_y - 11.0,
            tx = lx + 20.0,
            ty = legend_y,
        );
        lx += 20.0 + 6.6 * name.len() as f64 + 22.0;
    }
    let _ = writeln!(
        out,
        r##"<text x="{lx}" y="{legend_y}" font-size="11" fill="#57606A">upper lane: vendor · lower lane: local</text>
</g>
</svg>"##
    );
    out
}

fn stage_class(stage: Stage) -> &'static str {
    match stage {
        Stage::Initiate => "initiate",
        Stage::Render => "render",
        Stage::Fetch => "fetch",
        Stage::Prepare => "prepare",
        Stage::Compose => "compose",
        Stage::Join => "join",
        _ => "other",
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten of the display unit)
/// giving 4 to 8 ticks, and the unit: seconds, or minutes for long runs.
fn tick_step(end_secs: f64) -> (f64, f64, &'static str) {
    let (div, unit) = if end_secs >= 600.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    };
    let span = end_secs / div;
    let raw = span / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 8.0)
        .unwrap_or(10.0 * mag);
    (step * div, div, unit)
}

fn tick_label(v: f64, unit: &str) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{} {unit}", v.round() as i64)
    } else {
        format!("{v:.1} {unit}")
    }
}

/// Escape text for SVG character data and attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(slide: Option<usize>, stage: Stage, a: f64, b: f64) -> Span {
        Span {
            slide,
            stage,
            start: Duration::from_secs_f64(a),
            end: Duration::from_secs_f64(b),
        }
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(tick_step(100.0).0, 20.0);
        assert_eq!(tick_step(380.0).0, 50.0);
        assert_eq!(tick_step(7.0).0, 1.0);
        assert_eq!(tick_step(3600.0), (600.0, 60.0, "min"));
    }

    #[test]
    fn escapes_titles_and_has_one_row_per_slide() {
        let spans = vec![
            span(Some(2), Stage::Render, 0.0, 60.0),
            span(Some(1), Stage::Render, 0.0, 50.0),
            span(Some(1), Stage::Prepare, 0.0, 10.0),
            span(None, Stage::Join, 60.0, 62.0),
        ];
        let svg = svg(&spans, "a <b> & c", "x");
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert_eq!(svg.matches("data-slide=").count(), 2);
        assert!(svg.find("data-slide=\"1\"") < svg.find("data-slide=\"2\""));
        assert!(svg.contains("class=\"row join\""));
    }
}
