//! The protobuf codec of every Stride service: prost's, except that a
//! request that does not decode (truncated bytes, invalid UTF-8 in a
//! string, a wrong wire type) is the caller's mistake and answers
//! INVALID_ARGUMENT. tonic's own codec answers INTERNAL, which tells a
//! client to blame the server and retry.

use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// See the module docs; named by `build.rs` as the generated code's codec.
#[derive(Debug, Clone, Default)]
pub struct StrideCodec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Codec for StrideCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(self.inner.decoder())
    }
}

/// prost's decoder with its failures turned into INVALID_ARGUMENT.
#[derive(Debug, Clone, Default)]
pub struct CheckedDecoder<U>(ProstDecoder<U>);

impl<U: prost::Message + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(undecodable)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

fn undecodable(status: Status) -> Status {
    if status.code() != Code::Internal {
        return status;
    }
    Status::invalid_argument(format!(
        "the message does not decode as the method's request: {}",
        shortened(status.message())
    ))
}

/// prost names every field from the failure up to the request
/// ("inner: ...: outer: why"); past a few levels (a recursion limit hit by
/// deep nesting) only the outermost field and the reason are kept, so the
/// answer stays readable and small.
fn shortened(message: &str) -> String {
    const KEPT: usize = 4;
    let parts: Vec<&str> = message.split(": ").collect();
    if parts.len() <= KEPT + 2 {
        return message.to_string();
    }
    let (head, rest) = parts.split_at(1);
    let (path, why) = rest.split_at(rest.len() - 1);
    format!(
        "{}: {} (through {} nested fields): {}",
        head[0],
        path[path.len() - 1],
        path.len() - 1,
        why[0]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decode_failure_is_the_callers_and_other_codes_pass_through() {
        let bad = undecodable(Status::internal(
            "failed to decode Protobuf message: invalid string",
        ));
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert!(
            bad.message().contains("invalid string"),
            "{}",
            bad.message()
        );
        let deep = format!(
            "failed to decode Protobuf message: {}ImportXapiStatementsRequest.statements: recursion limit reached",
            "Struct.fields: Value.kind: ".repeat(50)
        );
        let bad = undecodable(Status::internal(deep));
        assert_eq!(
            bad.message(),
            "the message does not decode as the method's request: failed to decode Protobuf message: \
             ImportXapiStatementsRequest.statements (through 100 nested fields): recursion limit reached"
        );
        let other = undecodable(Status::out_of_range("too big"));
        assert_eq!(other.code(), Code::OutOfRange);
    }
}
