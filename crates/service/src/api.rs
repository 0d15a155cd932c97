//! The HTTP API and the web page (see `docs/service.md`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use slidecast_render::RenderJob;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tower::ServiceExt;

use crate::db::{ApiError, JobRow, JobState, NewJob, Problem};
use crate::upload::{self, JobOptions, UploadError};
use crate::{worker, Inner};

type Shared = State<Arc<Inner>>;

/// Every route.
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let limit = inner.config.max_upload_bytes;
    let api = Router::new()
        .route("/v1/jobs", post(submit).get(list))
        .route("/v1/plan", post(plan))
        .route("/v1/jobs/{id}", get(show))
        .route("/v1/jobs/{id}/events", get(events))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route("/v1/jobs/{id}/{file}", get(download))
        .layer(middleware::from_fn_with_state(inner.clone(), require_token));
    Router::new()
        .merge(api)
        .route("/v1/webhooks/elai", post(elai_webhook))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/", get(page_html))
        .route("/app.js", get(page_js))
        .route("/style.css", get(page_css))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(inner)
}

// ---------------------------------------------------------------------------
// Errors

/// An error answer: `{"error": {"code", "message", "problems"}}`.
pub(crate) struct Failure {
    status: StatusCode,
    error: ApiError,
}

impl Failure {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            error: ApiError {
                code: code.into(),
                message: message.into(),
                problems: Vec::new(),
            },
        }
    }

    fn internal(e: impl std::fmt::Display) -> Failure {
        tracing::error!("internal error: {e}");
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }

    fn not_found(id: &str) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, "not_found", format!("no job `{id}`"))
    }
}

impl From<UploadError> for Failure {
    fn from(e: UploadError) -> Failure {
        Failure::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_upload", e.0)
    }
}

impl From<crate::ServiceError> for Failure {
    fn from(e: crate::ServiceError) -> Failure {
        Failure::internal(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.error }))).into_response()
    }
}

// ---------------------------------------------------------------------------
// Auth

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

/// With API tokens configured, every `/v1` route but the webhook needs one:
/// `Authorization: Bearer TOKEN`, or `?access_token=TOKEN` where a browser
/// cannot set headers (event streams, `<video src>`).
async fn require_token(
    State(inner): Shared,
    Query(query): Query<TokenQuery>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = &inner.config.api_tokens;
    if tokens.is_empty() {
        return next.run(request).await;
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let given = bearer.or(query.access_token.as_deref());
    match given {
        Some(t) if tokens.accepts(t) => next.run(request).await,
        _ => {
            let mut r = Failure::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an API token is required: `Authorization: Bearer TOKEN`",
            )
            .into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

// ---------------------------------------------------------------------------
// Submitting

/// An upload read into a private folder and checked.
struct Received {
    /// The private folder (removed on drop unless kept).
    staging: tempfile::TempDir,
    deck: slidecast_core::Deck,
    options: JobOptions,
}

impl Received {
    fn input(&self) -> PathBuf {
        self.staging.path().join("input")
    }
}

async fn receive(inner: &Inner, mut multipart: Multipart) -> Result<Received, Failure> {
    let uploads = inner.config.data_dir.join("uploads");
    let staging = tempfile::Builder::new()
        .prefix("upload-")
        .tempdir_in(&uploads)
        .map_err(Failure::internal)?;
    let input = staging.path().join("input");
    tokio::fs::create_dir_all(&input)
        .await
        .map_err(Failure::internal)?;
    let mut options = JobOptions::default();
    let mut bundle = false;
    let mut deck_part = false;
    let mut presentation = false;
    let mut import_notes: Vec<String> = Vec::new();
    let staging_path = staging.path().to_path_buf();
    let mut files = 0usize;
    // Every part is read even when one is refused: answering before the
    // client has sent its whole body makes it see a reset, not the answer.
    let parts: Result<(), Failure> = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "invalid_upload", e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_string();
            match name.as_str() {
                "options" => {
                    let text = field.text().await.map_err(|e| {
                        Failure::new(StatusCode::BAD_REQUEST, "invalid_upload", e.body_text())
                    })?;
                    options = serde_json::from_str(&text).map_err(|e| {
                        UploadError(format!("options: {e}"))
                    })?;
                }
                "bundle" => {
                    let zip = staging.path().join("bundle.zip");
                    save_field(&mut field, &zip).await?;
                    let (max_files, max_bytes) = (
                        inner.config.max_bundle_files,
                        inner.config.max_upload_bytes as u64 * 4,
                    );
                    let dest = input.clone();
                    tokio::task::spawn_blocking(move || {
                        upload::unpack_bundle(&zip, &dest, max_files, max_bytes)
                    })
                    .await
                    .map_err(Failure::internal)??;
                    bundle = true;
                }
                "deck" => {
                    let file_name = field.file_name().unwrap_or("deck.toml").to_string();
                    let deck_name = if file_name.ends_with(".json") {
                        "deck.json"
                    } else {
                        "deck.toml"
                    };
                    save_field(&mut field, &input.join(deck_name)).await?;
                    deck_part = true;
                }
                "files" => {
                    files += 1;
                    if files > inner.config.max_bundle_files {
                        return Err(UploadError(format!(
                            "more than the {} files allowed",
                            inner.config.max_bundle_files
                        ))
                        .into());
                    }
                    let file_name = field
                        .file_name()
                        .ok_or_else(|| UploadError("a `files` part has no file name".into()))?
                        .to_string();
                    let rel = upload::safe_relative(&file_name)?;
                    let dest = input.join(rel);
                    if let Some(parent) = dest.parent() {
                        tokio::fs::create_dir_all(parent)
                            .await
                            .map_err(Failure::internal)?;
                    }
                    save_field(&mut field, &dest).await?;
                }
                "source" => {
                    // A presentation, imported as `slidecast import` does.
                    let file_name = field.file_name().unwrap_or_default().to_string();
                    let lower = file_name.to_ascii_lowercase();
                    if !(lower.ends_with(".pdf") || lower.ends_with(".pptx")) {
                        return Err(Failure::new(
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            "unsupported_source",
                            "part `source` must be a .pdf or .pptx file",
                        ));
                    }
                    // Its own name (the deck's title comes from it), without
                    // any folder the client sent.
                    let name = Path::new(&file_name)
                        .file_name()
                        .ok_or_else(|| UploadError("part `source` has no file name".into()))?;
                    let source_dir = staging.path().join("source");
                    tokio::fs::create_dir_all(&source_dir)
                        .await
                        .map_err(Failure::internal)?;
                    let source = source_dir.join(name);
                    save_field(&mut field, &source).await?;
                    let mut options = slidecast_deckgen::ImportOptions::new(&source);
                    options.output = Some(input.clone());
                    let generated = tokio::task::spawn_blocking(move || slidecast_deckgen::import(&options))
                        .await
                        .map_err(Failure::internal)?
                        .map_err(|e| {
                            let message = e
                                .to_string()
                                .replace(&format!("{}/", staging_path.display()), "");
                            match e {
                                slidecast_deckgen::DeckgenError::MissingTool { .. } => {
                                    Failure::new(StatusCode::SERVICE_UNAVAILABLE, "missing_tool", message)
                                }
                                _ => Failure::from(UploadError(format!("source: {message}"))),
                            }
                        })?;
                    import_notes = generated.notes;
                    presentation = true;
                }
                other => {
                    return Err(UploadError(format!(
                        "unknown part `{other}`; send `bundle` (a zip), `source` (a PDF or PPTX), or `deck` and `files`, and optionally `options`"
                    ))
                    .into())
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(refused) = parts {
        while let Ok(Some(mut rest)) = multipart.next_field().await {
            while let Ok(Some(_)) = rest.chunk().await {}
        }
        return Err(refused);
    }
    if usize::from(bundle) + usize::from(deck_part) + usize::from(presentation) > 1 {
        return Err(
            UploadError("send one of `bundle`, `source`, or `deck` (with `files`)".into()).into(),
        );
    }
    if !bundle && !deck_part && !presentation {
        return Err(UploadError(
            "no deck: send `bundle` (a zip of a deck folder), `source` (a PDF or PPTX), or `deck` and `files`".into(),
        )
        .into());
    }
    options.schedule()?;
    let deck_file = upload::find_deck(&input)?;
    let load = inner.providers.load_options();
    let (deck, problems) = {
        let input_dir = input.clone();
        tokio::task::spawn_blocking(move || {
            let input = input_dir;
            let deck = match slidecast_core::Deck::load_with(&deck_file, &load) {
                Ok(deck) => deck,
                Err(e) => return Err(e),
            };
            let label = deck_file
                .strip_prefix(&input)
                .unwrap_or(&deck_file)
                .display()
                .to_string();
            let mut problems = upload::images_outside(&deck, &input, &label);
            if problems.is_empty() {
                problems.extend(slidecast_render::check_media(&deck).into_iter().map(|p| {
                    Problem {
                        file: label.clone(),
                        slide: p.slide,
                        field: p.field,
                        message: p.message.replace(&format!("{}/", input.display()), ""),
                    }
                }));
            }
            Ok((deck, problems))
        })
        .await
        .map_err(Failure::internal)?
        .map_err(|e| deck_failure(&slidecast_render::RenderError::Deck(e), &input))?
    };
    if !problems.is_empty() {
        return Err(Failure {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: ApiError {
                code: "invalid_deck".into(),
                message: std::iter::once(format!("{} problem(s) in the deck", problems.len()))
                    .chain(import_notes.iter().map(|n| format!("note: {n}")))
                    .collect::<Vec<_>>()
                    .join("\n"),
                problems,
            },
        });
    }
    let received = Received {
        staging,
        deck,
        options,
    };
    // A provider the deck or the options name must exist.
    let probe = received.job(inner, &received.input().join("out.mp4"));
    probe
        .providers()
        .map_err(|e| deck_failure(&e, &received.input()))?;
    Ok(received)
}

impl Received {
    fn job(&self, inner: &Inner, output: &Path) -> RenderJob {
        let mut job = RenderJob::new(self.deck.clone(), output)
            .registry(inner.providers.clone())
            .store(
                slidecast_render::StorePolicy::default()
                    .cache_dir(inner.config.data_dir.join("cache"))
                    .state_dir(self.staging.path().join("state")),
            );
        job = inner.configure(job);
        if let Some(p) = &self.options.provider {
            job = job.provider(p);
        }
        job
    }
}

fn deck_failure(e: &slidecast_render::RenderError, input: &Path) -> Failure {
    Failure {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        error: worker::api_error(e, input),
    }
}

async fn save_field(
    field: &mut axum::extract::multipart::Field<'_>,
    dest: &Path,
) -> Result<(), Failure> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .await
        .map_err(|e| {
            UploadError(format!(
                "{}: {e}",
                dest.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ))
        })?;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| Failure::new(e.status(), "invalid_upload", e.body_text()))?
    {
        file.write_all(&chunk).await.map_err(Failure::internal)?;
    }
    file.flush().await.map_err(Failure::internal)?;
    Ok(())
}

async fn submit(
    State(inner): Shared,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, Failure> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(key) = &key {
        if let Some(row) = inner.db.job_by_idempotency_key(key).await? {
            return Ok(accepted(&row));
        }
    }
    let received = receive(&inner, multipart).await?;
    let id = crate::new_id();
    let job_dir = inner.job_dir(&id);
    tokio::fs::create_dir_all(&job_dir)
        .await
        .map_err(Failure::internal)?;
    tokio::fs::rename(received.input(), job_dir.join("input"))
        .await
        .map_err(Failure::internal)?;
    // Stored before the job exists, so any worker can fetch it.
    if let Err(e) = inner
        .blobs
        .put_dir(&format!("jobs/{id}/input"), &job_dir.join("input"))
        .await
    {
        let _ = tokio::fs::remove_dir_all(&job_dir).await;
        return Err(Failure::internal(e));
    }
    let options = serde_json::to_string(&received.options).map_err(Failure::internal)?;
    let (job_id, created) = inner
        .db
        .insert_job(&NewJob {
            id: &id,
            idempotency_key: key.as_deref(),
            title: &received.deck.title,
            slides: received.deck.slides.len(),
            options: &options,
        })
        .await?;
    if !created {
        let _ = tokio::fs::remove_dir_all(&job_dir).await;
    } else {
        worker::enqueue(&inner.queue, &job_id, 0)
            .await
            .map_err(Failure::internal)?;
        tracing::info!(job = %job_id, slides = received.deck.slides.len(), "queued");
    }
    let row = inner
        .db
        .job(&job_id)
        .await?
        .ok_or_else(|| Failure::not_found(&job_id))?;
    Ok(accepted(&row))
}

fn accepted(row: &JobRow) -> Response {
    let mut r = (StatusCode::ACCEPTED, Json(job_json(row))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/jobs/{}", row.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn plan(State(inner): Shared, multipart: Multipart) -> Result<Json<Value>, Failure> {
    let received = receive(&inner, multipart).await?;
    let job = received.job(&inner, &received.input().join("out.mp4"));
    let plan = job
        .plan_with_vendors()
        .await
        .map_err(|e| deck_failure(&e, &received.input()))?;
    let slides: Vec<Value> = plan
        .slides
        .iter()
        .map(|s| {
            json!({
                "slide": s.slide,
                "status": s.status.to_string(),
                "provider": s.provider,
                "words": s.words,
                "speech_seconds": s.speech.as_secs_f64(),
                "billed_seconds": s.billed.as_secs_f64(),
                "cost": s.cost,
                "unit": s.unit,
                "clips": s.keys.len(),
            })
        })
        .collect();
    use slidecast_store::SlideStatus;
    Ok(Json(json!({
        "title": received.deck.title,
        "slides": slides,
        "to_render": plan.count(|s| matches!(s, SlideStatus::ToRender)),
        "cached": plan.count(|s| matches!(s, SlideStatus::Cached)),
        "in_flight": plan.count(|s| matches!(s, SlideStatus::InFlight { .. })),
        "vendor_minutes": plan.total_minutes(),
        "costs": plan
            .costs()
            .into_iter()
            .map(|(provider, cost, unit)| json!({"provider": provider, "cost": cost, "unit": unit}))
            .collect::<Vec<_>>(),
    })))
}

// ---------------------------------------------------------------------------
// Reading jobs

fn job_json(row: &JobRow) -> Value {
    let base = format!("/v1/jobs/{}", row.id);
    let mut links = json!({
        "self": base,
        "events": format!("{base}/events"),
        "cancel": format!("{base}/cancel"),
    });
    if row.state == JobState::Succeeded {
        for output in OUTPUTS {
            links[output.link] = json!(format!("{base}/{}", output.download));
        }
    }
    let stages: BTreeMap<String, String> = serde_json::from_str(&row.stages).unwrap_or_default();
    json!({
        "id": row.id,
        "state": row.state,
        "attempt": row.generation + 1,
        "title": row.title,
        "slides": row.slides,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "overall": row.overall,
        "eta": row.eta,
        "stages": stages,
        "error": row.error,
        "video_length": row.video_length,
        "links": links,
    })
}

/// One file a finished job offers for download.
struct Output {
    /// Its name in the job's `links`.
    link: &'static str,
    /// Its path under `/v1/jobs/ID/`.
    download: &'static str,
    /// The file in the job's output folder.
    file: &'static str,
    /// Its content type, when the file's extension does not tell.
    content_type: Option<&'static str>,
}

/// What a finished job offers for download.
const OUTPUTS: &[Output] = &[
    Output {
        link: "video",
        download: "video",
        file: "video.mp4",
        content_type: None,
    },
    Output {
        link: "captions_srt",
        download: "captions.srt",
        file: "video.srt",
        content_type: Some("application/x-subrip; charset=utf-8"),
    },
    Output {
        link: "captions_vtt",
        download: "captions.vtt",
        file: "video.vtt",
        content_type: None,
    },
    Output {
        link: "chapters_vtt",
        download: "chapters.vtt",
        file: "video.chapters.vtt",
        content_type: None,
    },
    Output {
        link: "chapters_txt",
        download: "chapters.txt",
        file: "video.chapters.txt",
        content_type: Some("text/plain; charset=utf-8"),
    },
    Output {
        link: "timeline",
        download: "timeline.svg",
        file: "timeline.svg",
        content_type: None,
    },
];

async fn show(State(inner): Shared, UrlPath(id): UrlPath<String>) -> Result<Json<Value>, Failure> {
    let row = inner
        .db
        .job(&id)
        .await?
        .ok_or_else(|| Failure::not_found(&id))?;
    Ok(Json(job_json(&row)))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
}

async fn list(State(inner): Shared, Query(q): Query<ListQuery>) -> Result<Json<Value>, Failure> {
    let state = q
        .state
        .as_deref()
        .map(str::parse::<JobState>)
        .transpose()
        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "invalid_query", e))?;
    let rows = inner
        .db
        .jobs(state, q.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    Ok(Json(
        json!({ "jobs": rows.iter().map(job_json).collect::<Vec<_>>() }),
    ))
}

// ---------------------------------------------------------------------------
// Events

async fn events(
    State(inner): Shared,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, Failure> {
    if inner.db.job(&id).await?.is_none() {
        return Err(Failure::not_found(&id));
    }
    let mut last: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    let mut changes = inner.changes.subscribe();
    tokio::spawn(async move {
        loop {
            // Read the state before the events: when it is final, every
            // event was written before it.
            let state = match inner.db.job(&id).await {
                Ok(Some(row)) => row.state,
                _ => return,
            };
            let batch = match inner.db.events_after(&id, last).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(job = %id, "event stream: {e}");
                    return;
                }
            };
            let drained = batch.len() < 1000;
            for (seq, data) in batch {
                let event = Event::default().id(seq.to_string()).data(data);
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
                last = seq;
            }
            if state.is_final() && drained {
                return;
            }
            if !drained {
                continue;
            }
            // Woken by this process's worker at once; another process's
            // progress is seen by polling.
            let wait = async {
                loop {
                    match changes.recv().await {
                        Ok(changed) if changed == id => return,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), wait).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

// ---------------------------------------------------------------------------
// Cancel

#[derive(Deserialize)]
struct CancelQuery {
    remote: Option<String>,
}

async fn cancel(
    State(inner): Shared,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<CancelQuery>,
) -> Result<Response, Failure> {
    let remote_delete = match q.remote.as_deref() {
        None => false,
        Some("delete") => true,
        Some(other) => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("remote={other}: the only value is `delete`"),
            ))
        }
    };
    let before = inner
        .db
        .job(&id)
        .await?
        .ok_or_else(|| Failure::not_found(&id))?;
    let state = inner
        .db
        .request_cancel(&id, remote_delete)
        .await?
        .ok_or_else(|| Failure::not_found(&id))?;
    if before.state == JobState::Queued && state == JobState::Cancelled {
        let event = json!({"type": "cancelled", "remote_deleted": false});
        inner.db.append_event(&id, event).await?;
    }
    let signal = inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
    if let Some(signal) = signal {
        signal.notify_one();
    }
    inner.changed(&id);
    let row = inner
        .db
        .job(&id)
        .await?
        .ok_or_else(|| Failure::not_found(&id))?;
    Ok((StatusCode::ACCEPTED, Json(job_json(&row))).into_response())
}

// ---------------------------------------------------------------------------
// Downloads

async fn download(
    State(inner): Shared,
    UrlPath((id, file)): UrlPath<(String, String)>,
    request: Request,
) -> Result<Response, Failure> {
    let Some(output) = OUTPUTS.iter().find(|o| o.download == file) else {
        let names: Vec<&str> = OUTPUTS.iter().map(|o| o.download).collect();
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no download `{file}`; there are {}", names.join(", ")),
        ));
    };
    let name = output.file;
    let row = inner
        .db
        .job(&id)
        .await?
        .ok_or_else(|| Failure::not_found(&id))?;
    if row.state != JobState::Succeeded {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!(
                "job `{id}` is {}; downloads are ready once it succeeded",
                row.state.as_str()
            ),
        ));
    }
    // This process's copy, else the blob store's (the job ran elsewhere).
    let path = inner.job_dir(&id).join("out").join(name);
    if !path.is_file() {
        inner
            .blobs
            .get_file(&format!("jobs/{id}/out/{name}"), &path)
            .await?;
    }
    if !path.is_file() {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("job `{id}` has no {file} (captions off?)"),
        ));
    }
    let response = tower_http::services::ServeFile::new(&path)
        .oneshot(request)
        .await
        .map_err(Failure::internal)?;
    let mut response = response.map(Body::new);
    if let Some(content_type) = output.content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    Ok(response)
}

// ---------------------------------------------------------------------------
// Elai's webhook

async fn elai_webhook(
    State(inner): Shared,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, Failure> {
    use slidecast_elai::webhook;
    let Some(secret) = &inner.config.webhook_secret else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "webhook_disabled",
            "no Elai webhook secret is configured",
        ));
    };
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let event = webhook::verify(
        secret,
        header_text(webhook::TIMESTAMP_HEADER),
        header_text(webhook::SIGNATURE_HEADER),
        &body,
        std::time::SystemTime::now(),
        webhook::DEFAULT_TOLERANCE,
    )
    .map_err(|e| {
        let status = match e {
            webhook::WebhookError::BadPayload(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        tracing::warn!("Elai webhook refused: {e}");
        Failure::new(status, "webhook_refused", e.to_string())
    })?;
    if let Some(delivery) = header_text(webhook::DELIVERY_HEADER) {
        if !inner.db.first_delivery(delivery).await? {
            return Ok(Json(json!({ "duplicate": true, "woke": false })));
        }
    }
    let woke = inner
        .elai
        .provider
        .get()
        .is_some_and(|p| p.wake(&event.video_id));
    tracing::debug!(video = %event.video_id, event = %event.event, woke, "Elai webhook");
    Ok(Json(json!({ "duplicate": false, "woke": woke })))
}

// ---------------------------------------------------------------------------
// Health

async fn ready(State(inner): Shared) -> Response {
    let db = inner.db.ping().await;
    let blobs = {
        let probe = inner.config.data_dir.join("jobs");
        tokio::task::spawn_blocking(move || tempfile::tempfile_in(probe).is_ok())
            .await
            .unwrap_or(false)
    };
    let status = if db && blobs {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "database": db, "blobs": blobs }))).into_response()
}

// ---------------------------------------------------------------------------
// The web page: plain files compiled into the binary.

async fn page_html() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("../web/index.html"),
    )
}

async fn page_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../web/app.js"),
    )
}

async fn page_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../web/style.css"),
    )
}
