//! What an operator deploys around the API: `/metrics` behind its token,
//! compressed answers and the front end's precompressed files, and the
//! `dxdesk healthcheck` the container runs.

use crate::backend_tests;
use crate::common::cases::{institution_id, open_simple, refer_ok, BANK, CONCIERGE};
use crate::common::{self, Backend};
use serde_json::json;

const METRICS_TOKEN: &str = "metrics-token-for-tests-0123456789";

async fn app_with_metrics(backend: Backend) -> common::TestApp {
    let mut config = common::test_config();
    config.metrics_token = Some(METRICS_TOKEN.to_owned());
    common::spawn_app_with(backend, config).await
}

backend_tests!(
    metrics_need_the_token_and_count_operations,
    |backend| async move {
        let app = app_with_metrics(backend).await;
        let token = app.login("admin@aomori.example").await;
        let me = app
            .gql(Some(&token), "query MetricsProbe { me { id } }", json!({}))
            .await;
        me.ok();
        let url = format!("{}/metrics", app.base);
        let gauge = |text: &str, name: &str| -> i64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .trim()
                .parse()
                .unwrap()
        };
        let scrape = || async {
            let res = app
                .http
                .get(&url)
                .bearer_auth(METRICS_TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        };
        // A referral queues its arrival mail (the worker does not run here):
        // the backlog gauge counts it.
        let before = gauge(&scrape().await, "dxdesk_outbox_pending");
        let concierge = app.login(CONCIERGE).await;
        let opened = open_simple(&app, &concierge, "メトリクスの相談", "メトリクス株式会社").await;
        let bank = institution_id(&app, &concierge, BANK).await;
        refer_ok(&app, &concierge, &opened.id, &bank).await;
        let after = scrape().await;
        assert!(gauge(&after, "dxdesk_outbox_pending") > before, "{after}");
        assert!(gauge(&after, "dxdesk_outbox_due") >= 1, "{after}");
        assert_eq!(gauge(&after, "dxdesk_outbox_failed"), 0, "{after}");
        assert!(gauge(&after, "dxdesk_outbox_oldest_due_seconds") >= 0);
        assert!(gauge(&after, "dxdesk_outbox_scans_completed") >= 0);
        let none = app.http.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401);
        let wrong = app.http.get(&url).bearer_auth("nope").send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        let text = scrape().await;
        assert!(
            text.contains(r#"dxdesk_http_requests_total{operation="MetricsProbe",status="200"}"#),
            "{text}"
        );
        assert!(text
            .contains(r#"dxdesk_http_request_duration_seconds_count{operation="MetricsProbe"}"#));
        assert!(text.contains(r#"dxdesk_db_pool_connections{state="max"}"#));
    }
);

backend_tests!(
    without_a_token_there_is_no_metrics_endpoint,
    |backend| async move {
        let app = common::spawn_app(backend).await;
        let res = app
            .http
            .get(format!("{}/metrics", app.base))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
);

backend_tests!(
    api_answers_are_compressed_when_the_client_accepts_it,
    |backend| async move {
        let app = common::spawn_app(backend).await;
        let token = app.login("admin@aomori.example").await;
        let body = json!({ "query": "{ institutions { id name kind tags } }" }).to_string();
        let post = |enc: &'static str| {
            app.http
                .post(format!("{}/graphql", app.base))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("accept-encoding", enc)
                .body(body.clone())
                .send()
        };
        let plain = post("identity").await.unwrap();
        assert!(plain.headers().get("content-encoding").is_none());
        let plain = plain.bytes().await.unwrap();
        assert!(plain.len() > 1024, "a body worth compressing");
        let gz = post("gzip").await.unwrap();
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        let gz = gz.bytes().await.unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "a gzip stream");
        assert!(gz.len() < plain.len());
        let br = post("br, gzip").await.unwrap();
        assert_eq!(br.headers()["content-encoding"], "br");
    }
);

/// The built front end's files go out as their build-time brotli/gzip copies
/// with a year's immutable caching; needs `frontend/dist` (scripts/test.sh
/// builds it first; CI fails without it).
#[tokio::test]
async fn front_end_files_are_served_precompressed_and_immutable() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend/dist/assets");
    let Some(js) = std::fs::read_dir(&dist).ok().and_then(|d| {
        d.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("index-") && n.ends_with(".js"))
    }) else {
        assert!(
            std::env::var("CI").is_err(),
            "frontend/dist is not built (scripts/build-frontend.sh)"
        );
        common::announce("front_end_files_are_served_precompressed_and_immutable: frontend/dist not built, skipped");
        return;
    };
    let app = common::spawn_app(Backend::Sqlite).await;
    let url = format!("{}/assets/{js}", app.base);
    let get = |enc: &'static str| app.http.get(&url).header("accept-encoding", enc).send();
    let br = get("gzip, deflate, br").await.unwrap();
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(
        br.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(br.headers()["vary"], "accept-encoding");
    let on_disk = std::fs::read(dist.join(format!("{js}.br"))).unwrap();
    assert_eq!(br.bytes().await.unwrap().as_ref(), on_disk.as_slice());
    let gz = get("gzip").await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let plain = get("identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    assert_eq!(
        plain.as_ref(),
        std::fs::read(dist.join(&js)).unwrap().as_slice()
    );
    // The public pages' script stays within its budget (60 KB compressed).
    assert!(
        on_disk.len() <= 60 * 1024,
        "index chunk {} bytes brotli",
        on_disk.len()
    );
}

backend_tests!(
    the_container_healthcheck_probes_a_running_server,
    |backend| async move {
        let app = common::spawn_app(backend).await;
        let bin = env!("CARGO_BIN_EXE_dxdesk");
        let up = tokio::process::Command::new(bin)
            .args(["healthcheck", "--url", &app.base])
            .output()
            .await
            .unwrap();
        assert!(
            up.status.success(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
        // Nobody listens on this port: the probe fails in one line.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let down = tokio::process::Command::new(bin)
            .args(["healthcheck"])
            .env("DXDESK_BIND", addr.to_string())
            .output()
            .await
            .unwrap();
        assert!(!down.status.success());
        let err = String::from_utf8_lossy(&down.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
);
