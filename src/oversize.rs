//! A request message over `STRIDE_MAX_MESSAGE_BYTES` answers
//! RESOURCE_EXHAUSTED, the code gRPC's status guide gives to "a message
//! larger than the configured limit". tonic checks the limit before any
//! codec runs and answers OUT_OF_RANGE; this layer (unary calls and a
//! stream's opening message) and the PublishEvents reader (a message later
//! in the stream) translate that one answer.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Layer, Service};

/// How tonic's refusal of an oversized message starts.
const TONIC_OVERSIZED: &str = "Error, decoded message length too large";

/// RESOURCE_EXHAUSTED for tonic's oversized-message refusal, naming the
/// setting; any other status unchanged.
pub fn translated(status: Status) -> Status {
    if status.code() != Code::OutOfRange || !status.message().starts_with(TONIC_OVERSIZED) {
        return status;
    }
    let sizes = status
        .message()
        .strip_prefix(TONIC_OVERSIZED)
        .unwrap_or_default()
        .trim_start_matches(':')
        .trim();
    Status::resource_exhausted(format!(
        "the request message is too large ({sizes}; STRIDE_MAX_MESSAGE_BYTES): \
         send less per message"
    ))
}

#[derive(Clone, Copy, Default)]
pub struct OversizeLayer;

impl<S> Layer<S> for OversizeLayer {
    type Service = Oversize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Oversize { inner }
    }
}

#[derive(Clone)]
pub struct Oversize<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Oversize<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let call = self.inner.call(req);
        Box::pin(async move {
            let response = call.await?;
            // The refusal is a trailers-only answer: its status is in the
            // headers. Other answers pass untouched.
            match Status::from_header_map(response.headers()) {
                Some(status) if status.code() == Code::OutOfRange => {
                    let status = translated(status);
                    if status.code() == Code::OutOfRange {
                        return Ok(response);
                    }
                    Ok(status.into_http())
                }
                _ => Ok(response),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonics_oversized_refusal_becomes_resource_exhausted_and_names_the_setting() {
        let refused = translated(Status::out_of_range(
            "Error, decoded message length too large: found 2090 bytes, the limit is: 1024 bytes",
        ));
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert_eq!(
            refused.message(),
            "the request message is too large (found 2090 bytes, the limit is: 1024 bytes; \
             STRIDE_MAX_MESSAGE_BYTES): send less per message"
        );
        let other = translated(Status::out_of_range("page 9 is past the end"));
        assert_eq!(other.code(), Code::OutOfRange);
    }
}
