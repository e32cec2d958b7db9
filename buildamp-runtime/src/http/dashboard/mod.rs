//! The operator's dashboard: one page the service router serves at `/buildamp/dashboard`, behind
//! the app's authorizer ([`Scope::Admin`] on every request, the page and its script included),
//! with nothing from elsewhere: its script and style are served beside it and a
//! `Content-Security-Policy` allows nothing else.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /buildamp/dashboard` | the page |
//! | `GET /buildamp/dashboard/data?endpoint=&type=&status=` | the last hour's figures, every destination's health, the open and recent alerts, the dead letters that match (newest 50) and the names to filter by |
//! | `GET /buildamp/dashboard/live?endpoint=&type=&status=` | server-sent events: `delivery`, each execution that matches when it appears or changes (the newest 50, checked every second) |
//! | `GET /buildamp/dashboard/chart/{rate,latency,failures}?endpoint=&type=` | an SVG chart of the last hour, per minute |
//! | `POST /buildamp/dashboard/executions/{id}/retry` | `202` a dead letter (of a `#[target]` or an endpoint) queued again; `409` when it is not one |
//! | `POST /buildamp/dashboard/endpoints/{id}/replay` | `202` a replay job over every dead letter of the endpoint |
//!
//! The two `POST`s also need the header `X-BuildAmp-Dashboard: 1`, which the page sends and a
//! form or page on another site cannot (so an authorizer that reads a session cookie is safe).

mod chart;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::ApiError;
use super::service::{Scope, Service, ServiceAuthorizer, allow};
use crate::queue::{ExecutionId, Status};
use crate::store::{Execution, ExecutionFilter, Store};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

/// What the page may load: itself, its script, its style, its charts; nothing from elsewhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                      connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The header the page sends with every change it asks for.
pub const CHANGE_HEADER: &str = "x-buildamp-dashboard";

/// How many live streams may be open at once, over every caller.
const MAX_STREAMS: usize = 32;

type Shared<S, A> = State<Arc<Service<S, A>>>;

/// The dashboard's routes, merged into the service router.
pub(super) fn routes<S: Store, A: ServiceAuthorizer>() -> Router<Arc<Service<S, A>>> {
    Router::new()
        .route(
            "/buildamp/dashboard",
            get(|State(s): Shared<S, A>, headers: HeaderMap| {
                file(s, headers, "text/html; charset=utf-8", PAGE)
            }),
        )
        .route(
            "/buildamp/dashboard/app.js",
            get(|State(s): Shared<S, A>, headers: HeaderMap| {
                file(s, headers, "text/javascript; charset=utf-8", SCRIPT)
            }),
        )
        .route(
            "/buildamp/dashboard/app.css",
            get(|State(s): Shared<S, A>, headers: HeaderMap| {
                file(s, headers, "text/css; charset=utf-8", STYLE)
            }),
        )
        .route("/buildamp/dashboard/data", get(data::<S, A>))
        .route("/buildamp/dashboard/live", get(live::<S, A>))
        .route("/buildamp/dashboard/chart/{metric}", get(chart::<S, A>))
        .route(
            "/buildamp/dashboard/executions/{id}/retry",
            post(retry::<S, A>),
        )
        .route(
            "/buildamp/dashboard/endpoints/{id}/replay",
            post(replay::<S, A>),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Serves one of the page's files, to admins only.
async fn file<S: Store, A: ServiceAuthorizer>(
    s: Arc<Service<S, A>>,
    headers: HeaderMap,
    content_type: &'static str,
    body: &'static str,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    Ok(asset(content_type, body))
}

/// The filters every view takes: `endpoint` (an id), `type` (a webhook or event type), `status`.
#[derive(Debug, Default, Deserialize)]
struct FilterQuery {
    endpoint: Option<String>,
    #[serde(rename = "type")]
    webhook_type: Option<String>,
    status: Option<String>,
}

/// The filters, read.
#[derive(Clone, Debug, Default)]
struct Filters {
    endpoint: Option<Uuid>,
    webhook_type: Option<String>,
    status: Option<Status>,
}

impl FilterQuery {
    fn read(self) -> Result<Filters, ApiError> {
        let blank = |v: Option<String>| v.filter(|v| !v.is_empty());
        let endpoint = blank(self.endpoint)
            .map(|e| Uuid::parse_str(&e))
            .transpose()
            .map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "`endpoint` must be an endpoint id")
                    .at("endpoint")
            })?;
        let status = blank(self.status)
            .map(|st| st.parse::<Status>())
            .transpose()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()).at("status"))?;
        Ok(Filters {
            endpoint,
            webhook_type: blank(self.webhook_type),
            status,
        })
    }
}

impl Filters {
    fn executions(&self, status: Option<Status>, limit: usize) -> ExecutionFilter {
        ExecutionFilter {
            webhook_type: self.webhook_type.clone(),
            status: status.or(self.status),
            endpoint_id: self.endpoint,
            limit,
            ..ExecutionFilter::default()
        }
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An execution as operators see it (the dashboard, `buildamp deliveries`): where it stands,
/// and its payload (an event's data, for an endpoint's delivery) only as a masked preview
/// ([`crate::telemetry::preview`], 200 characters).
pub fn operator_view(e: &Execution) -> Value {
    let shown = match e.endpoint_id {
        Some(_) => e.payload.get("data").unwrap_or(&e.payload),
        None => &e.payload,
    };
    json!({
        "id": e.id.to_string(),
        "webhook": e.webhook_type,
        "endpoint_id": e.endpoint_id,
        "event_id": e.event_id,
        "status": e.status.as_str(),
        "attempts": e.attempts,
        "max_attempts": e.max_attempts,
        "response_status": e.response_status,
        "error": e.error_message,
        "correlation_id": e.correlation_id,
        "created_at": stamp(e.created_at),
        "updated_at": stamp(e.updated_at),
        "next_retry_at": stamp(e.next_retry_at),
        "sent_at": e.sent_at.map(stamp),
        "preview": crate::telemetry::preview(shown, 200),
    })
}

async fn data<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Query(q): Query<FilterQuery>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let filters = q.read()?;
    let runtime = &s.runtime;
    let now = runtime.now();
    let since = now - chrono::Duration::hours(1);
    let analytics = runtime.analytics();
    let overview = analytics
        .overview(since, now + chrono::Duration::minutes(1))
        .await?;
    let destinations = analytics.health().await?;
    let alerts = runtime.alerts();
    let dead = runtime
        .store()
        .executions(&filters.executions(Some(Status::DeadLetter), 50))
        .await?;
    let mut types: Vec<&str> = crate::registry::webhooks()
        .iter()
        .map(|w| w.name())
        .chain(
            crate::service::event::event_types()
                .iter()
                .map(|e| e.name()),
        )
        .collect();
    types.sort_unstable();
    types.dedup();
    Ok(axum::Json(json!({
        "now": stamp(now),
        "overview": overview,
        "destinations": destinations,
        "alerts": { "open": alerts.open().await?, "recent": alerts.recent(10).await? },
        "dead_letters": dead.iter().map(operator_view).collect::<Vec<_>>(),
        "types": types,
    }))
    .into_response())
}

fn streams() -> &'static Arc<Semaphore> {
    static STREAMS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    STREAMS.get_or_init(|| Arc::new(Semaphore::new(MAX_STREAMS)))
}

/// What a live stream last sent of each execution it shows.
type Sent = HashMap<ExecutionId, (Status, i32, DateTime<Utc>)>;

async fn live<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Query(q): Query<FilterQuery>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let filter = q.read()?.executions(None, 50);
    let slot = streams().clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_STREAMS} dashboards are following deliveries already: close one"),
        )
    })?;
    let runtime = s.runtime.clone();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let stream = futures_util::stream::unfold(
        (ticks, Sent::new(), Vec::<Event>::new(), slot),
        move |(mut ticks, mut sent, mut queue, slot)| {
            let (runtime, filter) = (runtime.clone(), filter.clone());
            async move {
                while queue.is_empty() {
                    ticks.tick().await;
                    let Ok(found) = runtime.store().executions(&filter).await else {
                        continue; // the store is down for a moment: try again next tick
                    };
                    let mut changed: Vec<&Execution> = found
                        .iter()
                        .filter(|e| sent.get(&e.id) != Some(&(e.status, e.attempts, e.updated_at)))
                        .collect();
                    changed.sort_by_key(|e| (e.updated_at, e.created_at));
                    // Oldest first, so the page ends with the newest on top.
                    queue = changed
                        .iter()
                        .rev()
                        .map(|e| {
                            Event::default()
                                .event("delivery")
                                .json_data(operator_view(e))
                                .unwrap_or_else(|_| Event::default().event("delivery"))
                        })
                        .collect();
                    sent = found
                        .iter()
                        .map(|e| (e.id, (e.status, e.attempts, e.updated_at)))
                        .collect();
                }
                let event = queue.pop()?;
                Some((Ok::<_, Infallible>(event), (ticks, sent, queue, slot)))
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn chart<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(metric): Path<String>,
    Query(q): Query<FilterQuery>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let metric = metric.strip_suffix(".svg").unwrap_or(&metric);
    let metric = chart::Metric::parse(metric).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no chart `{metric}`: rate, latency or failures"),
        )
    })?;
    let filters = q.read()?;
    let now = s.runtime.now();
    let svg = chart::render(
        s.runtime.store(),
        metric,
        filters.endpoint,
        filters.webhook_type.as_deref(),
        now,
    )
    .await?;
    let mut response = svg.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    Ok(response)
}

/// `403` unless the request carries the page's header.
fn from_the_page(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.get(CHANGE_HEADER).is_some_and(|v| v == "1") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "send `X-BuildAmp-Dashboard: 1` with the dashboard's changes",
        ))
    }
}

async fn retry<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    from_the_page(&headers)?;
    let id = Uuid::parse_str(&id)
        .map(ExecutionId)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no execution has this id").at("id"))?;
    super::service::retry_dead_letter(&s.runtime, id).await
}

async fn replay<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    from_the_page(&headers)?;
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no endpoint has this id").at("id"))?;
    s.runtime
        .endpoints()
        .get(crate::service::endpoint::EndpointId(id))
        .await?;
    let job = s
        .runtime
        .replayer()
        .create(crate::store::DeadLetterFilter::all().endpoint(id))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response())
}
