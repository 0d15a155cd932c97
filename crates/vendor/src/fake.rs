//! What the vendor crates' fake servers share: injected faults and serving.
//!
//! A fake server (`slidecast_heygen::fake`, `slidecast_did::fake`) models
//! its vendor's endpoints and lifecycle; the faults a test asks for are the
//! same for every vendor and are decided here, in arrival order, so a test
//! that sets a seed sees the same faults on every run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use slidecast_core::{AvatarProvider, ProviderError, RenderHandle, RenderStatus};
use tokio::task::JoinHandle;

/// A burst of 429 answers.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitBurst {
    /// API requests answered normally before the burst begins.
    pub after: u64,
    /// API requests answered 429 in a row.
    pub count: u32,
    /// The `Retry-After` value, seconds.
    pub retry_after_secs: u64,
}

/// Faults a fake injects. All default to none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// 429 answers with `Retry-After`.
    pub rate_limit_burst: Option<RateLimitBurst>,
    /// Fraction (0..=1) of API requests answered 500 before anything is
    /// done, drawn from a generator seeded with `seed`.
    pub server_error_rate: f64,
    /// Seed of `server_error_rate`.
    pub seed: u64,
    /// Slide number → how many of its renders end failed.
    pub fail_renders: BTreeMap<usize, u32>,
    /// Slides whose renders never finish.
    pub never_finish: BTreeSet<usize>,
    /// The first N downloads answer 403, as an expired signed URL does.
    pub expired_urls: u32,
    /// The first N downloads (after the expired ones) send half the bytes
    /// with the full `Content-Length` and then drop the connection.
    pub truncated_downloads: u32,
    /// The first N creates make their render but answer 502, as when the
    /// answer is lost on the way back.
    pub lost_create_answers: u32,
    /// The first N creates make their render and never answer, as when the
    /// process that sent them dies before the answer arrives (fakes that
    /// model it: Elai's).
    pub hung_create_answers: u32,
}

/// What the gate decided for one API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Injected {
    /// Answer 429 with this `Retry-After`, in seconds.
    RateLimited(u64),
    /// Answer 500.
    ServerError,
}

/// What one download gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadFault {
    /// The whole file.
    None,
    /// 403, as for an expired signed URL.
    Expired,
    /// Half the bytes, then a dropped connection.
    Truncated,
}

/// How a render ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ready after the render time.
    Ready,
    /// Failed at the vendor (worth resubmitting).
    Fail,
    /// Never finishes.
    Never,
}

/// Counters behind [`Faults`], in arrival order.
#[derive(Debug)]
pub struct FaultState {
    faults: Faults,
    rng: StdRng,
    api_requests: u64,
    burst_sent: u32,
    lost_answers_sent: u32,
    hung_answers_sent: u32,
    downloads: u32,
    renders_by_slide: HashMap<usize, u32>,
    /// 429 answers sent.
    pub injected_429: u32,
    /// 500 answers sent.
    pub injected_500: u32,
}

impl FaultState {
    /// Counters at zero for `faults`.
    pub fn new(faults: Faults) -> FaultState {
        FaultState {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            api_requests: 0,
            burst_sent: 0,
            lost_answers_sent: 0,
            hung_answers_sent: 0,
            downloads: 0,
            renders_by_slide: HashMap::new(),
            injected_429: 0,
            injected_500: 0,
        }
    }

    /// Replace the faults; every counter starts again.
    pub fn reset(&mut self, faults: Faults) {
        let (i429, i500) = (self.injected_429, self.injected_500);
        *self = FaultState::new(faults);
        self.injected_429 = i429;
        self.injected_500 = i500;
    }

    /// An API request arrived: a fault to answer with, if any.
    fn api_request(&mut self) -> Option<Injected> {
        self.api_requests += 1;
        if let Some(burst) = &self.faults.rate_limit_burst {
            if self.api_requests > burst.after && self.burst_sent < burst.count {
                self.burst_sent += 1;
                self.injected_429 += 1;
                return Some(Injected::RateLimited(burst.retry_after_secs));
            }
        }
        let rate = self.faults.server_error_rate.clamp(0.0, 1.0);
        if rate > 0.0 && self.rng.gen_bool(rate) {
            self.injected_500 += 1;
            return Some(Injected::ServerError);
        }
        None
    }

    /// A create made its render: whether its answer is lost (502).
    pub fn lose_create_answer(&mut self) -> bool {
        if self.lost_answers_sent < self.faults.lost_create_answers {
            self.lost_answers_sent += 1;
            true
        } else {
            false
        }
    }

    /// A create arrived: whether it never answers.
    pub fn hang_create_answer(&mut self) -> bool {
        if self.hung_answers_sent < self.faults.hung_create_answers {
            self.hung_answers_sent += 1;
            true
        } else {
            false
        }
    }

    /// How a new render of `slide` will end.
    pub fn render_outcome(&mut self, slide: Option<usize>) -> Outcome {
        let Some(slide) = slide else {
            return Outcome::Ready;
        };
        if self.faults.never_finish.contains(&slide) {
            return Outcome::Never;
        }
        let n = self.renders_by_slide.entry(slide).or_insert(0);
        *n += 1;
        let fails = self.faults.fail_renders.get(&slide).copied().unwrap_or(0);
        if *n <= fails {
            Outcome::Fail
        } else {
            Outcome::Ready
        }
    }

    /// An API request arrived: the answer of the fault due, if any, in
    /// the vendor's error body (`error(status, message)`); a 429 carries
    /// its `Retry-After`.
    pub fn injected_answer(
        &mut self,
        error: impl Fn(StatusCode, &str) -> Response,
    ) -> Option<Response> {
        Some(match self.api_request()? {
            Injected::RateLimited(secs) => {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
            Injected::ServerError => {
                error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        })
    }

    /// A download of a finished render arrived: `bytes` as `content_type`,
    /// or the fault due (`expired`, as the vendor answers an expired URL,
    /// or half the bytes and a dropped connection), and which it was.
    pub fn download_answer(
        &mut self,
        bytes: Bytes,
        content_type: &'static str,
        expired: Response,
    ) -> (Response, DownloadFault) {
        let fault = self.download();
        let response = match fault {
            DownloadFault::Expired => expired,
            DownloadFault::Truncated => {
                let len = bytes.len();
                let mut r = Response::new(truncated_body(bytes));
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                r
            }
            DownloadFault::None => {
                let mut r = Response::new(Body::from(bytes));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                r
            }
        };
        (response, fault)
    }

    /// A download of a finished render arrived.
    fn download(&mut self) -> DownloadFault {
        self.downloads += 1;
        let f = &self.faults;
        if self.downloads <= f.expired_urls {
            DownloadFault::Expired
        } else if self.downloads <= f.expired_urls + f.truncated_downloads {
            DownloadFault::Truncated
        } else {
            DownloadFault::None
        }
    }
}

/// Pacing for a provider aimed at a fake: polls every 50 ms to 500 ms.
pub fn quick_pacing() -> crate::Pacing {
    crate::Pacing {
        poll_initial: Duration::from_millis(50),
        poll_max: Duration::from_millis(500),
        ..crate::Pacing::default()
    }
}

/// Poll `handle` until its render ends (transient errors are polled
/// through), at most 400 polls 20 ms apart; panics otherwise (test support).
pub async fn until_done(provider: &dyn AvatarProvider, handle: &RenderHandle) -> RenderStatus {
    for _ in 0..400 {
        match provider.status(handle).await {
            Ok(RenderStatus::Rendering { .. } | RenderStatus::Queued)
            | Err(ProviderError::Transient { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Ok(done) => return done,
            Err(e) => panic!("status of {}: {e}", handle.id),
        }
    }
    panic!("the render {} never ended", handle.id)
}

/// A whole lifecycle of `request` through whatever faults the fake injects
/// (test support): initiate, start, poll until ready, fetch to `dest`,
/// each step repeated until it succeeds. Answers every error's text (as
/// `Display` and `Debug`), so a test can check what they say.
pub async fn lifecycle_errors(
    provider: &dyn AvatarProvider,
    request: &slidecast_core::ClipRequest,
    dest: &std::path::Path,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut note = |e: ProviderError| errors.push(format!("{e} / {e:?}"));
    let handle = loop {
        match provider.initiate(request).await {
            Ok(h) => break h,
            Err(e) => note(e),
        }
    };
    while let Err(e) = provider.start(&handle).await {
        note(e);
    }
    loop {
        match provider.status(&handle).await {
            Ok(RenderStatus::Ready) => break,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => note(e),
        }
    }
    while let Err(e) = provider.fetch(&handle, dest).await {
        note(e);
    }
    errors
}

/// Every log line of this thread at TRACE level, for tests that prove a
/// secret never reaches one. Lines are captured while the guard of
/// [`LogCapture::start`] lives.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Capture from now until the returned guard is dropped.
    pub fn start() -> (LogCapture, tracing::subscriber::DefaultGuard) {
        let capture = LogCapture::default();
        let sink = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A body that sends the first half of `bytes`, lets it reach the client,
/// then breaks off (the response keeps the full `Content-Length`).
pub fn truncated_body(bytes: Bytes) -> Body {
    let half = bytes.slice(..bytes.len() / 2);
    let chunks = futures_util::stream::unfold(0u8, move |step| {
        let half = half.clone();
        async move {
            match step {
                0 => Some((Ok(half), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "injected truncation",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Body::from_stream(chunks)
}

/// A fake vendor's HTTP server on 127.0.0.1, serving until dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// Serve `app` on `addr` (port 0: a free port) in the current runtime;
    /// `name` is the vendor, for the log.
    pub async fn start(
        app: axum::Router,
        addr: SocketAddr,
        name: &'static str,
    ) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("fake {name} server stopped: {e}");
            }
        });
        tracing::info!("fake {name} listening at http://{addr}");
        Ok(Server { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `Err` when a fake is given a key no client could send.
pub fn check_key(key: &str) -> std::io::Result<()> {
    match crate::ApiKey::new(key) {
        Ok(_) => Ok(()),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the fake's API key must be visible ASCII without spaces",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_come_in_arrival_order() {
        let mut s = FaultState::new(Faults {
            rate_limit_burst: Some(RateLimitBurst {
                after: 1,
                count: 2,
                retry_after_secs: 3,
            }),
            fail_renders: [(2, 1)].into_iter().collect(),
            expired_urls: 1,
            truncated_downloads: 1,
            lost_create_answers: 1,
            ..Faults::default()
        });
        let gates: Vec<_> = (0..4).map(|_| s.api_request()).collect();
        assert_eq!(
            gates,
            [
                None,
                Some(Injected::RateLimited(3)),
                Some(Injected::RateLimited(3)),
                None
            ]
        );
        assert!(s.lose_create_answer() && !s.lose_create_answer());
        assert_eq!(s.render_outcome(Some(2)), Outcome::Fail);
        assert_eq!(s.render_outcome(Some(2)), Outcome::Ready);
        let downloads: Vec<_> = (0..3).map(|_| s.download()).collect();
        assert_eq!(
            downloads,
            [
                DownloadFault::Expired,
                DownloadFault::Truncated,
                DownloadFault::None
            ]
        );
    }
}
