//! The `--timeline` SVG: well-formed, one row per slide, bars inside the plot.

use std::time::Duration;

use slidecast_core::schedule::{Span, Stage};
use slidecast_render::timeline::svg;

fn span(slide: Option<usize>, stage: Stage, a: f64, b: f64) -> Span {
    Span {
        slide,
        stage,
        start: Duration::from_secs_f64(a),
        end: Duration::from_secs_f64(b),
    }
}

/// An eager-looking schedule: all renders initiated at once, prepares during
/// the renders, composes as clips arrive, one join.
fn eager_spans(slides: usize) -> Vec<Span> {
    let mut spans = Vec::new();
    for n in 1..=slides {
        let i = (n - 1) as f64;
        spans.push(span(Some(n), Stage::Initiate, 0.0, 2.0));
        spans.push(span(Some(n), Stage::Render, 2.0, 50.0 + 7.0 * i));
        spans.push(span(Some(n), Stage::Fetch, 50.0 + 7.0 * i, 51.0 + 7.0 * i));
        spans.push(span(Some(n), Stage::Prepare, 5.0 * i, 5.0 * i + 5.0));
        spans.push(span(
            Some(n),
            Stage::Compose,
            51.0 + 7.0 * i,
            57.0 + 7.0 * i,
        ));
    }
    let end = 57.0 + 7.0 * (slides as f64 - 1.0);
    spans.push(span(None, Stage::Join, end, end + 1.5));
    spans
}

#[test]
fn svg_parses_and_has_one_row_per_slide() {
    for slides in [1usize, 5, 30] {
        let text = svg(&eager_spans(slides), "Demo & <test>", "eager schedule");
        if let Some(path) = std::env::var_os("SLIDECAST_TIMELINE_PREVIEW").filter(|_| slides == 5) {
            std::fs::write(path, &text).unwrap();
        }
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let width: f64 = root.attribute("width").unwrap().parse().unwrap();
        let rows: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("row"))
            .collect();
        assert_eq!(rows.len(), slides, "one row per slide");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(
                row.attribute("data-slide"),
                Some((i + 1).to_string().as_str())
            );
            let bars: Vec<_> = row.children().filter(|n| n.has_tag_name("rect")).collect();
            assert_eq!(bars.len(), 5, "five stages in slide {}", i + 1);
            for bar in bars {
                let x: f64 = bar.attribute("x").unwrap().parse().unwrap();
                let w: f64 = bar.attribute("width").unwrap().parse().unwrap();
                assert!(
                    x >= 0.0 && w > 0.0 && x + w <= width,
                    "bar inside the chart"
                );
                assert!(bar.children().any(|c| c.has_tag_name("title")), "tooltip");
            }
        }
        let join = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("row join"))
            .count();
        assert_eq!(join, 1);
        let legend: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("legend"))
            .flat_map(|g| {
                g.descendants()
                    .filter_map(|t| t.text().map(String::from))
                    .collect::<Vec<_>>()
            })
            .collect();
        for label in [
            "initiate",
            "vendor render",
            "download",
            "prepare",
            "compose",
            "join",
        ] {
            assert!(legend.iter().any(|l| l == label), "legend has {label}");
        }
        assert!(text.contains("Demo &amp; &lt;test&gt;"));
    }
}
