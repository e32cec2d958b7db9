//! The dashboard in a real headless Chromium (Debian's `chromium` and `chromedriver`), against a
//! started runtime on SQLite and a real receiver on 127.0.0.1: the page is refused without the
//! app's session cookie; with it, a delivery appears live, a customer's endpoint that goes down
//! turns unhealthy (circuit open) and an alert fires, a dead letter retried from the page is seen
//! delivered, the filters narrow what it shows, and `/metrics` shows the same. Screenshots go to
//! `target/dashboard/`. Without a browser: its security headers, and that it refuses a change
//! without the page's header, bad filters and unknown charts.
//!
//! Without Chromium the test says so and passes, unless `BUILDAMP_REQUIRE_BROWSER=1` (CI sets
//! it, and installs the packages).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use buildamp::alerts::AlertRules;
use buildamp::api::{Caller, Refused};
use buildamp::delivery::guard::AddressPolicy;
use buildamp::http::service::{Scope, ServiceAuthorizer};
use buildamp::protect::breaker::BreakerPolicy;
use buildamp::{BuildAmpWebhook, Event, Runtime, Webhook};
use buildamp_models::{Lead, LeadCreated};
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::browser::{self, Browser};
use support::{Receiver, Reply, env};

/// Answered 200.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "{RECEIVER}/ok")]
pub struct DashboardPing {
    /// The recipient (masked on the page).
    pub email: String,
}

/// The app's own login: a session cookie, as a browser sends it.
struct SessionCookie;

impl ServiceAuthorizer for SessionCookie {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refused> {
        let cookies = headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        if cookies.split("; ").any(|c| c == "session=operator") {
            Ok(Caller("operator".into()))
        } else {
            Err(Refused("sign in first".into()))
        }
    }

    async fn authorize(&self, _: &Caller, scope: Scope) -> Result<(), Refused> {
        (scope == Scope::Admin)
            .then_some(())
            .ok_or_else(|| Refused("operators only".into()))
    }
}

fn lead(n: u32) -> LeadCreated {
    LeadCreated {
        lead: Lead {
            id: format!("lead_{n}"),
            name: "Jo Doe".into(),
            email: Some("jo.doe@example.com".into()),
            phone: None,
            source: "website".into(),
            score: 50,
            created_at: "2026-12-06T12:00:00Z".into(),
        },
        agent: None,
    }
}

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_watches_deliveries_sees_a_failing_endpoint_and_retries_its_dead_letters() {
    if browser::installed().is_none() {
        assert!(
            std::env::var("BUILDAMP_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "BUILDAMP_REQUIRE_BROWSER=1 but Chromium is not installed: apt-get install chromium chromium-driver"
        );
        eprintln!(
            "skipped: the dashboard test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let down = Arc::new(AtomicBool::new(true));
    let crm_down = down.clone();
    let receiver = Receiver::start(move |r, _| {
        Reply::Status(if r.path == "/crm" && crm_down.load(Ordering::SeqCst) {
            503
        } else {
            200
        })
    })
    .await;
    let (store, _file) = support::sqlite_store().await;
    let runtime = Runtime::builder(store)
        .env(env(&[("RECEIVER", &receiver.base)]))
        .secret_keys(support::test_keys())
        .allow_missing_env()
        .address_policy(AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]))
        .breaker(BreakerPolicy {
            failures: 2,
            cool_down: Duration::from_secs(1),
            ..BreakerPolicy::default()
        })
        .alert_rules(AlertRules {
            interval: Duration::from_millis(500),
            ..AlertRules::default()
        })
        .build()
        .unwrap();
    runtime.migrate().await.unwrap();
    let running = runtime.start().await.unwrap();
    let handle = buildamp::telemetry::install().unwrap();
    let app = buildamp::http::service::router(runtime.clone(), SessionCookie)
        .merge(buildamp::http::metrics::router(runtime.clone(), handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let crm = runtime
        .endpoints()
        .create(
            serde_json::from_value(json!({
                "url": format!("{}/crm", receiver.base),
                "description": "CRM",
                "environment": "development",
                "subscriptions": ["lead.created"],
                "retry": {"max_attempts": 1, "initial": "1s", "multiplier": 2, "max": "1s"},
            }))
            .unwrap(),
        )
        .await
        .unwrap()
        .endpoint
        .id
        .0;
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard");

    let page = Browser::start().await;
    // Without the app's session the page is refused.
    page.open(&format!("{site}/buildamp/dashboard")).await;
    page.wait_for(
        "the authorizer's refusal",
        "return document.body.innerText.includes('sign in first')",
        WAIT,
    )
    .await;
    page.cookie("session", "operator").await;
    page.open(&format!("{site}/buildamp/dashboard")).await;
    page.wait_for(
        "the live stream connected",
        "return document.getElementById('stream').textContent === 'live'",
        WAIT,
    )
    .await;

    // A delivery appears live, its recipient masked.
    DashboardPing {
        email: "ada@example.com".into(),
    }
    .trigger(&runtime)
    .await
    .unwrap();
    let preview = page
        .wait_for(
            "the delivery, sent",
            "const r = document.querySelector('#live tr[data-webhook=\"DashboardPing\"][data-status=\"sent\"]'); return r && r.querySelector('.preview').textContent",
            WAIT,
        )
        .await;
    assert_eq!(preview, r#"{"email":"a***@example.com"}"#);
    page.screenshot(&shots.join("live.png")).await;

    // The CRM goes down: two events fail (each has one attempt), its circuit opens and an alert
    // fires; both are dead letters.
    lead(1).publish(&runtime).await.unwrap();
    lead(2).publish(&runtime).await.unwrap();
    let row = format!("#destinations tr[data-destination=\"endpoint:{crm}\"]");
    page.wait_for(
        "the CRM unhealthy, its circuit open",
        &format!("const r = document.querySelector('{row}'); return r && r.dataset.circuit === 'open' && r.classList.contains('unhealthy')"),
        WAIT,
    )
    .await;
    page.wait_for(
        "the endpoint-down alert",
        "const a = document.querySelector('#alerts li.alert[data-rule=\"endpoint_down\"]'); return a && a.textContent",
        WAIT,
    )
    .await;
    let dead: Vec<String> = serde_json::from_value(
        page.wait_for(
            "two dead letters",
            "const rows = Array.from(document.querySelectorAll('#dead-letters tr')).map(r => r.dataset.id); return rows.length === 2 && rows",
            WAIT,
        )
        .await,
    )
    .unwrap();
    page.screenshot(&shots.join("unhealthy.png")).await;
    // /metrics says the same: two dead letters of the endpoint, its circuit open.
    let metrics = reqwest::get(format!("{site}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dead_letters = r#"buildamp_queue_depth{status="dead_letter",webhook="lead.created"} 2"#;
    assert!(metrics.contains(dead_letters), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "buildamp_circuit_failures{{key=\"endpoint:{crm}\",state=\"open\"}} 2"
        )),
        "{metrics}"
    );

    // The CRM is back; the operator retries one dead letter from the page and sees it delivered.
    down.store(false, Ordering::SeqCst);
    page.click(&format!(
        "#dead-letters button.retry[data-id=\"{}\"]",
        dead[0]
    ))
    .await;
    page.wait_for(
        "the retried dead letter, sent",
        &format!(
            "return !!document.querySelector('#live tr[data-id=\"{}\"][data-status=\"sent\"]')",
            dead[0]
        ),
        WAIT,
    )
    .await;
    page.wait_for(
        "the CRM healthy again and its alert resolved",
        &format!("const r = document.querySelector('{row}'); return r && r.dataset.circuit === 'closed' && !document.querySelector('#alerts li.alert[data-rule=\"endpoint_down\"]') && document.querySelectorAll('#dead-letters tr').length === 1"),
        WAIT,
    )
    .await;
    // The other goes with a replay of the endpoint's dead letters, from the same page.
    page.click(&format!("{row} button.replay")).await;
    page.wait_for(
        "no dead letter left",
        &format!("return document.querySelectorAll('#dead-letters tr').length === 0 && !!document.querySelector('#live tr[data-id=\"{}\"][data-status=\"sent\"]')", dead[1]),
        WAIT,
    )
    .await;
    page.screenshot(&shots.join("recovered.png")).await;
    // Filtered by type, every view shows only that type's deliveries.
    page.eval(
        "const s = document.getElementById('filter-type'); s.value = 'DashboardPing'; s.dispatchEvent(new Event('change'))",
    )
    .await;
    page.wait_for(
        "only DashboardPing's deliveries",
        "const rows = Array.from(document.querySelectorAll('#live tr')); return rows.length === 1 && rows.every(r => r.dataset.webhook === 'DashboardPing')",
        WAIT,
    )
    .await;
    let received = receiver.received();
    assert_eq!(received.iter().filter(|r| r.path == "/crm").count(), 4);
    drop(page);
    running.shutdown().await.unwrap();
}

/// The routes without a browser: the page's security headers, and what they refuse.
#[tokio::test]
async fn the_dashboard_routes_refuse_cross_site_changes_and_bad_filters() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let (store, _file) = support::sqlite_store().await;
    let runtime = Runtime::builder(store)
        .secret_keys(support::test_keys())
        .allow_missing_env()
        .build()
        .unwrap();
    runtime.migrate().await.unwrap();
    let app = buildamp::http::service::router(runtime.clone(), SessionCookie);
    let send = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, headers, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let signed_in = |method: &str, uri: &str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", "session=operator")
            .body(Body::empty())
            .unwrap()
    };
    // The page: only this origin's script, style and images.
    let (status, headers, body) = send(signed_in("GET", "/buildamp/dashboard")).await;
    assert_eq!(status, 200);
    assert!(body.contains("<script src=\"/buildamp/dashboard/app.js\""));
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    // Signed out, everything is refused; the script too.
    let (status, _, body) = send(
        Request::get("/buildamp/dashboard/app.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((status, body.contains("sign in first")), (401, true));
    // A change without the page's header (a form on another site) is refused before anything.
    let id = uuid::Uuid::now_v7();
    let (status, _, body) = send(signed_in(
        "POST",
        &format!("/buildamp/dashboard/executions/{id}/retry"),
    ))
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("X-BuildAmp-Dashboard"), "{body}");
    let mut retry = signed_in(
        "POST",
        &format!("/buildamp/dashboard/executions/{id}/retry"),
    );
    retry
        .headers_mut()
        .insert("x-buildamp-dashboard", "1".parse().unwrap());
    let (status, _, body) = send(retry).await;
    assert_eq!(status, 409, "{body}");
    // Bad filters name the field; an unknown chart is a 404.
    let (status, _, body) = send(signed_in("GET", "/buildamp/dashboard/data?endpoint=crm")).await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["path"],
        "endpoint"
    );
    let (status, _, body) = send(signed_in("GET", "/buildamp/dashboard/live?status=lost")).await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["path"],
        "status"
    );
    let (status, _, _) = send(signed_in("GET", "/buildamp/dashboard/chart/pie.svg")).await;
    assert_eq!(status, 404);
    let (status, headers, body) =
        send(signed_in("GET", "/buildamp/dashboard/chart/latency.svg")).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "image/svg+xml")
    );
    assert!(body.starts_with("<svg") && body.contains("Latency per minute"));
}
