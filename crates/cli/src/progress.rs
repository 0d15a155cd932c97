//! Showing a run's [`Progress`] events: live bars on a terminal, plain log
//! lines elsewhere, or one JSON object per line (`--progress json`, schema in
//! docs/progress-json.md).

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use slidecast_core::{Progress, SlideEvent};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::args::ProgressChoice;

/// The display actually used, once `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live bars on a terminal.
    Bars,
    /// One log line per stage change.
    Plain,
    /// One JSON event per line on stdout.
    Json,
    /// Nothing (`-q`: errors only).
    Quiet,
}

impl Mode {
    /// Resolve `auto`: bars when stderr is a terminal, plain lines otherwise.
    /// `quiet` (`-q`) silences bars and lines; JSON events, asked for by
    /// name, still go to stdout.
    pub fn resolve(choice: ProgressChoice, quiet: bool) -> Mode {
        if quiet && choice != ProgressChoice::Json {
            return Mode::Quiet;
        }
        match choice {
            ProgressChoice::Bars => Mode::Bars,
            ProgressChoice::Plain => Mode::Plain,
            ProgressChoice::Json => Mode::Json,
            ProgressChoice::Auto if std::io::stderr().is_terminal() => Mode::Bars,
            ProgressChoice::Auto => Mode::Plain,
        }
    }
}

/// Where log lines go while bars are drawn: through the bars, so a log line
/// never tears a bar. Shared with the tracing writer.
#[derive(Clone, Default)]
pub struct LogSink {
    bars: Arc<Mutex<Option<MultiProgress>>>,
}

impl LogSink {
    fn set(&self, multi: Option<MultiProgress>) {
        if let Ok(mut guard) = self.bars.lock() {
            *guard = multi;
        }
    }

    /// Write `bytes` to stderr, above the bars if they are shown.
    pub fn write_stderr(&self, bytes: &[u8]) {
        let multi = self.bars.lock().ok().and_then(|g| g.clone());
        match multi {
            Some(m) => m.suspend(|| {
                let _ = std::io::stderr().write_all(bytes);
            }),
            None => {
                let _ = std::io::stderr().write_all(bytes);
            }
        }
    }
}

/// A tracing writer that buffers one event and writes it through [`LogSink`].
pub struct SinkWriter {
    sink: LogSink,
    buf: Vec<u8>,
}

impl Write for SinkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SinkWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.sink.write_stderr(&self.buf);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter {
            sink: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// Consume events until the run drops its sender, showing each one.
pub async fn show(mode: Mode, sink: LogSink, mut rx: UnboundedReceiver<Progress>) {
    let mut display: Box<dyn Display> = match mode {
        Mode::Bars => Box::new(Bars::new(&sink)),
        Mode::Plain => Box::new(Plain::default()),
        Mode::Json => Box::new(Json),
        Mode::Quiet => {
            while rx.recv().await.is_some() {}
            return;
        }
    };
    while let Some(event) = rx.recv().await {
        display.show(&event);
    }
    display.close();
    sink.set(None);
}

trait Display: Send {
    fn show(&mut self, p: &Progress);
    fn close(&mut self) {}
}

/// `--progress json`: one event per line on stdout.
struct Json;

impl Display for Json {
    fn show(&mut self, p: &Progress) {
        let line = slidecast_render::events::to_json_line(p);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// What a slide is doing, in words, for bars and log lines.
fn stage_text(event: &SlideEvent) -> Option<String> {
    use SlideEvent::*;
    Some(match event {
        Initiated { handle, .. } => format!("render requested ({})", handle.id),
        Rendering {
            percent: Some(p), ..
        } => format!("rendering {p:.0}%"),
        Rendering { percent: None, .. } => "rendering".into(),
        Ready { .. } => "render ready".into(),
        Fetched { cached: true, .. } => "clip from cache".into(),
        Fetched { cached: false, .. } => "downloaded".into(),
        Prepared { .. } => "background ready".into(),
        Composing { .. } => "composing".into(),
        Composed { duration, .. } => format!("done ({:.1} s)", duration.as_secs_f64()),
        Retrying {
            attempt,
            delay,
            reason,
            ..
        } => format!(
            "retry {attempt} in {:.0} s: {}",
            delay.as_secs_f64(),
            short(reason)
        ),
        Resubmitted {
            attempt, reason, ..
        } => format!("render failed, resubmitted ({attempt}): {}", short(reason)),
        Failed { reason, .. } => format!("failed: {}", short(reason)),
        _ => return None,
    })
}

fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 80 {
        format!("{}…", line.chars().take(79).collect::<String>())
    } else {
        line.to_string()
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Off a terminal: a log line per stage change on stderr. Vendor percent is
/// reported in quarter steps so a long render does not flood the log.
#[derive(Default)]
struct Plain {
    last_quarter: HashMap<usize, u32>,
}

impl Display for Plain {
    fn show(&mut self, p: &Progress) {
        let head = format!("[{:>7.1}s {:>3.0}%]", p.at.as_secs_f64(), p.overall);
        let line = match &p.event {
            SlideEvent::Started {
                slides,
                renders,
                schedule,
            } => format!(
                "{head} started: {slides} slide(s), {renders} render(s), schedule {}",
                slidecast_render::schedule_name(*schedule)
            ),
            SlideEvent::Rendering { slide, percent } => {
                let quarter = percent.map_or(0, |p| (p / 25.0).floor() as u32);
                if self.last_quarter.get(slide) == Some(&quarter) {
                    return;
                }
                self.last_quarter.insert(*slide, quarter);
                format!(
                    "{head} slide {slide}: {}",
                    stage_text(&p.event).unwrap_or_default()
                )
            }
            SlideEvent::Joining => format!("{head} joining the segments"),
            SlideEvent::Finished { output } => format!("{head} wrote {}", output.display()),
            SlideEvent::Failed {
                slide: None,
                reason,
            } => format!("{head} failed: {reason}"),
            event => match (event.slide(), stage_text(event)) {
                (Some(n), Some(text)) => format!("{head} slide {n}: {text}"),
                _ => return,
            },
        };
        let eta = p
            .eta
            .filter(|e| *e >= Duration::from_secs(1))
            .filter(|_| !matches!(p.event, SlideEvent::Finished { .. }))
            .map(|e| format!(" (ETA {})", clock(e)))
            .unwrap_or_default();
        eprintln!("{line}{eta}");
    }
}

/// On a terminal: an overall bar with elapsed time and ETA, and one line per
/// slide with its stage and the vendor's percent.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    slides: BTreeMap<usize, ProgressBar>,
    styles: Styles,
}

struct Styles {
    waiting: ProgressStyle,
    rendering: ProgressStyle,
    working: ProgressStyle,
    done: ProgressStyle,
    failed: ProgressStyle,
}

impl Styles {
    fn new() -> Styles {
        let line = |colour: &str| {
            ProgressStyle::with_template(&format!(
                "{{prefix:>10.dim}} {{bar:24.{colour}/black.dim}} {{msg:.{colour}}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("━╸─")
        };
        Styles {
            waiting: line("white"),
            rendering: line("yellow"),
            working: line("cyan"),
            done: line("green"),
            failed: line("red"),
        }
    }
}

impl Bars {
    fn new(sink: &LogSink) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let overall = multi.add(ProgressBar::new(1000));
        overall.set_style(
            ProgressStyle::with_template(
                "{spinner:.cyan} {prefix:.bold} [{elapsed_precise}] {wide_bar:.cyan/blue} {percent:>3}%  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        overall.set_prefix("slidecast");
        overall.set_message("starting");
        overall.enable_steady_tick(Duration::from_millis(120));
        sink.set(Some(multi.clone()));
        Bars {
            multi,
            overall,
            slides: BTreeMap::new(),
            styles: Styles::new(),
        }
    }

    fn slide(&mut self, n: usize) -> &ProgressBar {
        let multi = &self.multi;
        let style = &self.styles.waiting;
        self.slides.entry(n).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(100));
            bar.set_style(style.clone());
            bar.set_prefix(format!("Slide {n}"));
            bar.set_message("queued");
            bar
        })
    }
}

impl Display for Bars {
    fn show(&mut self, p: &Progress) {
        self.overall.set_position((p.overall * 10.0).round() as u64);
        let eta = p
            .eta
            .map(|e| format!("ETA {}", clock(e)))
            .unwrap_or_else(|| "ETA --:--".into());
        match &p.event {
            SlideEvent::Started { slides, .. } => {
                for n in 1..=*slides {
                    self.slide(n);
                }
                self.overall.set_message(eta);
            }
            SlideEvent::Joining => self.overall.set_message(format!("joining  {eta}")),
            SlideEvent::Finished { output } => {
                self.overall.set_position(1000);
                self.overall
                    .finish_with_message(format!("wrote {}", output.display()));
            }
            SlideEvent::Failed {
                slide: None,
                reason,
            } => {
                self.overall
                    .abandon_with_message(format!("failed: {}", short(reason)));
            }
            event => {
                self.overall.set_message(eta);
                let Some(n) = event.slide() else { return };
                let text = stage_text(event).unwrap_or_default();
                let style = match event {
                    SlideEvent::Rendering { .. } | SlideEvent::Initiated { .. } => {
                        self.styles.rendering.clone()
                    }
                    SlideEvent::Composed { .. } => self.styles.done.clone(),
                    SlideEvent::Failed { .. } => self.styles.failed.clone(),
                    _ => self.styles.working.clone(),
                };
                let bar = self.slide(n).clone();
                bar.set_style(style);
                match event {
                    SlideEvent::Rendering {
                        percent: Some(pc), ..
                    } => bar.set_position(pc.clamp(0.0, 100.0) as u64),
                    SlideEvent::Ready { .. } | SlideEvent::Fetched { .. } => bar.set_position(100),
                    _ => {}
                }
                match event {
                    SlideEvent::Composed { .. } => {
                        bar.set_position(100);
                        bar.finish_with_message(text);
                    }
                    SlideEvent::Failed { .. } => bar.abandon_with_message(text),
                    // Preparing does not change what the slide waits for.
                    SlideEvent::Prepared { .. } if !bar.message().starts_with("queued") => {}
                    _ => bar.set_message(text),
                }
            }
        }
    }

    fn close(&mut self) {
        if !self.overall.is_finished() {
            self.overall.abandon();
        }
        for bar in self.slides.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
        // indicatif leaves the cursor at the end of the last bar; what is
        // printed next must start on a line of its own.
        if !self.multi.is_hidden() {
            eprintln!();
        }
    }
}
