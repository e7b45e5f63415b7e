//! A request body the server stops reading before the client has finished
//! sending it (a refused stream, a stream ended by the server) is read to
//! its end, briefly, instead of being dropped at once.
//!
//! Dropping it makes h2 reset the stream (RST_STREAM) right after the
//! response's trailers. A client still writing then sees its next write
//! fail before it has read the trailers, and some libraries report that
//! failure instead of the status: grpc-python's asyncio API answers
//! `INTERNAL: Internal error from Core` to a stream refused with
//! RESOURCE_EXHAUSTED. Read to its end, the stream closes the ordinary way
//! and the client reads the status it was sent. What is read is discarded;
//! the drain stops after [`LINGER`] or [`LINGER_BYTES`], whichever first.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

/// How long an unfinished request body is read after the server is done.
pub const LINGER: Duration = Duration::from_secs(1);
/// How many bytes it is read for at most.
pub const LINGER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone, Copy, Default)]
pub struct LingerLayer;

impl<S> Layer<S> for LingerLayer {
    type Service = Linger<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Linger { inner }
    }
}

#[derive(Clone)]
pub struct Linger<S> {
    inner: S,
}

impl<S> Service<http::Request<Body>> for Linger<S>
where
    S: Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        self.inner
            .call(req.map(|body| Body::new(Lingering { body: Some(body) })))
    }
}

/// The request body, drained on drop when unfinished.
struct Lingering {
    body: Option<Body>,
}

impl HttpBody for Lingering {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match self.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map(HttpBody::size_hint)
            .unwrap_or_default()
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(body) = self.body.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        // Outside a runtime (never in the server) it is simply dropped.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(body));
        }
    }
}

/// Reads `body` to its end, for at most [`LINGER`] and [`LINGER_BYTES`].
async fn drain(mut body: Body) {
    let read = async {
        let mut bytes = 0usize;
        while let Some(Ok(frame)) =
            futures::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            bytes += frame.data_ref().map_or(0, Bytes::len);
            if bytes > LINGER_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, read).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// A body that never ends and records whether it was read.
    struct Endless {
        read: Arc<AtomicBool>,
    }

    impl HttpBody for Endless {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            self.read.store(true, Ordering::SeqCst);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"event")))))
        }
    }

    #[tokio::test]
    async fn an_unfinished_body_is_read_after_it_is_dropped_and_then_let_go() {
        let read = Arc::new(AtomicBool::new(false));
        let body = Lingering {
            body: Some(Body::new(Endless { read: read.clone() })),
        };
        drop(body);
        // The drain runs on the runtime, reads, and stops at its byte cap
        // (an endless body would otherwise keep it busy for LINGER).
        tokio::time::timeout(Duration::from_millis(500), async {
            while !read.load(Ordering::SeqCst) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the dropped body is read");
    }
}
