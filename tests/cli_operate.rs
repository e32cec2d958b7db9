//! The operator's commands on a SQLite database: `replay` retries an endpoint's dead letters once
//! each, printing its progress and the finished job; `resend` queues one delivery again;
//! `status`, `deliveries list|show`, `dead-letters list|retry`, `prune` and `check-env` print for
//! people and, with `--json`, for scripts; each says what went wrong with an exit code a script
//! can rely on (1 failed, 2 usage, 3 a check found problems).

mod support;

use std::process::Command;

use buildamp::store::{EndpointRow, EndpointStore, ExecutionStore, NewRow};
use buildamp::{ExecutionId, Status};
use serde_json::json;

fn buildamp(db: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_buildamp"))
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

fn dead(endpoint: uuid::Uuid, n: u32) -> NewRow {
    NewRow {
        id: ExecutionId::new(),
        webhook_type: "lead.created",
        target_url: String::new(),
        payload: json!({"event_type": "lead.created", "event_id": format!("evt_{n}"), "data": {}, "metadata": {}}),
        headers: json!({}),
        branches: json!({}),
        status: Status::DeadLetter,
        error_message: Some("down".into()),
        max_attempts: 3,
        due_at: chrono::Utc::now(),
        correlation_id: None,
        application: String::new(),
        host: String::new(),
        idempotency_key: None,
        endpoint_id: Some(endpoint),
        event_id: Some(format!("evt_{n}")),
        ordering_key: None,
    }
}

#[tokio::test]
async fn replay_retries_an_endpoints_dead_letters_and_prints_the_job() {
    let (store, file) = support::sqlite_store().await;
    buildamp::Store::migrate(&store).await.unwrap();
    let db = format!("sqlite://{}", file.path.display());
    let (endpoint, other) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let mut rows: Vec<NewRow> = (0..3).map(|n| dead(endpoint, n)).collect();
    rows.push(dead(other, 9));
    let ids = store.insert(chrono::Utc::now(), rows).await.unwrap();

    let (code, out, err) = buildamp(
        &db,
        &["replay", "--endpoint", &endpoint.to_string(), "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let job: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            job["total"].as_u64(),
            job["replayed"].as_u64(),
            job["done"].as_bool()
        ),
        (Some(3), Some(3), Some(true)),
        "{job}"
    );
    assert!(
        err.contains("3 dead letters match") && err.contains("3/3 retried"),
        "{err}"
    );
    for id in &ids[..3] {
        assert_eq!(
            store.execution(id.id).await.unwrap().unwrap().status,
            Status::Pending
        );
    }
    assert_eq!(
        store.execution(ids[3].id).await.unwrap().unwrap().status,
        Status::DeadLetter
    );

    // Resuming a finished job changes nothing; an unknown one is an error, exit 1.
    let job_id = job["id"].as_str().unwrap();
    let (code, out, _) = buildamp(&db, &["replay", "--resume", job_id]);
    assert_eq!(code, 0);
    assert!(out.contains("retried 3 dead letters"), "{out}");
    let (code, _, err) = buildamp(
        &db,
        &["replay", "--resume", &uuid::Uuid::now_v7().to_string()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no replay has id"), "{err}");
    // Neither an endpoint nor a job: a usage error, exit 2.
    let (code, _, err) = buildamp(&db, &["replay"]);
    assert_eq!(code, 2);
    assert!(err.contains("--endpoint"), "{err}");
}

fn endpoint(status: &str, config: serde_json::Value) -> EndpointRow {
    let now = chrono::Utc::now();
    EndpointRow {
        id: uuid::Uuid::now_v7(),
        application: String::new(),
        url: "https://crm.example/hooks".into(),
        description: String::new(),
        status: status.into(),
        environment: "production".into(),
        config,
        secrets: "v1:k1:c2VhbGVk".into(),
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn resend_queues_a_delivery_again_once_and_says_why_it_cannot() {
    let (store, file) = support::sqlite_store().await;
    buildamp::Store::migrate(&store).await.unwrap();
    let db = format!("sqlite://{}", file.path.display());
    let enabled = endpoint("enabled", json!({"subscriptions": ["lead.*"]}));
    let disabled = endpoint(
        "disabled",
        json!({"subscriptions": ["lead.*"], "disabled_reason": "the endpoint answered 410 Gone"}),
    );
    store.insert_endpoint(&enabled).await.unwrap();
    store.insert_endpoint(&disabled).await.unwrap();
    let rows = vec![dead(enabled.id, 1), dead(disabled.id, 2)];
    let ids = store.insert(chrono::Utc::now(), rows).await.unwrap();
    let (one, other) = (ids[0].id.to_string(), ids[1].id.to_string());

    let (code, out, err) = buildamp(&db, &["resend", &one, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        json!({"result": "queued"})
    );
    let row = store.execution(ids[0].id).await.unwrap().unwrap();
    // A fresh budget on top of the attempts made (none: it was stored dead).
    assert_eq!(
        (row.status, row.attempts, row.max_attempts),
        (Status::Pending, 0, 3)
    );
    // Queued already, a disabled endpoint, an unknown id: exit 1, saying why.
    let (code, _, err) = buildamp(&db, &["resend", &one]);
    assert_eq!(code, 1);
    assert!(err.contains("is still pending"), "{err}");
    let (code, _, err) = buildamp(&db, &["resend", &other]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is disabled (the endpoint answered 410 Gone): enable it"),
        "{err}"
    );
    let (code, _, err) = buildamp(&db, &["resend", &uuid::Uuid::now_v7().to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains("no endpoint delivery has id"), "{err}");
}

/// A `#[target]` whose URL reads a variable nobody sets: `check-env` in this program finds it.
#[derive(serde::Serialize, serde::Deserialize, buildamp::BuildAmpWebhook)]
#[target(url = "https://hooks.example/{BUILDAMP_CLI_TEST_UNSET_TOKEN}")]
pub struct CliNeedsAVariable {
    /// Anything.
    pub n: u32,
}

fn lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn status_lists_and_retries_for_operators_with_codes_a_script_can_rely_on() {
    let (store, file) = support::sqlite_store().await;
    buildamp::Store::migrate(&store).await.unwrap();
    let db = format!("sqlite://{}", file.path.display());
    let endpoint = uuid::Uuid::now_v7();
    let mut rows: Vec<NewRow> = (0..2).map(|n| dead(endpoint, n)).collect();
    let mut pending = dead(uuid::Uuid::now_v7(), 7);
    pending.status = Status::Pending;
    pending.error_message = None;
    pending.payload = json!({"data": {"email": "ada@example.com"}});
    rows.push(pending);
    let ids = store.insert(chrono::Utc::now(), rows).await.unwrap();

    // Healthy: nothing open, no circuit; the queue as it is.
    let (code, out, err) = buildamp(&db, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["healthy"], true);
    assert_eq!(
        (
            status["queue"]["pending"].as_u64(),
            status["queue"]["dead_letter"].as_u64()
        ),
        (Some(1), Some(2)),
        "{status}"
    );
    let (code, out, _) = buildamp(&db, &["status"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("queue: 1 pending, 0 sending, 0 waiting for a retry, 2 dead letters"),
        "{out}"
    );

    // Lists, newest first, as JSON lines; the payload only as a masked preview.
    let (code, out, _) = buildamp(&db, &["deliveries", "list", "--json"]);
    assert_eq!(code, 0);
    let all = lines(&out);
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .any(|d| d["preview"] == r#"{"email":"a***@example.com"}"#),
        "{out}"
    );
    assert!(!out.contains("ada@example.com"));
    let (_, out, _) = buildamp(
        &db,
        &["deliveries", "list", "--status", "pending", "--json"],
    );
    assert_eq!(lines(&out).len(), 1);
    let (_, out, _) = buildamp(
        &db,
        &[
            "dead-letters",
            "list",
            "--endpoint",
            &endpoint.to_string(),
            "--json",
        ],
    );
    let dead_letters = lines(&out);
    assert_eq!(dead_letters.len(), 2);
    assert!(
        dead_letters
            .iter()
            .all(|d| d["status"] == "dead_letter" && d["error"] == "down")
    );
    let (code, _, err) = buildamp(&db, &["deliveries", "list", "--status", "lost"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = buildamp(
        &db,
        &["deliveries", "show", &ids[0].id.to_string(), "--json"],
    );
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            shown["status"].as_str(),
            shown["attempts_log"].as_array().map(Vec::len)
        ),
        (Some("dead_letter"), Some(0))
    );
    let (code, _, err) = buildamp(
        &db,
        &["deliveries", "show", &uuid::Uuid::now_v7().to_string()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no execution has id"), "{err}");

    // Retry by filter: a filter is required (exit 2); the endpoint's two go back to the queue.
    let (code, _, err) = buildamp(&db, &["dead-letters", "retry"]);
    assert_eq!(code, 2);
    assert!(err.contains("--endpoint") && err.contains("--all"), "{err}");
    let (code, out, err) = buildamp(
        &db,
        &[
            "dead-letters",
            "retry",
            "--endpoint",
            &endpoint.to_string(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let job: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (job["total"].as_u64(), job["replayed"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(err.contains("2/2 retried"), "{err}");
    for id in &ids[..2] {
        assert_eq!(
            store.execution(id.id).await.unwrap().unwrap().status,
            Status::Pending
        );
    }

    // An open alert makes the status exit 3, naming it.
    let alert = buildamp::store::AlertRow {
        id: uuid::Uuid::now_v7(),
        key: "backlog/queue".into(),
        rule: "backlog".into(),
        subject: "queue".into(),
        summary: "The queue is behind".into(),
        detail: json!({}),
        fired_at: chrono::Utc::now(),
        resolved_at: None,
    };
    assert!(
        buildamp::store::AlertStore::fire_alert(&store, &alert, vec![])
            .await
            .unwrap()
    );
    let (code, out, err) = buildamp(&db, &["status"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("alert: backlog since") && out.contains("The queue is behind"),
        "{out}"
    );
    assert!(err.contains("not healthy: 1 alerts open"), "{err}");

    // Prune: what the retention period has passed (nothing yet), as JSON.
    let (code, out, _) = buildamp(&db, &["prune", "--json"]);
    assert_eq!(code, 0);
    let pruned: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pruned["executions"], 0);
}

#[tokio::test]
async fn check_env_names_every_problem_and_exits_3() {
    let (_, file) = support::sqlite_store().await;
    let db = format!("sqlite://{}", file.path.display());
    let output = Command::new(env!("CARGO_BIN_EXE_buildamp"))
        .env("DATABASE_URL", &db)
        .env("BUILDAMP_ALLOW_NETWORKS", "not-a-network")
        .env("BUILDAMP_CONCURRENCY", "many")
        .args(["check-env", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("BUILDAMP_ALLOW_NETWORKS") && problems.contains("BUILDAMP_CONCURRENCY"),
        "{problems}"
    );
    let (code, out, err) = buildamp(&db, &["check-env"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok: DATABASE_URL: SQLite"), "{out}");
    // In an app's own binary (here: this test program), its webhooks' variables are checked.
    assert_eq!(
        buildamp::cli::run(["buildamp", "check-env"]).await,
        std::process::ExitCode::from(3)
    );
}
