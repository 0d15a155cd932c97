//! The service's HTTP API against a real server on 127.0.0.1, rendering
//! with the instant mock presenter: submit, state, events, downloads,
//! idempotency, refusals, tokens.

mod common;

use std::time::Duration;

use common::{bundle_form, start, zip_entries};
use slidecast_tests::{mock_deck, Probe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_deck_renders_and_every_output_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let deck_dir = dir.path().join("deck");
    std::fs::create_dir(&deck_dir).unwrap();
    mock_deck(&deck_dir, 3);
    let server = start(&dir.path().join("data"), |c| c).await;

    let r = server
        .client
        .post(server.url("/v1/jobs"))
        .multipart(bundle_form(common::zip_dir(&deck_dir), "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let job: serde_json::Value = r.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/v1/jobs/{id}"));
    assert_eq!(job["slides"], 3);
    assert_eq!(job["title"], "Render test");

    let job = server.wait_final(&id, Duration::from_secs(120)).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["overall"], 100.0);
    for slide in ["1", "3"] {
        assert_eq!(job["stages"][slide], "composed", "{job}");
    }
    let length = job["video_length"].as_f64().unwrap();

    // The video, whole: a real H.264/AAC file of the reported length.
    let video = server
        .client
        .get(server.url(job["links"]["video"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(video.status().as_u16(), 200);
    assert_eq!(video.headers()["content-type"], "video/mp4");
    let bytes = video.bytes().await.unwrap();
    let file = dir.path().join("got.mp4");
    std::fs::write(&file, &bytes).unwrap();
    let probe = Probe::of(&file);
    assert_eq!(probe.video().codec_name.as_deref(), Some("h264"));
    assert_eq!(probe.audio().codec_name.as_deref(), Some("aac"));
    assert!(
        (probe.duration() - length).abs() < 0.2,
        "{} vs {length}",
        probe.duration()
    );

    // A range of it.
    let part = server
        .client
        .get(server.url(&format!("/v1/jobs/{id}/video")))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-199/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(100..200));

    // Captions and the timeline.
    let srt = server
        .get_text(job["links"]["captions_srt"].as_str().unwrap())
        .await;
    assert!(srt.contains("This is slide number 1."), "{srt}");
    let vtt = server
        .get_text(job["links"]["captions_vtt"].as_str().unwrap())
        .await;
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    let svg = server
        .get_text(job["links"]["timeline"].as_str().unwrap())
        .await;
    assert!(svg.contains("<svg"), "{svg}");
    // Chapters: one per slide, for web players and for a description.
    let chapters = server
        .get_text(job["links"]["chapters_vtt"].as_str().unwrap())
        .await;
    assert!(
        chapters.starts_with("WEBVTT\n\nchapter-1\n00:00:00.000 --> "),
        "{chapters}"
    );
    let list = server
        .get_text(job["links"]["chapters_txt"].as_str().unwrap())
        .await;
    assert!(list.starts_with("0:00 "), "{list}");

    // The list shows it, and filters by state.
    let (_, list) = server.get_json("/v1/jobs?state=succeeded").await;
    assert_eq!(list["jobs"][0]["id"], id.as_str());
    let (_, list) = server.get_json("/v1/jobs?state=failed").await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 0);
    let (status, _) = server.get_json("/v1/jobs?state=done").await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_replay_in_order_and_resume_after_the_last_id() {
    let dir = tempfile::tempdir().unwrap();
    let deck_dir = dir.path().join("deck");
    std::fs::create_dir(&deck_dir).unwrap();
    mock_deck(&deck_dir, 3);
    let server = start(&dir.path().join("data"), |c| c).await;
    let job = server.submit(&deck_dir, "{}").await;
    let id = job["id"].as_str().unwrap();

    // Followed live from the start, the stream ends when the job does.
    let live = server.events(id, None).await;
    let ids: Vec<u64> = live.iter().map(|(i, _)| *i).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let kinds: Vec<&str> = live
        .iter()
        .map(|(_, e)| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"finished"), "{kinds:?}");
    let finished = &live.last().unwrap().1;
    assert_eq!(
        finished["event"]["output"],
        format!("/v1/jobs/{id}/video"),
        "no server path in events"
    );

    // A finished job replays the same events; a reconnect resumes.
    let replay = server.events(id, None).await;
    assert_eq!(replay, live);
    let resumed = server.events(id, Some(4)).await;
    assert_eq!(resumed, live[4..].to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_submit_with_the_same_idempotency_key_is_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let deck_dir = dir.path().join("deck");
    std::fs::create_dir(&deck_dir).unwrap();
    mock_deck(&deck_dir, 2);
    let server = start(&dir.path().join("data"), |c| c).await;
    let send = || async {
        let r = server
            .client
            .post(server.url("/v1/jobs"))
            .header("Idempotency-Key", "talk-42")
            .multipart(bundle_form(common::zip_dir(&deck_dir), "{}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        r.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first, second);
    let (_, list) = server.get_json("/v1/jobs").await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);
    server.wait_final(&first, Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_deck_is_refused_with_every_problem_before_a_job_exists() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), |c| c).await;
    let deck = br#"
title = "Broken"
[presenter]
provider = "mock"
[[slides]]
image = "missing.png"
script = "Hello."
[[slides]]
image = "../outside.png"
script = "Hello."
[[slides]]
script = "No picture."
"#;
    let (status, body) = server
        .post_form(
            "/v1/jobs",
            bundle_form(zip_entries(&[("deck.toml", deck)]), "{}"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_deck", "{body}");
    let problems = body["error"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["slide"] == 3 && p["field"] == "image"),
        "{body}"
    );
    // No server path in what the client sees.
    assert!(
        !body.to_string().contains(dir.path().to_str().unwrap()),
        "{body}"
    );

    // A picture of the server's own disk, named by absolute path.
    let outside = dir.path().join("outside.png");
    slidecast_tests::png_sized(&outside, 8, 8, [1, 2, 3]);
    let escaping = format!(
        "title = \"Escaping\"\n[presenter]\nprovider = \"mock\"\n[[slides]]\nimage = \"{}\"\nscript = \"Hello.\"\n",
        outside.display()
    );
    let (status, body) = server
        .post_form(
            "/v1/jobs",
            bundle_form(zip_entries(&[("deck.toml", escaping.as_bytes())]), "{}"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("must be a file of the upload"),
        "{body}"
    );

    // Options are checked too.
    let (status, body) = server
        .post_form(
            "/v1/jobs",
            bundle_form(
                zip_entries(&[("deck.toml", escaping.as_bytes())]),
                r#"{"provder": "elai"}"#,
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("provder"),
        "{body}"
    );

    let (_, list) = server.get_json("/v1/jobs").await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 0, "no job was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_slip_links_and_oversize_uploads_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), |c| {
        c.max_upload_bytes(64 * 1024).max_bundle_files(3)
    })
    .await;
    let (status, body) = server
        .post_form(
            "/v1/jobs",
            bundle_form(zip_entries(&[("../../evil.toml", b"x")]), "{}"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("`..`"),
        "{body}"
    );
    assert!(!dir.path().join("evil.toml").exists());

    let (status, body) = server
        .post_form(
            "/v1/jobs",
            bundle_form(
                zip_entries(&[("a", b"1"), ("b", b"2"), ("c", b"3"), ("deck.toml", b"")]),
                "{}",
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("more than the 3 allowed"));

    let big = vec![7u8; 200 * 1024];
    let form = reqwest::multipart::Form::new().part(
        "bundle",
        reqwest::multipart::Part::bytes(big).file_name("big.zip"),
    );
    let r = server
        .client
        .post(server.url("/v1/jobs"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    let form = reqwest::multipart::Form::new().text("slides", "x");
    let (status, body) = server.post_form("/v1/jobs", form).await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown part `slides`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deck_and_its_files_as_parts_render_like_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let deck_dir = dir.path().join("deck");
    std::fs::create_dir(&deck_dir).unwrap();
    let deck = mock_deck(&deck_dir, 2);
    let server = start(&dir.path().join("data"), |c| c).await;
    let mut form = reqwest::multipart::Form::new().part(
        "deck",
        reqwest::multipart::Part::bytes(std::fs::read(&deck).unwrap()).file_name("deck.toml"),
    );
    for n in 1..=2 {
        let name = format!("{n}.png");
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(std::fs::read(deck_dir.join(&name)).unwrap())
                .file_name(name),
        );
    }
    let (status, job) = server.post_form("/v1/jobs", form).await;
    assert_eq!(status, 202, "{job}");
    let job = server
        .wait_final(job["id"].as_str().unwrap(), Duration::from_secs(120))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");

    // A file part may not leave the upload either.
    let form = reqwest::multipart::Form::new()
        .part(
            "deck",
            reqwest::multipart::Part::bytes(std::fs::read(&deck).unwrap()).file_name("deck.toml"),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("../1.png"),
        );
    let (status, body) = server.post_form("/v1/jobs", form).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_is_json_and_downloads_wait_for_success() {
    let dir = tempfile::tempdir().unwrap();
    let deck_dir = dir.path().join("deck");
    std::fs::create_dir(&deck_dir).unwrap();
    mock_deck(&deck_dir, 3);
    let server = start(&dir.path().join("data"), |c| c).await;
    let (status, plan) = server
        .post_form("/v1/plan", bundle_form(common::zip_dir(&deck_dir), "{}"))
        .await;
    assert_eq!(status, 200, "{plan}");
    let slides = plan["slides"].as_array().unwrap();
    assert_eq!(slides.len(), 3);
    assert_eq!(slides[1]["status"], "slide only");
    assert_eq!(plan["vendor_minutes"], 0.0);
    assert_eq!(
        plan["costs"],
        serde_json::json!([]),
        "mock clips cost nothing"
    );

    let (status, body) = server.get_json("/v1/jobs/nope").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server.get_json("/v1/jobs/nope/video").await;
    assert_eq!(status, 404, "{body}");

    let (status, _) = server.get_json("/healthz").await;
    assert_eq!(status, 200);
    let (status, ready) = server.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(ready["database"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_the_api_needs_one_and_the_page_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut tokens = slidecast_service::ApiTokens::default();
    tokens.add("s3cret-token");
    let server = start(&dir.path().join("data"), |c| c.api_tokens(tokens)).await;
    let (status, body) = server.get_json("/v1/jobs").await;
    assert_eq!(status, 401, "{body}");
    let r = server
        .client
        .get(server.url("/v1/jobs"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = server
        .client
        .get(server.url("/v1/jobs"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (status, _) = server.get_json("/v1/jobs?access_token=s3cret-token").await;
    assert_eq!(status, 200);
    let page = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<title>slidecast</title>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_service_on_the_same_data_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = start(&dir.path().join("data"), |c| c).await;
    let config = slidecast_service::ServiceConfig::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir.path().join("data"))
        .build();
    let err = slidecast_service::Service::start(config).await.unwrap_err();
    assert!(
        err.to_string().contains("another slidecast service uses"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_is_imported_and_rendered_as_slides() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), |c| c).await;
    let form = reqwest::multipart::Form::new().part(
        "source",
        reqwest::multipart::Part::bytes(slidecast_tests::tiny_pdf(3))
            .file_name("Quarterly-update.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let (status, job) = server.post_form("/v1/jobs", form).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["slides"], 3);
    assert_eq!(job["title"], "Quarterly update");
    let job = server
        .wait_final(job["id"].as_str().unwrap(), Duration::from_secs(120))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    // Three slides without narration, 5 s each.
    let length = job["video_length"].as_f64().unwrap();
    assert!((length - 15.0).abs() < 0.2, "{length}");

    let form = reqwest::multipart::Form::new().part(
        "source",
        reqwest::multipart::Part::bytes(b"not a pdf".to_vec()).file_name("talk.pdf"),
    );
    let (status, body) = server.post_form("/v1/jobs", form).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        !body.to_string().contains(dir.path().to_str().unwrap()),
        "no server path: {body}"
    );
    let form = reqwest::multipart::Form::new().part(
        "source",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("talk.key"),
    );
    let (status, body) = server.post_form("/v1/jobs", form).await;
    assert_eq!(status, 415, "{body}");
}

/// `max_cost` reaches the job: a vendor no deck can name fails it with
/// `unknown_provider` (a misspelt budget must not pass by costing nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_max_cost_for_an_unknown_vendor_fails_the_job_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let deck_dir = dir.path().join("deck");
    std::fs::create_dir(&deck_dir).unwrap();
    mock_deck(&deck_dir, 2);
    let server = start(&dir.path().join("data"), |c| c).await;
    let r = server
        .client
        .post(server.url("/v1/jobs"))
        .multipart(bundle_form(
            common::zip_dir(&deck_dir),
            r#"{"max_cost": {"mock": 0, "hegyen": 5}}"#,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let job: serde_json::Value = r.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    let job = server.wait_final(&id, Duration::from_secs(120)).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "unknown_provider", "{job}");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("hegyen") && message.contains("heygen"),
        "{message}"
    );
}
