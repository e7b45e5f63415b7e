// Command stride-interop is the Go client of Stride's interop suite: the nine
// cases of tests/interop/README.md against a running server, one PASS/FAIL
// line each, the stream_20k figure, and `N passed, N failed` last.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang/protobuf/ptypes/timestamp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "stride/events/v1"
)

type config struct {
	addr, token, userID, courseID, runID, restartCmd string
	maxBytes                                         int
}

func loadConfig() (*config, error) {
	var missing []string
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	cfg := &config{
		addr:       get("STRIDE_ADDR"),
		token:      get("STRIDE_TOKEN"),
		userID:     get("STRIDE_USER_ID"),
		courseID:   get("STRIDE_COURSE_ID"),
		runID:      get("STRIDE_RUN_ID"),
		restartCmd: get("STRIDE_RESTART_CMD"),
	}
	max := get("STRIDE_MAX_MESSAGE_BYTES")
	if len(missing) > 0 {
		return nil, fmt.Errorf("not set: %s", strings.Join(missing, ", "))
	}
	n, err := strconv.Atoi(max)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("STRIDE_MAX_MESSAGE_BYTES=%q is not a positive number", max)
	}
	cfg.maxBytes = n
	return cfg, nil
}

// bearer sends the service token with every call. The suite talks plaintext
// to loopback, so it must not demand transport security.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

type suite struct {
	cfg  *config
	base time.Time // occurred_at of event n is base + n ms: in the past, stable across resends
	rate float64   // stream_20k's events/s
}

// dial opens a ClientConn of its own for one case, so that a connection a
// server bug broke cannot spill into the next case. The tap sees its frames.
func (s *suite) dial(extra ...grpc.DialOption) (*grpc.ClientConn, pb.EventServiceClient, *h2Tap, error) {
	tap := &h2Tap{}
	opts := []grpc.DialOption{
		grpc.WithInsecure(),
		grpc.WithPerRPCCredentials(bearer(s.cfg.token)),
		grpc.WithContextDialer(tap.dial),
		// Reconnect promptly once a restarted server listens again.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	conn, err := grpc.Dial(s.cfg.addr, append(opts, extra...)...)
	if err != nil {
		return nil, nil, nil, err
	}
	return conn, pb.NewEventServiceClient(conn), tap, nil
}

func (s *suite) eventID(caseName string, n int) string {
	return fmt.Sprintf("%s-%s-%d", s.cfg.runID, caseName, n)
}

func (s *suite) occurredAt(n int) *timestamp.Timestamp {
	t := s.base.Add(time.Duration(n) * time.Millisecond)
	return &timestamp.Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
}

func (s *suite) progress(caseName string, n int) *pb.Event {
	return &pb.Event{
		EventId:    s.eventID(caseName, n),
		OccurredAt: s.occurredAt(n),
		UserId:     s.cfg.userID,
		Payload: &pb.Event_ProgressUpdated{ProgressUpdated: &pb.ProgressUpdated{
			CourseId:        s.cfg.courseID,
			ProgressPercent: float64(n % 100),
		}},
	}
}

func (s *suite) login(caseName string, n int) *pb.Event {
	return &pb.Event{
		EventId:    s.eventID(caseName, n),
		OccurredAt: s.occurredAt(n),
		UserId:     s.cfg.userID,
		Payload:    &pb.Event_Login{Login: &pb.Login{}},
	}
}

func (s *suite) progressRange(caseName string, from, count int) []*pb.Event {
	events := make([]*pb.Event, count)
	for i := range events {
		events[i] = s.progress(caseName, from+i)
	}
	return events
}

// publishStream opens PublishEvents and starts the writer: it sends every
// event as fast as Send returns (HTTP/2 flow control is the only
// back-pressure), then half-closes. The channel yields its outcome.
func publishStream(ctx context.Context, c pb.EventServiceClient, events []*pb.Event, opts ...grpc.CallOption) (pb.EventService_PublishEventsClient, <-chan error, error) {
	stream, err := c.PublishEvents(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	sent := make(chan error, 1)
	go func() {
		for _, ev := range events {
			if err := stream.Send(&pb.PublishEventsRequest{Event: ev}); err != nil {
				// io.EOF means the call ended; Recv tells with which status.
				sent <- err
				return
			}
		}
		sent <- stream.CloseSend()
	}()
	return stream, sent, nil
}

// recvAll reads results until the call ends; the error is nil when it ended OK.
func recvAll(stream pb.EventService_PublishEventsClient) ([]*pb.EventResult, error) {
	var results []*pb.EventResult
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return results, nil
		}
		if err != nil {
			return results, err
		}
		results = append(results, resp.GetResult())
	}
}

// runStream publishes events on one stream while reading its results.
func runStream(ctx context.Context, c pb.EventServiceClient, events []*pb.Event, opts ...grpc.CallOption) ([]*pb.EventResult, error) {
	stream, sent, err := publishStream(ctx, c, events, opts...)
	if err != nil {
		return nil, err
	}
	results, err := recvAll(stream)
	select { // the call is over, so the writer is too (or the deadline ends it)
	case <-sent:
	case <-ctx.Done():
	}
	return results, err
}

func accepted(_ int, st pb.EventStatus) bool  { return st == pb.EventStatus_EVENT_STATUS_ACCEPTED }
func duplicate(_ int, st pb.EventStatus) bool { return st == pb.EventStatus_EVENT_STATUS_DUPLICATE }

// checkResults asserts one result per event, in order (index and event_id),
// each with a status that ok allows.
func checkResults(results []*pb.EventResult, events []*pb.Event, ok func(i int, st pb.EventStatus) bool) error {
	for i, r := range results {
		if i >= len(events) {
			break
		}
		if r.GetIndex() != uint64(i) {
			return fmt.Errorf("result %d has index %d", i, r.GetIndex())
		}
		if r.GetEventId() != events[i].GetEventId() {
			return fmt.Errorf("result %d names event %q, sent %q", i, clip(r.GetEventId()), clip(events[i].GetEventId()))
		}
		if !ok(i, r.GetStatus()) {
			return fmt.Errorf("result %d (%s) is %s%s", i, r.GetEventId(), statusName(r.GetStatus()), violations(r))
		}
	}
	if len(results) != len(events) {
		return fmt.Errorf("%d results for %d events", len(results), len(events))
	}
	return nil
}

func statusName(st pb.EventStatus) string {
	return strings.TrimPrefix(st.String(), "EVENT_STATUS_")
}

func violations(r *pb.EventResult) string {
	var parts []string
	for _, v := range r.GetViolations() {
		parts = append(parts, v.GetField()+": "+v.GetDescription())
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// codeNames spells status codes the way the contract (and the gRPC spec) does.
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}

func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return c.String()
}

// describe renders a call's outcome as `CODE: message`.
func describe(err error) string {
	if err == nil {
		return "OK"
	}
	st := status.Convert(err)
	return codeName(st.Code()) + ": " + clip(st.Message())
}

// clip keeps a text on one readable line (an oversize event_id is megabytes).
func clip(s string) string { return clipTo(s, 300) }

func clipTo(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

type testCase struct {
	name    string
	timeout time.Duration
	run     func(ctx context.Context) (string, error)
}

// runCase bounds a case by its timeout: every call inside uses the context,
// and a case that still does not return is reported instead of waited for.
func runCase(tc testCase) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
	defer cancel()
	type outcome struct {
		detail string
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		d, err := tc.run(ctx)
		done <- outcome{d, err}
	}()
	select {
	case o := <-done:
		if o.err != nil && ctx.Err() != nil {
			o.err = fmt.Errorf("%v (the case's %s bound ran out)", o.err, tc.timeout)
		}
		return o.detail, o.err
	case <-time.After(tc.timeout + 15*time.Second):
		return "", fmt.Errorf("did not return within %s", tc.timeout+15*time.Second)
	}
}

func main() {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Printf("FAIL setup: %v\n0 passed, 1 failed\n", err)
		os.Exit(1)
	}
	s := &suite{cfg: cfg, base: time.Now().Add(-time.Hour).Truncate(time.Millisecond)}
	passed, failed := 0, 0
	for _, tc := range s.cases() {
		detail, err := runCase(tc)
		if err != nil {
			failed++
			fmt.Printf("FAIL %s: %s\n", tc.name, clipTo(err.Error(), 1500))
		} else {
			passed++
			fmt.Printf("PASS %s %s\n", tc.name, detail)
		}
		if tc.name == "stream_20k" {
			fmt.Printf("FIGURE stream_20k %.0f\n", s.rate)
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
