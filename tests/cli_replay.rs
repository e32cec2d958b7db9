//! `buildamp replay` and `buildamp resend` on a SQLite database: the job retries an endpoint's
//! dead letters once each, prints its progress and the finished job; a resend queues one delivery
//! again; both say what went wrong with a code a script can rely on.

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
