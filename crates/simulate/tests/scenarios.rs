//! `simulate`: the seed's arithmetic, and eager never behind in-order.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use slidecast_simulate::{simulate, RenderSpec, Scenario};

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

#[test]
fn reproduces_the_seed_arithmetic() {
    let sequential = simulate(&Scenario::uniform(5, s(0), s(60), s(10), s(6), 1)).unwrap();
    assert_eq!(sequential.sequential, 380.0);

    let report = simulate(&Scenario::uniform(5, s(10), s(60), s(10), s(6), 1)).unwrap();
    assert_eq!(report.in_order, 150.0);
    assert!(report.eager <= 100.0, "eager took {}", report.eager);
    assert!(report.eager >= report.lower_bound);
    assert_eq!(report.lower_bound, 100.0);

    let json = serde_json::to_value(&report).unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 4, "{json}");
    for key in ["sequential", "in_order", "eager", "lower_bound"] {
        assert!(json[key].is_f64(), "{key} missing in {json}");
    }
    assert!(!report.eager_spans.is_empty());
}

/// Random decks: eager is never slower than in-order and never beats the
/// lower bound.
#[test]
fn eager_never_loses_to_in_order() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2024);
    for round in 0..200 {
        let slides = rng.gen_range(1..=12);
        let spec = match round % 3 {
            0 => RenderSpec::Fixed(Duration::from_millis(rng.gen_range(0..120_000))),
            1 => RenderSpec::Range(s(rng.gen_range(0..30)), s(rng.gen_range(30..150))),
            _ => RenderSpec::List(
                (0..rng.gen_range(1..5))
                    .map(|_| Duration::from_millis(rng.gen_range(0..100_000)))
                    .collect(),
            ),
        };
        let scenario = Scenario {
            slides,
            init: Duration::from_millis(rng.gen_range(0..15_000)),
            render: spec.durations(slides, rng.gen()),
            prep: Duration::from_millis(rng.gen_range(0..20_000)),
            compose: Duration::from_millis(rng.gen_range(0..20_000)),
            jobs: rng.gen_range(1..=4),
            max_renders: rng.gen_range(1..=slides + 1),
        };
        let r = simulate(&scenario).unwrap();
        let eps = 1e-6;
        assert!(
            r.eager <= r.in_order + eps,
            "round {round}: {r:?} for {scenario:?}"
        );
        assert!(
            r.eager + eps >= r.lower_bound,
            "round {round}: {r:?} for {scenario:?}"
        );
        assert!(
            r.in_order <= r.sequential + eps,
            "round {round}: {r:?} for {scenario:?}"
        );
    }
}
