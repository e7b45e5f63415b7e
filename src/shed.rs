//! Load shedding that tells the caller what happened: beyond
//! `STRIDE_MAX_CONCURRENT_REQUESTS` calls in flight, one more is answered
//! RESOURCE_EXHAUSTED at once, naming the limit and asking for a retry with
//! backoff. (tonic's built-in shedding says "Too many active requests for
//! the connection", which is wrong here: the limit is the server's, across
//! all connections.)

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

#[derive(Clone, Copy)]
pub struct ShedLayer {
    limit: u32,
}

impl ShedLayer {
    /// `limit`: the concurrency limit of the service below, for the message.
    pub fn new(limit: u32) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            limit: self.limit,
            admitted: false,
        }
    }
}

pub struct Shed<S> {
    inner: S,
    limit: u32,
    /// Whether the inner service said it was ready for the next call.
    admitted: bool,
}

/// A clone starts unadmitted: the readiness (a concurrency permit) belongs
/// to the original.
impl<S: Clone> Clone for Shed<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limit: self.limit,
            admitted: false,
        }
    }
}

impl<S, B> Service<http::Request<B>> for Shed<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Self::Response, Self::Error>>>;

    /// Always ready: a call the inner service has no room for is answered
    /// here instead of waiting.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.admitted = match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => false,
        };
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if std::mem::take(&mut self.admitted) {
            return Either::Left(self.inner.call(req));
        }
        let status = Status::resource_exhausted(format!(
            "the server is handling its limit of {} calls at once \
             (STRIDE_MAX_CONCURRENT_REQUESTS); retry with backoff",
            self.limit
        ));
        Either::Right(ready(Ok(status.into_http())))
    }
}
