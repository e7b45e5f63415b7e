//! HTTP/2 flow-control settings, chosen so that flow control stops a fast
//! producer before h2's guard against small DATA frames disconnects it.
//!
//! h2 (0.4.20) charges every DATA frame under 256 bytes of payload
//! `256 - len` against a per-connection budget of half the connection
//! window, and answers GOAWAY ENHANCE_YOUR_CALM (`too_many_data_frames`)
//! when frames the application has not read yet exceed it. A gRPC client
//! streaming events unwindowed sends one small frame per event; while a
//! batch commits, Stride does not read its stream, and with hyper's
//! defaults (1 MiB windows) the peer may send ~7,000 such frames: far over
//! the 512 KiB budget. So:
//! - each stream may hold at most [`STREAM_WINDOW`] unread bytes;
//! - a connection at most [`MAX_STREAMS_PER_CONNECTION`] streams;
//! - the connection window (which sets the budget) is large enough that
//!   every stream's window full of the smallest event frames fits in the
//!   budget. The bytes a connection can hold stay bounded by the stream
//!   windows ([`max_unread_bytes_per_connection`]), not by this window.

/// Unread request bytes one stream may hold: the HTTP/2 default (64 KiB,
/// what grpc-go and grpc-core start from). At ~130 bytes an event that is
/// ~500 events: a batch's worth, so a stream is never starved between
/// batches on a low-latency link.
pub const STREAM_WINDOW: u32 = 64 * 1024;

/// Streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS).
/// Clients queue calls beyond it instead of failing them. At least
/// `STRIDE_MAX_EVENT_STREAMS_PER_CALLER`'s default, so one channel can use
/// its caller's whole share.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// The smallest DATA frame payload a real event arrives in: a gRPC
/// message prefix (5 bytes) and the smallest valid event (a one-character
/// id, a timestamp, a user UUID, a payload tag) is over 50 bytes; the
/// budget is sized for frames down to this.
pub const SMALLEST_EVENT_FRAME: u32 = 32;

/// h2's per-frame threshold (`DEFAULT_DATA_FRAME_OVERHEAD_THRESHOLD`).
const H2_FRAME_OVERHEAD_THRESHOLD: u32 = 256;

/// The connection window, sized so that h2's budget (half of it) covers
/// every stream's window full of the smallest event frames: 256 MiB.
pub const CONNECTION_WINDOW: u32 = 2 * MAX_STREAMS_PER_CONNECTION * frames_charge();

/// What h2 charges for one stream's window full of the smallest frames.
const fn frames_charge() -> u32 {
    (STREAM_WINDOW / SMALLEST_EVENT_FRAME) * (H2_FRAME_OVERHEAD_THRESHOLD - SMALLEST_EVENT_FRAME)
}

/// The most request bytes a connection can hold unread: every stream's
/// window full (16 MiB), far under the connection window.
pub const fn max_unread_bytes_per_connection() -> u64 {
    MAX_STREAMS_PER_CONNECTION as u64 * STREAM_WINDOW as u64
}

/// h2's DATA frame budget for a connection window (its `Auto` rule).
pub const fn h2_frame_budget(connection_window: u32) -> u64 {
    let half = connection_window as u64 / 2;
    if half > 25_600 { half } else { 25_600 }
}

/// What h2 charges when every stream of a connection holds a full window
/// of frames of `frame_len` payload bytes.
pub const fn charge_when_full(frame_len: u32) -> u64 {
    if frame_len >= H2_FRAME_OVERHEAD_THRESHOLD {
        return 0;
    }
    let frames = (STREAM_WINDOW / frame_len) as u64;
    MAX_STREAMS_PER_CONNECTION as u64 * frames * (H2_FRAME_OVERHEAD_THRESHOLD - frame_len) as u64
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto::events::v1 as pb;

    #[test]
    fn full_windows_of_small_frames_fit_in_the_frame_budget() {
        let budget = h2_frame_budget(CONNECTION_WINDOW);
        for len in SMALLEST_EVENT_FRAME..=H2_FRAME_OVERHEAD_THRESHOLD {
            assert!(
                charge_when_full(len) <= budget,
                "frames of {len} bytes: {} over a budget of {budget}",
                charge_when_full(len)
            );
        }
        // With hyper's defaults the guard trips at ~100-byte frames, as
        // grpc-python's unwindowed stream showed.
        let hyper_default = h2_frame_budget(1024 * 1024);
        let frames = (1024 * 1024 / 100) as u64;
        assert!(frames * 156 > hyper_default);
    }

    #[test]
    fn the_smallest_valid_event_frame_is_above_the_sized_minimum() {
        let event = pb::Event {
            event_id: "e".into(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            user_id: uuid::Uuid::nil().to_string(),
            organization_id: String::new(),
            payload: Some(pb::event::Payload::Login(pb::Login {})),
        };
        let request = pb::PublishEventsRequest { event: Some(event) };
        // The gRPC prefix (flag + length) travels in the same frame.
        let frame = 5 + request.encoded_len() as u32;
        assert!(frame >= SMALLEST_EVENT_FRAME, "{frame} bytes");
    }

    #[test]
    fn the_connection_window_is_a_valid_http2_window_and_bounds_nothing_alone() {
        assert!(CONNECTION_WINDOW <= i32::MAX as u32);
        assert!(max_unread_bytes_per_connection() < CONNECTION_WINDOW as u64);
    }
}
