//! Run the fake Elai server as a process, for manual runs and CLI tests.
//!
//! ```text
//! cargo run -p slidecast-elai --example fake_elai --features fake -- \
//!     [--port N] [--mp4 clip.mp4] [--render-delay-ms N] [--api-key KEY] \
//!     [--error-rate 0.1] [--seed N] [--rate-limit-burst AFTER,COUNT,SECS]
//! ```
//!
//! Prints `FAKE_ELAI_BASE_URL=<url>` and `FAKE_ELAI_API_KEY=<key>` on
//! stdout once listening, then serves until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use slidecast_elai::fake::{FakeElai, FakeElaiConfig, Faults, RateLimitBurst};

fn usage(problem: &str) -> ! {
    eprintln!("fake_elai: {problem}");
    eprintln!(
        "usage: fake_elai [--port N] [--mp4 PATH] [--render-delay-ms N] [--api-key KEY] \
         [--error-rate F] [--seed N] [--rate-limit-burst AFTER,COUNT,SECS]"
    );
    std::process::exit(2)
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
    let Some(v) = value else {
        usage(&format!("{flag} needs a value"))
    };
    v.parse()
        .unwrap_or_else(|_| usage(&format!("{flag}: `{v}` is not a number")))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut port: u16 = 0;
    let mut mp4: Vec<u8> = b"not a real mp4; pass --mp4 PATH".to_vec();
    let mut delay_ms: u64 = 2000;
    let mut key: Option<String> = None;
    let mut faults = Faults::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => port = number(&flag, args.next()),
            "--render-delay-ms" => delay_ms = number(&flag, args.next()),
            "--error-rate" => faults.server_error_rate = number(&flag, args.next()),
            "--seed" => faults.seed = number(&flag, args.next()),
            "--api-key" => key = args.next(),
            "--mp4" => {
                let path = args.next().unwrap_or_else(|| usage("--mp4 needs a path"));
                mp4 = std::fs::read(&path).unwrap_or_else(|e| usage(&format!("--mp4 {path}: {e}")));
            }
            "--rate-limit-burst" => {
                let v = args.next().unwrap_or_default();
                let parts: Vec<u64> = v.split(',').filter_map(|p| p.parse().ok()).collect();
                let [after, count, secs] = parts[..] else {
                    usage("--rate-limit-burst takes AFTER,COUNT,SECS")
                };
                faults.rate_limit_burst = Some(RateLimitBurst {
                    after,
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    retry_after_secs: secs,
                });
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    let mut config = FakeElaiConfig::new(mp4)
        .render_delay(Duration::from_millis(delay_ms))
        .faults(faults);
    if let Some(k) = key {
        config = config.api_key(k);
    }
    let fake = match FakeElai::start_on(config, SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(f) => f,
        Err(e) => usage(&format!("cannot start: {e}")),
    };
    println!("FAKE_ELAI_BASE_URL={}", fake.base_url());
    println!("FAKE_ELAI_API_KEY={}", fake.api_key());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("fake_elai: {:?}", fake.stats());
}
