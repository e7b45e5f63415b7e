//! Arbitrary bytes as the JSON of an xAPI statement, mapped onto a Stride
//! event (`domain::xapi::map_statement`) and, when it maps, validated and
//! taken through ingestion's pure steps as ImportXapiStatements does.
//! Must never panic.
//!
//! The server gets statements as protobuf `Struct`s (gRPC has no JSON
//! field); `struct_to_json` turns them back into JSON. So each statement is
//! also sent that way, and the two must map alike. The bytes, as text, are
//! also an ISO 8601 duration (`result.duration`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use prost_types::value::Kind;
use serde_json::Value;
use stride::api::events::convert::struct_to_json;
use stride::domain::xapi::{iso8601_duration, map_statement};

use common::{TOKEN_ORG, fixed_now, say};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(duration) = iso8601_duration(text)
    {
        let ms = duration.num_milliseconds();
        assert!(
            (0..1_000_000_000_000_000).contains(&ms),
            "{text:?} is {ms} ms"
        );
    }
    let Ok(statement) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    say!("statement {statement}");
    let direct = map_statement(&statement);
    if let Value::Object(fields) = &statement {
        let wire = prost_types::Struct {
            fields: fields
                .iter()
                .map(|(k, v)| (k.clone(), to_proto(v)))
                .collect(),
        };
        let received = struct_to_json(&wire);
        assert_eq!(
            map_statement(&received),
            direct,
            "the statement maps otherwise once carried as a protobuf Struct: {received}"
        );
    }
    if let Some(checked) = common::statement_to_event(&statement, TOKEN_ORG, fixed_now()) {
        common::ingest_batch(&[checked], Some(TOKEN_ORG));
    }
});

/// JSON as a client's protobuf library sends it in a `Struct` (numbers are
/// doubles).
fn to_proto(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_proto).collect(),
        }),
        Value::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields
                .iter()
                .map(|(k, v)| (k.clone(), to_proto(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}
