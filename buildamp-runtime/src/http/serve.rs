//! Serving the runtime's routes with limits on what a client may hold: [`serve`] instead of
//! `axum::serve`, and [`request_timeout`] on every router the runtime builds.
//!
//! `axum::serve` waits for a request's headers for ever, so a client that trickles them
//! (slow-loris) keeps its connection, and a thousand such clients keep a thousand. [`serve`]
//! closes a connection whose headers take longer than [`ServeLimits::header_read_timeout`] and
//! accepts at most [`ServeLimits::max_connections`] at once; a body that arrives too slowly is
//! answered `408` by [`request_timeout`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::ApiError;

/// What one server lets its clients hold.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// How long a client may take to send a request's headers (default 10 s).
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait in the listen queue (default 4,096).
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

/// Serves `router` on `listener` (HTTP/1.1) within `limits`, until `shutdown` is cancelled; then
/// it stops accepting and lets open connections finish their request under way.
///
/// # Errors
/// Accepting a connection failed for a reason other than a client's (the listener is broken).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // Wait for a free slot before accepting, so excess clients queue in the kernel.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A client that reset before it was accepted: not the listener's fault.
                Err(error) if is_client_error(&error) => continue,
                Err(error) => return Err(error),
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn is_client_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
    )
}

/// Answers `408` (the runtime's JSON error) to a request not answered within `timeout`: a body
/// that trickles in, or a handler stuck on a dependency. Streams are not cut: their response
/// starts at once.
pub fn request_timeout(router: Router, timeout: Duration) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => timed_out(timeout),
            }
        },
    ))
}

fn timed_out(timeout: Duration) -> Response {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the request was not complete within {} s",
            timeout.as_secs_f64()
        ),
    )
    .into_response()
}
