//! Raw bytes as the request body of an EventService method, decoded as the
//! server decodes it: tonic's gRPC framing (`Streaming::new_request`, what
//! `tonic::server::Grpc` runs) over Stride's codec (`StrideCodec`: prost's
//! `Message::decode`, its failures mapped to INVALID_ARGUMENT), an
//! oversized message translated (`unreadable::translated`). A request that
//! decodes is then validated and taken through ingestion's pure steps as the
//! handler does. Must never panic.
//!
//! Input: `[selector] [bytes]`. The selector's low 6 bits pick the method
//! (modulo 12, table below); bit 0x80 makes the caller a platform-scoped
//! token (no organization of its own); bit 0x40 makes `bytes` the HTTP body
//! as is (the fuzzer writes the gRPC frames, with a 256-byte message
//! limit). Without it the target frames `bytes` itself: for a unary method
//! `bytes` is the one message; for PublishEvents (a stream) `bytes` is a
//! run of varint-length-prefixed messages. When the frames are well formed,
//! a refusal must never be INTERNAL: a message that does not decode is the
//! caller's mistake (`src/codec.rs`).
//!
//! The catalogue upserts (selectors 3-11) are decoded, then checked as
//! their handlers check them before any database work
//! (`api::events::catalog::check_request`).
#![no_main]

mod common;

use bytes::Bytes;
use futures::executor::block_on;
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use stride::api::events::catalog::{CatalogRequest as R, check_request};
use stride::codec::StrideCodec;
use stride::proto::events::v1 as pb;
use tonic::codec::{Codec, Streaming};
use tonic::{Code, Status};

use common::{TOKEN_ORG, fixed_now, say};

/// The methods, by selector.
const METHODS: [&str; 12] = [
    "PublishEvent",
    "PublishEvents",
    "ImportXapiStatements",
    "UpsertUsers",
    "UpsertDepartments",
    "UpsertCourses",
    "UpsertLessons",
    "UpsertLearningPaths",
    "UpsertSkills",
    "UpsertCourseSkills",
    "UpsertEnrollments",
    "UpsertPrioritySkills",
];

/// Most messages of one PublishEvents batch read (the server's default
/// batch is larger; inputs are small).
const MAX_BATCH: usize = 64;
/// STRIDE_MAX_MESSAGE_BYTES's default, and the limit of raw bodies (small,
/// so that the fuzzer reaches the oversize refusal).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
const RAW_MAX_MESSAGE_BYTES: usize = 256;

struct Call<'a> {
    body: Bytes,
    /// The body's frames were written by the target: well formed.
    framed: bool,
    limit: usize,
    rest: &'a [u8],
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let method = usize::from(selector & 0x3f) % METHODS.len();
    let scope = (selector & 0x80 == 0).then_some(TOKEN_ORG);
    let raw = selector & 0x40 != 0;
    let now = fixed_now();
    let call = if raw {
        Call {
            body: Bytes::copy_from_slice(bytes),
            framed: false,
            limit: RAW_MAX_MESSAGE_BYTES,
            rest: bytes,
        }
    } else {
        let messages = if method == 1 {
            split(bytes)
        } else {
            vec![bytes]
        };
        Call {
            body: frames(&messages),
            framed: true,
            limit: MAX_MESSAGE_BYTES,
            rest: bytes,
        }
    };
    say!(
        "{} ({} bytes{}, scope {scope:?})",
        METHODS[method],
        call.rest.len(),
        if raw { ", raw body" } else { "" }
    );
    match method {
        0 => {
            if let Some(request) = unary::<pb::PublishEventResponse, pb::PublishEventRequest>(&call)
            {
                common::publish_event(&request, scope, now);
            }
        }
        1 => {
            if let Some(batch) = stream(&call) {
                common::publish_events(&batch, scope, now);
            }
        }
        2 => {
            if let Some(request) =
                unary::<pb::ImportXapiStatementsResponse, pb::ImportXapiStatementsRequest>(&call)
            {
                common::import_xapi(&request, scope, now);
            }
        }
        3 => catalog::<pb::UpsertUsersResponse, pb::UpsertUsersRequest>(&call, scope, |r| {
            R::Users(r)
        }),
        4 => catalog::<pb::UpsertDepartmentsResponse, pb::UpsertDepartmentsRequest>(
            &call,
            scope,
            |r| R::Departments(r),
        ),
        5 => catalog::<pb::UpsertCoursesResponse, pb::UpsertCoursesRequest>(&call, scope, |r| {
            R::Courses(r)
        }),
        6 => catalog::<pb::UpsertLessonsResponse, pb::UpsertLessonsRequest>(&call, scope, |r| {
            R::Lessons(r)
        }),
        7 => catalog::<pb::UpsertLearningPathsResponse, pb::UpsertLearningPathsRequest>(
            &call,
            scope,
            |r| R::Paths(r),
        ),
        8 => catalog::<pb::UpsertSkillsResponse, pb::UpsertSkillsRequest>(&call, scope, |r| {
            R::Skills(r)
        }),
        9 => catalog::<pb::UpsertCourseSkillsResponse, pb::UpsertCourseSkillsRequest>(
            &call,
            scope,
            |r| R::Links(r),
        ),
        10 => catalog::<pb::UpsertEnrollmentsResponse, pb::UpsertEnrollmentsRequest>(
            &call,
            scope,
            |r| R::Enrollments(r),
        ),
        11 => catalog::<pb::UpsertPrioritySkillsResponse, pb::UpsertPrioritySkillsRequest>(
            &call,
            scope,
            |r| R::PrioritySkills(r),
        ),
        _ => unreachable!(),
    }
});

/// A catalogue upsert: decoded, then checked as the handler checks it
/// before any database work (`api::events::catalog::check_request`).
fn catalog<E, D>(call: &Call<'_>, scope: Option<uuid::Uuid>, request: impl Fn(&D) -> R<'_>)
where
    E: Message + Default + Send + 'static,
    D: Message + Default + PartialEq + std::fmt::Debug + Send + 'static,
{
    if let Some(decoded) = unary::<E, D>(call) {
        let outcome = check_request(request(&decoded), scope);
        say!(
            "checked: {:?}",
            outcome.as_ref().map_err(|e| format!("{e:?}"))
        );
    }
}

/// The body's messages as the server's codec reads them.
fn reader<E, D>(call: &Call<'_>) -> Streaming<D>
where
    E: Message + Default + Send + 'static,
    D: Message + Default + Send + 'static,
{
    let decoder = StrideCodec::<E, D>::default().decoder();
    Streaming::new_request(
        decoder,
        Full::new(call.body.clone()),
        None,
        Some(call.limit),
    )
}

/// A unary call's request, as `tonic::server::Grpc::unary` reads it: the
/// first message (tonic ignores any after it).
fn unary<E, D>(call: &Call<'_>) -> Option<D>
where
    E: Message + Default + Send + 'static,
    D: Message + Default + PartialEq + std::fmt::Debug + Send + 'static,
{
    let mut messages = reader::<E, D>(call);
    match block_on(messages.message()) {
        Ok(Some(message)) => Some(decoded(message)),
        Ok(None) => {
            // An empty body: tonic answers "Missing request message.",
            // which the server translates; the target's own frames always
            // hold one message.
            assert!(!call.framed, "a framed message was not read");
            let status = Status::internal("Missing request message.");
            refused(call, stride::unreadable::translated(status));
            None
        }
        Err(status) => {
            refused(call, stride::unreadable::translated(status));
            None
        }
    }
}

/// A PublishEvents stream, as `run_stream` reads one batch: every message
/// until the end; an error ends the stream and drops the unapplied batch.
fn stream(call: &Call<'_>) -> Option<Vec<pb::PublishEventsRequest>> {
    let mut messages = reader::<pb::PublishEventsResponse, pb::PublishEventsRequest>(call);
    let mut batch = Vec::new();
    while batch.len() < MAX_BATCH {
        match block_on(messages.message()) {
            Ok(Some(message)) => batch.push(decoded(message)),
            Ok(None) => break,
            Err(status) => {
                refused(call, stride::unreadable::translated(status));
                return None;
            }
        }
    }
    (!batch.is_empty()).then_some(batch)
}

/// What the caller hears about a request that does not decode.
fn refused(call: &Call<'_>, status: Status) {
    say!("  refused: {:?} {}", status.code(), status.message());
    // Never INTERNAL: a message that does not decode, and broken framing,
    // are the caller's mistakes (`src/codec.rs`, `src/unreadable.rs`). The
    // one exception gRPC requires: a compressed message with no
    // `grpc-encoding`, which the target's own frames never send.
    let required_internal = !call.framed && status.message().contains("grpc-encoding");
    if !required_internal {
        assert_ne!(
            status.code(),
            Code::Internal,
            "a request that cannot be read is the caller's mistake: {}",
            status.message()
        );
    }
    // The status as the client gets it (grpc-status and grpc-message).
    let _ = status.into_http::<()>();
}

/// What decodes re-encodes to bytes that decode to the same message (prost
/// drops unknown fields, so not to the same bytes).
fn decoded<M: Message + Default + PartialEq + std::fmt::Debug>(message: M) -> M {
    let again =
        M::decode(message.encode_to_vec().as_slice()).expect("a re-encoded message decodes");
    // NaN != NaN: compare the encodings when the values differ.
    if again != message {
        assert_eq!(
            again.encode_to_vec(),
            message.encode_to_vec(),
            "{message:?}"
        );
    }
    message
}

/// gRPC frames: flag 0 (not compressed), length (big-endian u32), message.
fn frames(messages: &[&[u8]]) -> Bytes {
    let mut body = Vec::new();
    for message in messages {
        body.push(0);
        body.extend_from_slice(&(message.len() as u32).to_be_bytes());
        body.extend_from_slice(message);
    }
    Bytes::from(body)
}

/// Varint-length-prefixed chunks; a bad or too long prefix makes the rest
/// one chunk.
fn split(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    while !bytes.is_empty() && chunks.len() < MAX_BATCH {
        let mut cursor = bytes;
        match prost::encoding::decode_varint(&mut cursor) {
            Ok(len) if (len as usize) <= cursor.len() => {
                let (chunk, rest) = cursor.split_at(len as usize);
                chunks.push(chunk);
                bytes = rest;
            }
            _ => {
                chunks.push(bytes);
                break;
            }
        }
    }
    chunks
}
