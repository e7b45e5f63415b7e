//! The server's own deadline for a call (`STRIDE_REQUEST_TIMEOUT_MS`),
//! answered DEADLINE_EXCEEDED as gRPC defines it (tonic's built-in server
//! timeout answers CANCELLED, which tells a client nothing about why).
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
        // Dropping the call's future on expiry cancels its work: the pool
        // discards a connection left inside a transaction, and PostgreSQL
        // rolls that transaction back as the connection closes.
        let call = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
                Ok(response) => response,
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
