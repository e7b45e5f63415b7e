//! Requests tonic cannot read, refused before any codec runs, answered
//! with the codes gRPC gives them and a reason:
//! - a message over `STRIDE_MAX_MESSAGE_BYTES`: RESOURCE_EXHAUSTED (gRPC's
//!   status guide: "a message larger than the configured limit"), where
//!   tonic answers OUT_OF_RANGE;
//! - a body that is not gRPC framing (a bad compression flag, a frame cut
//!   short, no message at all): INVALID_ARGUMENT, where tonic answers
//!   INTERNAL, which tells a client to blame the server (found by the fuzz
//!   target `decode_requests`).
//!
//! This layer translates them on unary calls and a stream's opening; the
//! PublishEvents reader does the same for a message later in a stream.

use tonic::body::Body;
use tonic::{Code, Status};

/// How tonic's refusal of an oversized message starts.
const TONIC_OVERSIZED: &str = "Error, decoded message length too large";

/// What tonic's INTERNAL refusals of broken framing say. (A compressed
/// message without `grpc-encoding` stays INTERNAL: gRPC requires it.)
const TONIC_BAD_FRAMING: [&str; 3] = [
    "invalid compression flag",
    "Unexpected EOF decoding stream",
    "Missing request message",
];

/// The code and reason gRPC gives to tonic's refusals of a request it
/// cannot read; any other status unchanged.
pub fn translated(status: Status) -> Status {
    if status.code() == Code::Internal
        && TONIC_BAD_FRAMING
            .iter()
            .any(|p| status.message().contains(p))
    {
        return Status::invalid_argument(format!(
            "the request is not well-formed gRPC: {}",
            status.message()
        ));
    }
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

/// A response whose status is one of tonic's refusals above, answered as
/// [`translated`] says; any other response unchanged. Served as a
/// `tower::util::MapResponseLayer` (the refusal is a trailers-only answer:
/// its status is in the headers).
pub fn translate_response(response: http::Response<Body>) -> http::Response<Body> {
    match Status::from_header_map(response.headers()) {
        Some(status) if matches!(status.code(), Code::OutOfRange | Code::Internal) => {
            let code = status.code();
            let status = translated(status);
            if status.code() == code {
                response
            } else {
                status.into_http()
            }
        }
        _ => response,
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

    #[test]
    fn broken_framing_is_the_callers_and_other_internal_errors_stay() {
        for message in [
            "protocol error: received message with invalid compression flag: 2 \
             (valid flags are 0 and 1), while sending request",
            "Unexpected EOF decoding stream.",
            "Missing request message.",
        ] {
            let refused = translated(Status::internal(message));
            assert_eq!(refused.code(), Code::InvalidArgument, "{message}");
            assert!(refused.message().ends_with(message), "{refused:?}");
        }
        let ours = translated(Status::internal("internal error"));
        assert_eq!(ours.code(), Code::Internal);
        let no_encoding = translated(Status::internal(
            "protocol error: received message with compressed-flag but no grpc-encoding was specified",
        ));
        assert_eq!(no_encoding.code(), Code::Internal);
    }
}
