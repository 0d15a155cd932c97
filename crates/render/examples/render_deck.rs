//! Render a deck to a video with the render library, in a few lines.
//!
//! ```sh
//! cargo run --release -p slidecast-render --example render_deck -- examples/quickstart/deck.toml quickstart.mp4
//! ```
//!
//! The deck's own providers are used (the quickstart's is the offline
//! presenter); pass a third argument to override it, e.g. `mock`.

use slidecast_render::{Deck, RenderJob};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(deck), Some(output)) = (args.next(), args.next()) else {
        eprintln!("usage: render_deck DECK.toml OUT.mp4 [PROVIDER]");
        std::process::exit(2);
    };

    let deck = Deck::load(deck.as_ref())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut job = RenderJob::new(deck, output).events(tx);
    if let Some(provider) = args.next() {
        job = job.provider(provider);
    }

    // Show progress as it comes; the job ends the stream when it is done.
    let progress = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            eprint!("\r{:5.1}%", p.overall);
        }
        eprintln!();
    });
    let outcome = job.run().await;
    drop(job);
    progress.await?;

    let outcome = outcome?;
    println!(
        "wrote {} ({:.1} s of video) in {:.1} s",
        outcome.video.display(),
        outcome.video_length.as_secs_f64(),
        outcome.report.elapsed.as_secs_f64()
    );
    Ok(())
}
