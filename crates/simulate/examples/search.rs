use rand::{Rng, SeedableRng};
use slidecast_simulate::{simulate, Scenario};
use std::time::Duration;
fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let mut worst: f64 = 0.0;
    let mut bad = 0;
    for round in 0..4000 {
        let slides = rng.gen_range(1..=16);
        let pick = |rng: &mut rand::rngs::StdRng, hi: u64| {
            if rng.gen_bool(0.15) {
                Duration::ZERO
            } else {
                Duration::from_secs(rng.gen_range(0..hi))
            }
        };
        let render: Vec<Duration> = (0..slides).map(|_| pick(&mut rng, 120)).collect();
        let sc = Scenario {
            slides,
            init: pick(&mut rng, 15),
            render,
            prep: pick(&mut rng, 30),
            compose: pick(&mut rng, 30),
            jobs: rng.gen_range(1..=8),
            max_renders: rng.gen_range(1..=slides + 2),
        };
        let r = simulate(&sc).unwrap();
        if r.eager > r.in_order + 1e-6 {
            bad += 1;
            println!("BAD round {round}: {r:?} {sc:?}");
        }
        if r.eager + 1e-6 < r.lower_bound {
            println!("LB VIOLATION round {round}: {r:?} {sc:?}");
        }
        let ratio = r.eager / r.lower_bound.max(1e-9);
        if ratio > 1.4 {
            println!("{ratio:.2} {r:?} {sc:?}");
        }
        worst = worst.max(ratio);
    }
    println!("bad {bad}, worst eager/lb {worst:.3}");
}
