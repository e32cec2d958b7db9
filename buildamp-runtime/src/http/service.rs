//! The webhooks service over HTTP: the event catalog, publishing, and the management of
//! customers' endpoints and their deliveries. An axum router the app mounts.
//!
//! | route | scope | answers |
//! | --- | --- | --- |
//! | `GET /buildamp/event-types` | [`Scope::Catalog`] | every registered event type: name, version, description |
//! | `POST /buildamp/events` | [`Scope::Publish`] | `202 {event_id, deliveries}`; `200` with `duplicate: true` for a repeated id or `Idempotency-Key`; `422` naming the field (`data.lead.score`) |
//! | `POST /buildamp/endpoints` | [`Scope::Admin`] | `201` the endpoint and its `secret` (the only time it is shown unasked) |
//! | `GET /buildamp/endpoints?application=&after=&limit=` | admin | endpoints by id |
//! | `GET`, `PATCH`, `DELETE /buildamp/endpoints/{id}` | admin | the endpoint; `PATCH` takes any fields of the create body |
//! | `POST /buildamp/endpoints/{id}/status` `{"status": "paused"}` | admin | the endpoint |
//! | `POST /buildamp/endpoints/{id}/test` | admin | what the endpoint answered a signed `buildamp.test` event (a 2xx re-enables an endpoint BuildAmp disabled) |
//! | `GET /buildamp/endpoints/{id}/health` | admin | its circuit (state, failures, since, until), why it was disabled, recent changes |
//! | `POST /buildamp/endpoints/{id}/replay` `{"since", "until", "event_type", "event_id", "error_contains"}` | admin | `202` a replay job retrying every dead letter of the endpoint that matches, run by the runtime's replayer |
//! | `GET /buildamp/replays/{id}` | admin | the job: `total`, `replayed`, `done` |
//! | `POST /buildamp/endpoints/{id}/secret/rotate` `{"grace": "24h"}` | admin | the new secret; the old one signs too until the grace ends |
//! | `GET /buildamp/endpoints/{id}/secret` | admin | the active secrets (a logged reveal) |
//! | `GET /buildamp/deliveries?endpoint=&event_type=&status=&since=&until=&limit=` | admin | deliveries, newest first |
//! | `GET /buildamp/deliveries/{id}` | admin | a delivery with every attempt |
//! | `POST /buildamp/deliveries/{id}/retry` | admin | `202`, or `409` unless it is a dead letter |
//! | `POST /buildamp/deliveries/{id}/resend` | admin | `202 {"result": "queued"}`: a delivered (or dead-lettered) delivery goes again, the same event id; `409` while it is still queued or its endpoint is disabled |
//! | `GET /buildamp/analytics?since=&until=` | admin | attempts, deliveries, success, failure and retry rates, mean and p50/p95/p99 latency in the window (default the last hour), in total, `by_webhook` and `by_endpoint` |
//! | `GET /buildamp/analytics/trend?since=&until=&granularity=minute\|hour\|day` | admin | the same figures per period |
//! | `GET /buildamp/analytics/health` | admin | `destinations`: every endpoint (but transactions') and every `#[target]` host, with its `circuit`, `consecutive_failures`, `last_success`, status and webhooks |
//! | `GET /buildamp/alerts?limit=` | admin | `open` incidents and the `recent` ones (default 50), each with its `rule`, `subject`, `summary`, `detail`, `fired_at`, `resolved_at` |
//! | `POST /buildamp/transactions` `{"callback_url", "callback_events", "message_count", "metadata", ...}` | publish | `201` the transaction (ACCEPT) and its callbacks' `secret`; `422` naming the field (`callback_url`); `424` when the test ping failed |
//! | `GET /buildamp/transactions/{id}` | publish | its status, counts, timings and (once completed) summary |
//! | `POST /buildamp/transactions/{id}/processing` `{"processed_count", "message_count"}` | publish | the transaction, after a PROCESSING callback |
//! | `POST /buildamp/transactions/{id}/scheduled` `{"message_count"}` | publish | the transaction, after a SCHEDULED callback |
//!
//! The same router serves the operator's dashboard at `/buildamp/dashboard` ([`super::dashboard`]).
//!
//! Every request passes [`ServiceAuthorizer::authenticate`] first (`401`), then
//! [`ServiceAuthorizer::authorize`] for the route's scope (`403`); only then is the body or an id
//! looked at. Bad input is a `4xx` naming the field (`{"error": ..., "path": "retry.max_attempts"}`).
//! Secrets appear only in the create, rotate and reveal answers, never in a log line.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiError;
use super::api::{Caller, ExecutionView, Refused};
use crate::analytics::Granularity;
use crate::endpoints::{DEFAULT_ROTATION_GRACE, Resend};
use crate::payload::decode;
use crate::queue::{ExecutionId, Status};
use crate::runtime::Runtime;
use crate::service::endpoint::{Dur, EndpointId, EndpointSpec, EndpointStatus};
use crate::service::event::{EventId, event_types, find_event_type};
use crate::service::publish::{EventToPublish, Publish, PublishOptions};
use crate::service::state::ServiceError;
use crate::store::{ExecutionFilter, Store};
use crate::transactions::{TransactionError, TransactionId, TransactionSpec};

/// What a route lets a caller do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Read the event catalog.
    Catalog,
    /// Publish events; open, report on and read transactions.
    Publish,
    /// Manage endpoints, their secrets and their deliveries.
    Admin,
}

/// Decides who may use the service's routes. The app must supply one: there is no default.
pub trait ServiceAuthorizer: Send + Sync + 'static {
    /// Who is this? Asked first on every route; a refusal answers `401`.
    fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> impl Future<Output = Result<Caller, Refused>> + Send;

    /// May `caller` use a route of `scope`? A refusal answers `403`.
    fn authorize(
        &self,
        caller: &Caller,
        scope: Scope,
    ) -> impl Future<Output = Result<(), Refused>> + Send;
}

/// The service's limits.
#[derive(Clone, Copy, Debug)]
pub struct ServiceConfig {
    /// The largest body accepted (default 256 KiB).
    pub body_limit: usize,
    /// How long a request may take (default 150 s: an endpoint test waits for the endpoint,
    /// whose timeout is at most 120 s).
    pub request_timeout: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            body_limit: 256 * 1024,
            request_timeout: Duration::from_secs(150),
        }
    }
}

pub(super) struct Service<S: Store, A> {
    pub(super) runtime: Runtime<S>,
    authorizer: A,
    config: ServiceConfig,
}

type Shared<S, A> = State<Arc<Service<S, A>>>;

/// The service's routes over `runtime`, every request passing `authorizer`.
pub fn router<S: Store, A: ServiceAuthorizer>(runtime: Runtime<S>, authorizer: A) -> Router {
    router_with(runtime, authorizer, ServiceConfig::default())
}

/// [`router`] with explicit limits.
pub fn router_with<S: Store, A: ServiceAuthorizer>(
    runtime: Runtime<S>,
    authorizer: A,
    config: ServiceConfig,
) -> Router {
    let service = Arc::new(Service {
        runtime,
        authorizer,
        config,
    });
    let routes = Router::new()
        .route("/buildamp/event-types", get(catalog::<S, A>))
        .route("/buildamp/events", post(publish::<S, A>))
        .route(
            "/buildamp/endpoints",
            post(create::<S, A>).get(list::<S, A>),
        )
        .route(
            "/buildamp/endpoints/{id}",
            get(one::<S, A>)
                .patch(update::<S, A>)
                .delete(delete::<S, A>),
        )
        .route("/buildamp/endpoints/{id}/status", post(status::<S, A>))
        .route("/buildamp/endpoints/{id}/test", post(test::<S, A>))
        .route("/buildamp/endpoints/{id}/health", get(health::<S, A>))
        .route("/buildamp/endpoints/{id}/replay", post(replay::<S, A>))
        .route("/buildamp/replays/{id}", get(replay_job::<S, A>))
        .route("/buildamp/endpoints/{id}/secret", get(reveal::<S, A>))
        .route(
            "/buildamp/endpoints/{id}/secret/rotate",
            post(rotate::<S, A>),
        )
        .route("/buildamp/deliveries", get(deliveries::<S, A>))
        .route("/buildamp/deliveries/{id}", get(delivery::<S, A>))
        .route("/buildamp/deliveries/{id}/retry", post(retry::<S, A>))
        .route("/buildamp/deliveries/{id}/resend", post(resend::<S, A>))
        .route("/buildamp/analytics", get(analytics::<S, A>))
        .route("/buildamp/analytics/trend", get(trend::<S, A>))
        .route("/buildamp/analytics/health", get(destinations::<S, A>))
        .route("/buildamp/alerts", get(alerts::<S, A>))
        .route("/buildamp/transactions", post(open::<S, A>))
        .route("/buildamp/transactions/{id}", get(transaction::<S, A>))
        .route(
            "/buildamp/transactions/{id}/processing",
            post(processing::<S, A>),
        )
        .route(
            "/buildamp/transactions/{id}/scheduled",
            post(scheduled::<S, A>),
        )
        .merge(super::dashboard::routes::<S, A>())
        .layer(DefaultBodyLimit::max(config.body_limit))
        .with_state(service);
    super::request_timeout(routes, config.request_timeout)
}

/// `401`, then `403`: the first thing every route does.
pub(super) async fn allow<S: Store, A: ServiceAuthorizer>(
    service: &Service<S, A>,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<(), ApiError> {
    let caller = service
        .authorizer
        .authenticate(headers)
        .await
        .map_err(|Refused(reason)| ApiError::new(StatusCode::UNAUTHORIZED, reason))?;
    service
        .authorizer
        .authorize(&caller, scope)
        .await
        .map_err(|Refused(reason)| ApiError::new(StatusCode::FORBIDDEN, reason))
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(invalid) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, invalid.message).at(invalid.path)
            }
            ServiceError::NotFound(id) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("no endpoint has id {id}"))
            }
            ServiceError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            ServiceError::Secrets(crate::service::secrets::SecretError::MissingKey) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
            }
            other => ApiError::internal(&other),
        }
    }
}

/// A JSON body decoded as serde does: `415` unless JSON, `422` naming the field.
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
    prefix: &str,
) -> Result<T, ApiError> {
    let body = super::body(body, limit)?;
    if !super::has_media_type(headers, "application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as `Content-Type: application/json`",
        ));
    }
    decode(&body).map_err(|e| {
        let path = match (prefix.is_empty(), e.path.is_empty()) {
            (true, _) => e.path,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{}", e.path),
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.message).at(path)
    })
}

fn endpoint_id(text: &str) -> Result<EndpointId, ApiError> {
    Uuid::parse_str(text).map(EndpointId).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no endpoint has id `{text}`"),
        )
    })
}

async fn catalog<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Catalog).await?;
    let types: Vec<Value> = event_types()
        .iter()
        .map(|e| json!({"name": e.name(), "version": e.version(), "description": e.description()}))
        .collect();
    Ok(axum::Json(json!({ "event_types": types })).into_response())
}

/// `POST /buildamp/events`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    event_type: String,
    data: Box<serde_json::value::RawValue>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    application: Option<String>,
    #[serde(default)]
    metadata: serde_json::Map<String, Value>,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ordering_key: Option<String>,
}

async fn publish<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Publish).await?;
    let body: PublishBody = json_body(&headers, body, s.config.body_limit, "")?;
    let Some(registration) = find_event_type(&body.event_type) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "no event type is named `{}`: `GET /buildamp/event-types` lists them",
                body.event_type
            ),
        )
        .at("event_type"));
    };
    let data = registration
        .normalize(body.data.get().as_bytes())
        .map_err(|e| {
            let path = if e.path.is_empty() {
                "data".to_owned()
            } else {
                format!("data.{}", e.path)
            };
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.message).at(path)
        })?;
    if let Some(id) = &body.id
        && (id.is_empty() || id.len() > 255)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "an event id is 1 to 255 characters",
        )
        .at("id"));
    }
    if let Some(key) = &body.ordering_key
        && (key.is_empty() || key.len() > 255)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "an ordering key is 1 to 255 characters",
        )
        .at("ordering_key"));
    }
    let key = match headers.get("idempotency-key") {
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 255 => Some(k.to_owned()),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "`Idempotency-Key` must be 1 to 255 characters of text",
                ));
            }
        },
        None => None,
    };
    let event = EventToPublish {
        event_type: registration.name(),
        version: registration.version(),
        data,
        options: PublishOptions {
            id: body.id.map(EventId),
            application: body.application,
            idempotency_key: key,
            metadata: body.metadata,
            occurred_at: body.occurred_at,
            ordering_key: body.ordering_key,
        },
    };
    let published = (&s.runtime)
        .publish_event(event)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let status = if published.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        axum::Json(json!({
            "event_id": published.event_id,
            "deliveries": published.deliveries,
            "duplicate": published.duplicate,
        })),
    )
        .into_response())
}

async fn create<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let spec: EndpointSpec = json_body(&headers, body, s.config.body_limit, "")?;
    let created = s.runtime.endpoints().create(spec).await?;
    let mut view = created.endpoint.view(Utc::now());
    view["secret"] = created.secret.expose().into();
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    application: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

async fn list<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let after = q
        .after
        .map(|a| Uuid::parse_str(&a).map(EndpointId))
        .transpose()
        .map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "`after` must be an endpoint id").at("after")
        })?;
    let endpoints = s
        .runtime
        .endpoints()
        .list(q.application.as_deref(), after, q.limit.unwrap_or(100))
        .await?;
    let now = Utc::now();
    let views: Vec<Value> = endpoints.iter().map(|e| e.view(now)).collect();
    Ok(axum::Json(json!({ "endpoints": views })).into_response())
}

async fn one<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let endpoint = s.runtime.endpoints().get(endpoint_id(&id)?).await?;
    Ok(axum::Json(endpoint.view(Utc::now())).into_response())
}

async fn update<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let id = endpoint_id(&id)?;
    let spec: EndpointSpec = json_body(&headers, body, s.config.body_limit, "")?;
    let endpoint = s.runtime.endpoints().update(id, spec).await?;
    Ok(axum::Json(endpoint.view(Utc::now())).into_response())
}

async fn delete<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    s.runtime.endpoints().delete(endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: EndpointStatus,
}

async fn status<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let id = endpoint_id(&id)?;
    let body: StatusBody = json_body(&headers, body, s.config.body_limit, "")?;
    let endpoint = s.runtime.endpoints().set_status(id, body.status).await?;
    Ok(axum::Json(endpoint.view(Utc::now())).into_response())
}

async fn test<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let sent = s.runtime.endpoints().test(endpoint_id(&id)?).await?;
    Ok(axum::Json(sent).into_response())
}

async fn health<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let health = s.runtime.endpoints().health(endpoint_id(&id)?).await?;
    Ok(axum::Json(health).into_response())
}

/// What a replay covers, besides the endpoint: every field optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    event_type: Option<String>,
    event_id: Option<String>,
    error_contains: Option<String>,
}

async fn replay<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let id = endpoint_id(&id)?;
    let body: ReplayBody = json_body(&headers, body, s.config.body_limit, "")?;
    if let (Some(since), Some(until)) = (body.since, body.until)
        && since >= until
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`until` must be after `since`",
        )
        .at("until"));
    }
    s.runtime.endpoints().get(id).await?; // 404 for an unknown endpoint
    let filter = crate::store::DeadLetterFilter {
        webhook_type: body.event_type,
        created_after: body.since,
        created_before: body.until,
        error_contains: body.error_contains,
        event_id: body.event_id,
        ..crate::store::DeadLetterFilter::all()
    }
    .endpoint(id.0);
    let job = s
        .runtime
        .replayer()
        .create(filter)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)).into_response())
}

async fn replay_job<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("no replay has id `{id}`"));
    let job_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let job = s
        .runtime
        .store()
        .replay(job_id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(not_found)?;
    Ok(axum::Json(job).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    grace: Option<Dur>,
}

async fn rotate<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let id = endpoint_id(&id)?;
    let empty = matches!(&body, Ok(b) if b.is_empty());
    let body: RotateBody = if empty {
        RotateBody::default()
    } else {
        json_body(&headers, body, s.config.body_limit, "")?
    };
    let grace = body.grace.map_or(DEFAULT_ROTATION_GRACE, |g| g.0);
    if grace > Duration::from_secs(30 * 86_400) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "at most 30 days").at("grace"));
    }
    let secret = s.runtime.endpoints().rotate_secret(id, grace).await?;
    let until = Utc::now() + chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    Ok(
        axum::Json(json!({ "secret": secret.expose(), "previous_expires_at": until }))
            .into_response(),
    )
}

async fn reveal<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let secrets = s
        .runtime
        .endpoints()
        .reveal_secrets(endpoint_id(&id)?)
        .await?;
    let shown: Vec<Value> = secrets
        .iter()
        .map(|k| json!({"secret": k.secret.expose(), "created_at": k.created_at, "expires_at": k.expires_at}))
        .collect();
    Ok(axum::Json(json!({ "secrets": shown })).into_response())
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    endpoint: Option<String>,
    event_type: Option<String>,
    status: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<usize>,
}

async fn deliveries<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let Query(q) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let endpoint = q
        .endpoint
        .map(|e| Uuid::parse_str(&e))
        .transpose()
        .map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "`endpoint` must be an endpoint id")
                .at("endpoint")
        })?;
    let status = q
        .status
        .map(|st| st.parse::<Status>())
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()).at("status"))?;
    let filter = ExecutionFilter {
        webhook_type: q.event_type,
        status,
        endpoint_id: endpoint,
        created_after: q.since,
        created_before: q.until,
        limit: q.limit.unwrap_or(50).clamp(1, 500),
        // Only the service's deliveries: `#[target]` executions are the Elm API's.
        endpoint_deliveries: true,
        ..ExecutionFilter::default()
    };
    let found = s.runtime.store().executions(&filter).await?;
    let views: Vec<Value> = found.iter().map(delivery_view).collect();
    Ok(axum::Json(json!({ "deliveries": views })).into_response())
}

fn delivery_view(e: &crate::store::Execution) -> Value {
    let mut view = serde_json::to_value(ExecutionView::from(e)).expect("a view serializes");
    view["endpoint_id"] = json!(e.endpoint_id);
    view["event_id"] = json!(e.event_id);
    view["error"] = json!(e.error_message);
    view
}

/// The delivery (an execution to a customer's endpoint) named `text`, or `404`: the service's
/// routes never show a `#[target]` execution.
async fn service_delivery<S: Store, A>(
    s: &Service<S, A>,
    text: &str,
) -> Result<(ExecutionId, crate::store::Execution), ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no delivery has id `{text}`"),
        )
    };
    let id = Uuid::parse_str(text)
        .map(ExecutionId)
        .map_err(|_| missing())?;
    let execution = s.runtime.execution(id).await?;
    let execution = execution
        .filter(|e| e.endpoint_id.is_some())
        .ok_or_else(missing)?;
    Ok((id, execution))
}

async fn delivery<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let (id, execution) = service_delivery(&s, &id).await?;
    let attempts = s.runtime.attempts(id).await?;
    let mut view = delivery_view(&execution);
    view["attempt_log"] = serde_json::to_value(attempts).expect("attempts serialize");
    Ok(axum::Json(view).into_response())
}

async fn retry<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let (id, _) = service_delivery(&s, &id).await?;
    retry_dead_letter(&s.runtime, id).await
}

/// Queues dead letter `id` again: `202`, or `409` when it is not one (the dashboard's retry too).
pub(super) async fn retry_dead_letter<S: Store>(
    runtime: &Runtime<S>,
    id: ExecutionId,
) -> Result<Response, ApiError> {
    if !runtime.retry_dead_letter(id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "only a dead letter can be retried; this one is not (any more)",
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "retried": id.to_string() })),
    )
        .into_response())
}

async fn resend<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let (id, _) = service_delivery(&s, &id).await?;
    let resend = s.runtime.endpoints().resend(id).await?;
    let status = match &resend {
        Resend::Queued => StatusCode::ACCEPTED,
        Resend::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    let message = match &resend {
        Resend::Queued => return Ok((status, axum::Json(resend)).into_response()),
        Resend::Unsettled { status } => {
            format!("this delivery is still {status}: it will be sent without a resend")
        }
        Resend::EndpointDisabled { reason } => format!(
            "the endpoint is disabled{}: enable it, then resend",
            reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        _ => format!("no delivery has id `{id}`"),
    };
    Err(ApiError::new(status, message))
}

impl From<TransactionError> for ApiError {
    fn from(error: TransactionError) -> Self {
        match error {
            TransactionError::Callback(e) => e.into(),
            TransactionError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, error.to_string())
            }
            TransactionError::TestFailed { .. } => {
                ApiError::new(StatusCode::FAILED_DEPENDENCY, error.to_string()).at("callback_url")
            }
            TransactionError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            other => ApiError::internal(&other),
        }
    }
}

fn transaction_id(text: &str) -> Result<TransactionId, ApiError> {
    Uuid::parse_str(text).map(TransactionId).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no transaction has id `{text}`"),
        )
    })
}

async fn open<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Publish).await?;
    let spec: TransactionSpec = json_body(&headers, body, s.config.body_limit, "")?;
    let opened = s.runtime.transactions().open(spec).await?;
    let mut view = serde_json::to_value(&opened.transaction).map_err(|e| ApiError::internal(&e))?;
    view["secret"] = opened.secret.expose().into();
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

async fn transaction<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Publish).await?;
    let view = s.runtime.transactions().get(transaction_id(&id)?).await?;
    Ok(axum::Json(view).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Progress {
    processed_count: u64,
    #[serde(default)]
    message_count: Option<u64>,
}

async fn processing<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Publish).await?;
    let id = transaction_id(&id)?;
    let p: Progress = json_body(&headers, body, s.config.body_limit, "")?;
    let view = s
        .runtime
        .transactions()
        .processing(id, p.processed_count, p.message_count)
        .await?;
    Ok(axum::Json(view).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scheduled {
    #[serde(default)]
    message_count: Option<u64>,
}

async fn scheduled<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Publish).await?;
    let id = transaction_id(&id)?;
    let p: Scheduled = json_body(&headers, body, s.config.body_limit, "")?;
    let view = s
        .runtime
        .transactions()
        .scheduled(id, p.message_count)
        .await?;
    Ok(axum::Json(view).into_response())
}

#[derive(Deserialize)]
struct WindowQuery {
    since: Option<String>,
    until: Option<String>,
    granularity: Option<String>,
}

impl WindowQuery {
    /// The window asked for: RFC 3339 times, by default the last hour; at most 400 days.
    fn window(&self, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let time = |field: &str,
                    text: &Option<String>|
         -> Result<Option<DateTime<Utc>>, ApiError> {
            text.as_deref()
                .map(|t| {
                    DateTime::parse_from_rfc3339(t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| {
                            ApiError::new(
                                StatusCode::BAD_REQUEST,
                                format!("not an RFC 3339 time ({e}), like 2026-12-01T00:00:00Z"),
                            )
                            .at(field)
                        })
                })
                .transpose()
        };
        let until = time("until", &self.until)?.unwrap_or(now);
        let since = time("since", &self.since)?.unwrap_or(until - chrono::Duration::hours(1));
        if since >= until || until - since > chrono::Duration::days(400) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "`since` must be before `until`, at most 400 days apart",
            )
            .at("since"));
        }
        Ok((since, until))
    }
}

async fn analytics<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Query(q): Query<WindowQuery>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let (since, until) = q.window(Utc::now())?;
    let overview = s.runtime.analytics().overview(since, until).await?;
    Ok(axum::Json(overview).into_response())
}

async fn trend<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    Query(q): Query<WindowQuery>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let (since, until) = q.window(Utc::now())?;
    let granularity = match q.granularity.as_deref().unwrap_or("minute") {
        "minute" => Granularity::Minute,
        "hour" => Granularity::Hour,
        "day" => Granularity::Day,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("granularity `{other}`: use minute, hour or day"),
            )
            .at("granularity"));
        }
    };
    let points = s
        .runtime
        .analytics()
        .trend(since, until, granularity)
        .await?;
    Ok(axum::Json(json!({ "granularity": granularity, "points": points })).into_response())
}

#[derive(Deserialize)]
struct AlertsQuery {
    limit: Option<usize>,
}

async fn alerts<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
    query: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let Query(q) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()).at("limit"))?;
    let alerts = s.runtime.alerts();
    let open = alerts.open().await?;
    let recent = alerts.recent(q.limit.unwrap_or(50).clamp(1, 1000)).await?;
    Ok(axum::Json(json!({ "open": open, "recent": recent })).into_response())
}

async fn destinations<S: Store, A: ServiceAuthorizer>(
    State(s): Shared<S, A>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    allow(&s, &headers, Scope::Admin).await?;
    let destinations = s.runtime.analytics().health().await?;
    Ok(axum::Json(json!({ "destinations": destinations })).into_response())
}
