//! The server's own deadline for a call (`STRIDE_REQUEST_TIMEOUT_MS`) and
//! the client's (`grpc-timeout`, when sooner), answered DEADLINE_EXCEEDED
//! as gRPC defines it (tonic answers both CANCELLED, which tells a client
//! nothing about why). A call whose deadline is spent on arrival is not
//! started.
//! It bounds the time to the response's start: the token check, the
//! handler's transaction, or a stream's set-up; an open stream then runs
//! under its own caps.

use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

#[derive(Clone, Copy)]
pub struct DeadlineLayer {
    limit: Duration,
}

impl DeadlineLayer {
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Clone)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let limit = self.limit;
        let client = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(|timeout| timeout.saturating_sub(AHEAD_OF_TONIC));
        // A client deadline already spent on arrival: nothing is started,
        // so nothing changes.
        if client == Some(Duration::ZERO) {
            return Box::pin(async { Ok(client_deadline().into_http()) });
        }
        // Dropping the call's future on expiry cancels its work: the pool
        // discards a connection left inside a transaction, and PostgreSQL
        // rolls that transaction back as the connection closes.
        let call = self.inner.call(req);
        Box::pin(async move {
            let wait = client.map_or(limit, |client| client.min(limit));
            match tokio::time::timeout(wait, call).await {
                Ok(response) => response,
                Err(_) if wait < limit => Ok(client_deadline().into_http()),
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "the call took longer than the server's limit of {} ms \
                     (STRIDE_REQUEST_TIMEOUT_MS); retry later or ask for less",
                    limit.as_millis()
                ))
                .into_http()),
            }
        })
    }
}

/// tonic answers an expired `grpc-timeout` with CANCELLED from outside
/// these layers; this one answers DEADLINE_EXCEEDED that much earlier so
/// its answer is the one sent (tokio's timers tick in milliseconds).
const AHEAD_OF_TONIC: Duration = Duration::from_millis(2);

fn client_deadline() -> Status {
    Status::deadline_exceeded("the call's deadline (grpc-timeout) passed before it was done")
}

/// A `grpc-timeout` value: at most 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Calls a Deadline over a handler that records being called and
    /// answers after `takes`; the answer's grpc-status.
    async fn answer(grpc_timeout: Option<&str>, takes: Duration) -> (String, bool) {
        let called = Arc::new(AtomicBool::new(false));
        let handler = {
            let called = called.clone();
            tower::service_fn(move |_: http::Request<Body>| {
                called.store(true, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(takes).await;
                    Ok::<_, std::convert::Infallible>(Status::ok("").into_http())
                }
            })
        };
        let mut deadline = DeadlineLayer::new(Duration::from_secs(30)).layer(handler);
        let mut request = http::Request::new(Body::empty());
        if let Some(value) = grpc_timeout {
            request
                .headers_mut()
                .insert("grpc-timeout", value.parse().unwrap());
        }
        let response = deadline.call(request).await.unwrap();
        let status = response.headers()["grpc-status"]
            .to_str()
            .unwrap()
            .to_string();
        (status, called.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_deadline_spent_on_arrival_is_answered_without_starting_the_call() {
        let (status, called) = answer(Some("1u"), Duration::ZERO).await;
        assert_eq!(status, "4", "DEADLINE_EXCEEDED");
        assert!(!called);
    }

    #[tokio::test]
    async fn the_clients_deadline_is_deadline_exceeded_and_a_met_one_changes_nothing() {
        let (status, called) = answer(Some("20m"), Duration::from_secs(5)).await;
        assert_eq!(status, "4", "DEADLINE_EXCEEDED, not tonic's CANCELLED");
        assert!(called);
        let (status, _) = answer(Some("10S"), Duration::from_millis(1)).await;
        assert_eq!(status, "0");
        let (status, _) = answer(None, Duration::from_millis(1)).await;
        assert_eq!(status, "0");
    }

    #[test]
    fn grpc_timeouts_parse_with_every_unit_and_refuse_the_rest() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_grpc_timeout("999m"), Some(Duration::from_millis(999)));
        assert_eq!(parse_grpc_timeout("5u"), Some(Duration::from_micros(5)));
        assert_eq!(parse_grpc_timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S", "S10"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
