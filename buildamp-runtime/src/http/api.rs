//! The HTTP API the generated Elm client calls: an axum router the app mounts.
//!
//! - `POST /buildamp/webhooks/{Name}`: the body is the payload as JSON, decoded into the
//!   webhook's Rust type exactly as serde does. Checked in this order, so a caller the app does
//!   not know learns nothing (not even which webhooks exist): `401` when
//!   [`Authorizer::authenticate`] refuses; `404` for a webhook that is unknown or `server_only`;
//!   `413` over the size limit; `415` unless the content type is `application/json`; `422` with
//!   serde's message and the field's path for a bad payload; `403` when
//!   [`Authorizer::authorize_trigger`] refuses this payload. Then `202` with the execution, or
//!   `200` with the earlier execution when the `Idempotency-Key` header repeats one for this
//!   webhook, if the caller may read it (`409` if not: the key is taken). `X-Correlation-Id` (a
//!   UUID) sets the correlation id.
//! - `GET /buildamp/executions/{id}`: one execution (`404` unknown, `403` refused), with its
//!   message's delivery timeline (the providers' events about it) and the state it adds up to.
//! - `GET /buildamp/executions?webhook=&status=&correlation_id=&limit=`: newest first, only those
//!   the authorizer lets the caller read.
//! - `GET /buildamp/executions/{id}/events`: server-sent events, one `status` event with the
//!   execution each time it changes, ending once it is `sent` or `dead_letter`. Every stream is
//!   fed by one shared watcher (one query per interval for all watched executions, not one per
//!   stream); at most [`ApiConfig::max_streams_per_caller`] per caller (`429` past that) and
//!   [`ApiConfig::max_streams`] in all (`503`).
//!
//! Every request must be complete within [`ApiConfig::request_timeout`] (`408`); serve the
//! router with [`super::serve`] so that slow headers are cut off too.
//!
//! **Every request passes the app's [`Authorizer`]**, first [`Authorizer::authenticate`];
//! there is no default that allows everything. Errors are `{"error": message}` (plus `"path"` for a `422`); they never carry a
//! secret or a database error's text.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::ApiError;
use super::watch::{Full, StreamSlots, Watcher};
use crate::outbound::registry::{self, AnyPayload};
use crate::outbound::trigger::TriggerOptions;
use crate::queue::{ExecutionId, Status};
use crate::runtime::Runtime;
use crate::store::{Execution, ExecutionFilter, Store};
use crate::target::{ResponseType, Target};
use crate::tracking::timeline::{DeliveryEvent, DeliveryStatus, delivery_state};

/// A trigger the authorizer decides on.
pub struct TriggerRequest<'a> {
    /// The webhook's name.
    pub webhook: &'a str,
    /// The request's headers (the session cookie or token is here).
    pub headers: &'a HeaderMap,
    payload: &'a AnyPayload,
}

impl TriggerRequest<'_> {
    /// The decoded payload, when the webhook's type is `W`.
    pub fn payload<W: 'static>(&self) -> Option<&W> {
        self.payload.downcast_ref::<W>()
    }
}

/// A read of an execution the authorizer decides on.
pub struct ReadRequest<'a> {
    /// The execution.
    pub execution: &'a Execution,
    /// The request's headers.
    pub headers: &'a HeaderMap,
}

/// Why the authorizer refused: the message is sent to the client with a `403`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

/// Who is calling, as the app's [`Authorizer::authenticate`] names them: any stable id (a user
/// id, a session id). The API caps what one caller may hold open by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller(pub String);

/// Decides who may trigger which webhook with which payload, and who may read which execution.
/// The app must supply one: the API has no default.
pub trait Authorizer: Send + Sync + 'static {
    /// Who is this (a session, a token)? Asked first on every route, before the webhook's name,
    /// the body or an id is looked at; a refusal answers `401`.
    fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> impl Future<Output = Result<Caller, Refused>> + Send;

    /// May this request trigger `request.webhook` with this payload?
    fn authorize_trigger(
        &self,
        request: &TriggerRequest<'_>,
    ) -> impl Future<Output = Result<(), Refused>> + Send;

    /// May this request read this execution (its status, its payload)?
    fn authorize_read(
        &self,
        request: &ReadRequest<'_>,
    ) -> impl Future<Output = Result<(), Refused>> + Send;
}

/// The API's limits.
#[derive(Clone, Copy, Debug)]
pub struct ApiConfig {
    /// The largest payload accepted, in bytes (default 256 KiB).
    pub body_limit: usize,
    /// How often the status watcher reads the executions streams follow (default 500 ms).
    pub poll_interval: Duration,
    /// How long a request may take, its body included (default 30 s; streams are not cut).
    pub request_timeout: Duration,
    /// Status streams one caller may hold open at once (default 8).
    pub max_streams_per_caller: usize,
    /// Status streams open at once, in all (default 1,024).
    pub max_streams: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit: 256 * 1024,
            poll_interval: Duration::from_millis(500),
            request_timeout: Duration::from_secs(30),
            max_streams_per_caller: 8,
            max_streams: 1024,
        }
    }
}

struct Api<S: Store, A> {
    runtime: Runtime<S>,
    authorizer: A,
    config: ApiConfig,
    watcher: Arc<Watcher<S>>,
    streams: Arc<StreamSlots>,
}

/// The API's routes over `runtime`, every request passing `authorizer`.
pub fn router<S: Store, A: Authorizer>(runtime: Runtime<S>, authorizer: A) -> Router {
    router_with(runtime, authorizer, ApiConfig::default())
}

/// [`router`] with explicit limits.
pub fn router_with<S: Store, A: Authorizer>(
    runtime: Runtime<S>,
    authorizer: A,
    config: ApiConfig,
) -> Router {
    let api = Arc::new(Api {
        watcher: Watcher::new(runtime.store().clone(), config.poll_interval),
        streams: Arc::default(),
        runtime,
        authorizer,
        config,
    });
    let routes = Router::new()
        .route("/buildamp/webhooks/{name}", post(trigger::<S, A>))
        .route("/buildamp/executions", get(list::<S, A>))
        .route("/buildamp/executions/{id}", get(one::<S, A>))
        .route("/buildamp/executions/{id}/events", get(events::<S, A>))
        // The limit is enforced here so the answer is ours (JSON), not the extractor's.
        .layer(DefaultBodyLimit::max(config.body_limit))
        .with_state(api);
    super::request_timeout(routes, config.request_timeout)
}

/// The execution as the Elm client decodes it (`BuildAmp.Webhooks.Execution`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExecutionView {
    /// The id.
    pub id: String,
    /// The webhook's name.
    pub webhook: String,
    /// Where it stands.
    pub status: StatusView,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts in all.
    pub max_attempts: i32,
    /// The correlation id.
    pub correlation_id: Option<String>,
    /// When it was triggered, in Unix milliseconds.
    pub created_at: i64,
    /// When it last changed, in Unix milliseconds.
    pub updated_at: i64,
    /// The payload, as stored.
    pub payload: Value,
    /// The providers' events about its message, in the order received (read one execution to
    /// get them; lists and status events leave them out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<DeliveryEvent>,
    /// Where its message stands by those events (never moved back by a late one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_state: Option<DeliveryStatus>,
}

impl ExecutionView {
    /// This view with the message's delivery timeline.
    pub fn with_timeline(mut self, timeline: Vec<DeliveryEvent>) -> Self {
        self.delivery_state = delivery_state(&timeline);
        self.timeline = timeline;
        self
    }
}

/// `WebhookStatus` in the Elm client.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StatusView {
    /// Waiting for its first attempt.
    Pending,
    /// An attempt is in flight.
    Sending,
    /// Delivered.
    Sent {
        /// What the target answered.
        response: ResponseView,
    },
    /// Waiting to be tried again.
    Failed {
        /// The last error.
        error: String,
        /// Attempts made so far.
        attempts: i32,
        /// The last attempt's refusal, when the target answered.
        #[serde(skip_serializing_if = "Option::is_none")]
        response: Option<ResponseView>,
    },
    /// Given up.
    DeadLetter {
        /// Why.
        reason: String,
        /// The last attempt's refusal, when the target answered.
        #[serde(skip_serializing_if = "Option::is_none")]
        response: Option<ResponseView>,
    },
}

/// `WebhookResponse` in the Elm client, and the answer the typed executions read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResponseView {
    /// The status code.
    pub status: i32,
    /// The body, truncated.
    pub body: String,
    /// The body read as the webhook's declared type (`response = ...` for a 2xx, `error = ...`
    /// otherwise) and written back as serde serializes it, which is what the generated Elm
    /// decoders read; `null` when the target declares no such type or the body is not one.
    pub value: Value,
    /// Why the body is not the declared type (for a 2xx, the delivery still counts as sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl ResponseView {
    /// The answer `e` recorded, read as `declared` (the type its webhook declares for it);
    /// `None` when no answer came.
    fn of(e: &Execution, declared: Option<&ResponseType>) -> Option<Self> {
        let status = e.response_status?;
        let body = e.response_body.clone().unwrap_or_default();
        let (value, problem) = match declared.map(|d| (d.read)(body.as_bytes())) {
            Some(Ok(value)) => (value, None),
            Some(Err(why)) => (Value::Null, Some(why)),
            None => (Value::Null, None),
        };
        Some(ResponseView {
            status,
            body,
            value,
            problem,
        })
    }
}

impl From<&Execution> for ExecutionView {
    fn from(e: &Execution) -> Self {
        let error = e.error_message.clone().unwrap_or_default();
        let target: Option<&Target> = registry::find(&e.webhook_type).map(|r| r.target());
        let refusal = || ResponseView::of(e, target.and_then(|t| t.error.as_ref()));
        let status = match e.status {
            Status::Pending => StatusView::Pending,
            Status::Sending => StatusView::Sending,
            // A sent execution's `error_message` is the executor's verdict that the answer is
            // not the declared type (which also covers a body too large to read): not read again.
            Status::Sent => StatusView::Sent {
                response: match &e.error_message {
                    None => ResponseView::of(e, target.and_then(|t| t.response.as_ref())),
                    Some(problem) => ResponseView::of(e, None).map(|r| ResponseView {
                        problem: Some(problem.clone()),
                        ..r
                    }),
                }
                .unwrap_or(ResponseView {
                    status: 0,
                    body: String::new(),
                    value: Value::Null,
                    problem: None,
                }),
            },
            Status::Failed => StatusView::Failed {
                error,
                attempts: e.attempts,
                response: refusal(),
            },
            Status::DeadLetter => StatusView::DeadLetter {
                reason: error,
                response: refusal(),
            },
        };
        ExecutionView {
            id: e.id.to_string(),
            webhook: e.webhook_type.clone(),
            status,
            attempts: e.attempts,
            max_attempts: e.max_attempts,
            correlation_id: e.correlation_id.map(|c| c.to_string()),
            created_at: e.created_at.timestamp_millis(),
            updated_at: e.updated_at.timestamp_millis(),
            payload: e.payload.clone(),
            timeline: Vec::new(),
            delivery_state: None,
        }
    }
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("`{name}` is not text"))
            })
        })
        .transpose()
}

/// Refuses a caller the authorizer does not know: the first check of every route.
async fn authenticate<A: Authorizer>(
    authorizer: &A,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    authorizer
        .authenticate(headers)
        .await
        .map_err(|Refused(reason)| ApiError::new(StatusCode::UNAUTHORIZED, reason))
}

async fn trigger<S: Store, A: Authorizer>(
    State(api): State<Arc<Api<S, A>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    authenticate(&api.authorizer, &headers).await?;
    let Some(registration) = registry::find(&name).filter(|r| !r.target().server_only) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no webhook `{name}` is exposed to the frontend"),
        ));
    };
    let body = super::body(body, api.config.body_limit)?;
    if !super::has_media_type(&headers, "application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the payload as `Content-Type: application/json`",
        ));
    }
    let payload = registration
        .decode(&body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.message).at(e.path))?;
    let mut options = TriggerOptions::default();
    if let Some(key) = header_text(&headers, "idempotency-key")? {
        if key.is_empty() || key.len() > 255 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "`Idempotency-Key` must be 1 to 255 characters",
            ));
        }
        options.idempotency_key = Some(key.to_owned());
    }
    if let Some(id) = header_text(&headers, "x-correlation-id")? {
        options.correlation_id = Some(Uuid::parse_str(id).map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "`X-Correlation-Id` must be a UUID")
        })?);
    }
    api.authorizer
        .authorize_trigger(&TriggerRequest {
            webhook: registration.name(),
            headers: &headers,
            payload: &payload,
        })
        .await
        .map_err(|Refused(reason)| ApiError::new(StatusCode::FORBIDDEN, reason))?;
    let execution = registration
        .execution(&payload, options)
        .map_err(|e| ApiError::internal(&e))?;
    let (enqueued, stored) = api
        .runtime
        .enqueue_returning(execution)
        .await
        .map_err(|e| ApiError::internal(&*e))?;
    let stored = match stored {
        Some(stored) => stored,
        // A repeated key: the earlier execution, as stored now.
        None => api
            .runtime
            .execution(enqueued.id)
            .await?
            .ok_or_else(|| ApiError::internal(&MissingExecution(enqueued.id)))?,
    };
    let status = if enqueued.deduplicated {
        // The key was used before, maybe by another caller: answer with that execution only if
        // this caller may read it.
        let readable = api
            .authorizer
            .authorize_read(&ReadRequest {
                execution: &stored,
                headers: &headers,
            })
            .await;
        if readable.is_err() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "this `Idempotency-Key` was used already for this webhook: choose another",
            ));
        }
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, axum::Json(ExecutionView::from(&stored))).into_response())
}

/// An execution an idempotency key named, gone before it could be read (pruned meanwhile).
#[derive(Debug, thiserror::Error)]
#[error("execution {0} was named by an idempotency key but cannot be read")]
struct MissingExecution(ExecutionId);

/// An execution the caller may read (and who the caller is), or the answer why not.
async fn readable<S: Store, A: Authorizer>(
    api: &Api<S, A>,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Caller, Execution), ApiError> {
    let caller = authenticate(&api.authorizer, headers).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("no execution `{id}`"));
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let execution = api
        .runtime
        .execution(ExecutionId(id))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(not_found)?;
    api.authorizer
        .authorize_read(&ReadRequest {
            execution: &execution,
            headers,
        })
        .await
        .map_err(|Refused(reason)| ApiError::new(StatusCode::FORBIDDEN, reason))?;
    Ok((caller, execution))
}

async fn one<S: Store, A: Authorizer>(
    State(api): State<Arc<Api<S, A>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<ExecutionView>, ApiError> {
    let (_, execution) = readable(&api, &id, &headers).await?;
    let timeline = api
        .runtime
        .timeline(execution.id)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(axum::Json(
        ExecutionView::from(&execution).with_timeline(timeline),
    ))
}

/// `?webhook=&status=&correlation_id=&limit=`.
#[derive(Deserialize)]
struct ListQuery {
    webhook: Option<String>,
    status: Option<String>,
    correlation_id: Option<String>,
    limit: Option<usize>,
}

async fn list<S: Store, A: Authorizer>(
    State(api): State<Arc<Api<S, A>>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<axum::Json<Vec<ExecutionView>>, ApiError> {
    authenticate(&api.authorizer, &headers).await?;
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let status = query
        .status
        .map(|s| {
            s.parse::<Status>().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "`status` is one of pending, sending, sent, failed, dead_letter",
                )
            })
        })
        .transpose()?;
    let correlation_id = query
        .correlation_id
        .map(|c| {
            Uuid::parse_str(&c).map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "`correlation_id` must be a UUID")
            })
        })
        .transpose()?;
    let filter = ExecutionFilter {
        webhook_type: query.webhook,
        status,
        correlation_id,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        ..ExecutionFilter::default()
    };
    let executions = api
        .runtime
        .store()
        .executions(&filter)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut visible = Vec::with_capacity(executions.len());
    for execution in &executions {
        let allowed = api
            .authorizer
            .authorize_read(&ReadRequest {
                execution,
                headers: &headers,
            })
            .await;
        if allowed.is_ok() {
            visible.push(ExecutionView::from(execution));
        }
    }
    Ok(axum::Json(visible))
}

async fn events<S: Store, A: Authorizer>(
    State(api): State<Arc<Api<S, A>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (caller, first) = readable(&api, &id, &headers).await?;
    let config = &api.config;
    let slot = api
        .streams
        .take(&caller.0, config.max_streams_per_caller, config.max_streams)
        .map_err(|full| match full {
            Full::Caller(n) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("at most {n} status streams may be open per caller: close one, or read `GET /buildamp/executions/{{id}}`"),
            ),
            Full::Overall(n) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the server follows {n} status streams already: read `GET /buildamp/executions/{{id}}` instead"),
            ),
        })?;
    let latest = api.watcher.subscribe(first);
    // State: the watcher's feed, the last view sent, whether the stream is over, and the slot
    // (given back when the stream is dropped).
    let stream = futures_util::stream::unfold(
        (latest, None::<ExecutionView>, false, slot),
        |(mut latest, last, done, slot)| async move {
            if done {
                return None;
            }
            loop {
                // Gone (pruned) or unreadable: end the stream; the client can fall back to
                // `getExecution`.
                let execution = latest.borrow_and_update().clone()?;
                let view = ExecutionView::from(&execution);
                if last.as_ref() != Some(&view) {
                    let event = Event::default()
                        .event("status")
                        .json_data(&view)
                        .unwrap_or_else(|_| Event::default().event("status"));
                    let over = execution.status.is_final();
                    return Some((Ok::<_, Infallible>(event), (latest, Some(view), over, slot)));
                }
                latest.changed().await.ok()?;
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
