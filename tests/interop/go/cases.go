package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	pb "stride/events/v1"
)

// cases are the contract's nine, in its order, each with a bound that makes
// a hung server a FAIL (their sum stays well under run.py's 900 s).
func (s *suite) cases() []testCase {
	return []testCase{
		{"stream_20k", 180 * time.Second, s.stream20k},
		{"concurrent_200", 120 * time.Second, s.concurrent200},
		{"burst_1000", 120 * time.Second, s.burst1000},
		{"deadline", 30 * time.Second, s.deadline},
		{"cancel", 60 * time.Second, s.cancel},
		{"gzip", 30 * time.Second, s.gzip},
		{"keepalive", 45 * time.Second, s.keepalive},
		{"oversize", 30 * time.Second, s.oversize},
		{"restart", 150 * time.Second, s.restart},
	}
}

func (s *suite) stream20k(ctx context.Context) (string, error) {
	conn, client, tap, err := s.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	events := s.progressRange("stream_20k", 0, 20000)
	start := time.Now()
	results, err := runStream(ctx, client, events)
	elapsed := time.Since(start)
	s.rate = float64(len(results)) / elapsed.Seconds()
	if err != nil {
		return "", fmt.Errorf("call ended %s after %d of %d results%s", describe(err), len(results), len(events), tap.note())
	}
	if err := checkResults(results, events, accepted); err != nil {
		return "", fmt.Errorf("%v%s", err, tap.note())
	}
	return fmt.Sprintf("%d results in order, all ACCEPTED, in %.1f s", len(results), elapsed.Seconds()), nil
}

// tally counts streams by how they ended, and the distinct reasons of the
// bad endings with one example stream each.
type tally struct {
	mu        sync.Mutex
	byOutcome map[string]int
	reasons   []string // distinct, in the order first seen
	seen      map[string]int
	example   map[string]string
}

func (t *tally) add(outcome, reason, example string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byOutcome == nil {
		t.byOutcome, t.seen, t.example = map[string]int{}, map[string]int{}, map[string]string{}
	}
	t.byOutcome[outcome]++
	if reason == "" {
		return
	}
	if t.seen[reason] == 0 {
		t.reasons = append(t.reasons, reason)
		t.example[reason] = example
	}
	t.seen[reason]++
}

func (t *tally) String() string {
	var keys []string
	for k := range t.byOutcome {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", t.byOutcome[k], k))
	}
	return strings.Join(parts, ", ")
}

// why lists the distinct reasons, e.g. `87x UNAVAILABLE: … (e.g. stream 47, after 0 results)`.
func (t *tally) why() string {
	var parts []string
	for _, r := range t.reasons {
		parts = append(parts, fmt.Sprintf("%dx %s (%s)", t.seen[r], r, t.example[r]))
	}
	return strings.Join(parts, "; ")
}

// parallelStreams opens n streams at once (all goroutines wait on one gate)
// on conn and hands each one's events and outcome to judge.
func parallelStreams(ctx context.Context, client pb.EventServiceClient, n int, events func(i int) []*pb.Event,
	judge func(i int, evs []*pb.Event, results []*pb.EventResult, err error)) {
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		evs := events(i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-gate
			results, err := runStream(ctx, client, evs)
			judge(i, evs, results, err)
		}(i)
	}
	close(gate)
	wg.Wait()
}

func (s *suite) concurrent200(ctx context.Context) (string, error) {
	conn, client, tap, err := s.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	const streams, perStream = 200, 100
	var t tally
	parallelStreams(ctx, client, streams,
		func(i int) []*pb.Event { return s.progressRange("concurrent_200", i*perStream, perStream) },
		func(i int, evs []*pb.Event, results []*pb.EventResult, err error) {
			switch {
			case err != nil:
				t.add(codeName(status.Code(err)), describe(err), fmt.Sprintf("e.g. stream %d, after %d results", i, len(results)))
			case checkResults(results, evs, accepted) != nil:
				t.add("OK with wrong results", checkResults(results, evs, accepted).Error(), fmt.Sprintf("e.g. stream %d", i))
			default:
				t.add("OK", "", "")
			}
		})
	if t.byOutcome["OK"] != streams {
		return "", fmt.Errorf("%d of %d streams did not get their %d results and OK: %s; %s%s",
			streams-t.byOutcome["OK"], streams, perStream, t.String(), t.why(), tap.note())
	}
	return fmt.Sprintf("%d streams x %d events: all results in order, ACCEPTED, OK", streams, perStream), nil
}

func (s *suite) burst1000(ctx context.Context) (string, error) {
	conn, client, tap, err := s.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	const streams, perStream = 1000, 5
	var t tally
	parallelStreams(ctx, client, streams,
		func(i int) []*pb.Event {
			evs := make([]*pb.Event, perStream)
			for j := range evs {
				evs[j] = s.login("burst_1000", i*perStream+j)
			}
			return evs
		},
		func(i int, evs []*pb.Event, results []*pb.EventResult, err error) {
			code := status.Code(err)
			switch {
			case code == codes.ResourceExhausted:
				t.add("RESOURCE_EXHAUSTED", "", "") // the contract's allowed refusal
			case err != nil:
				t.add(codeName(code), describe(err), fmt.Sprintf("e.g. stream %d, after %d results", i, len(results)))
			case checkResults(results, evs, accepted) != nil:
				t.add("OK with wrong results", checkResults(results, evs, accepted).Error(), fmt.Sprintf("e.g. stream %d", i))
			default:
				t.add("OK", "", "")
			}
		})
	if good := t.byOutcome["OK"] + t.byOutcome["RESOURCE_EXHAUSTED"]; good != streams {
		return "", fmt.Errorf("%d of %d streams ended neither OK with %d results nor RESOURCE_EXHAUSTED: %s; %s%s",
			streams-good, streams, perStream, t.String(), t.why(), tap.note())
	}
	return fmt.Sprintf("%d streams: %s", streams, t.String()), nil
}

// publishOnce makes one PublishEvent call bounded by timeout.
func publishOnce(ctx context.Context, client pb.EventServiceClient, ev *pb.Event, timeout time.Duration, opts ...grpc.CallOption) (*pb.EventResult, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.PublishEvent(cctx, &pb.PublishEventRequest{Event: ev}, opts...)
	return resp.GetResult(), err
}

// expectStatus makes one call and asserts it is OK with one of the statuses.
func expectStatus(ctx context.Context, client pb.EventServiceClient, ev *pb.Event, what string, want ...pb.EventStatus) (pb.EventStatus, error) {
	r, err := publishOnce(ctx, client, ev, 10*time.Second)
	if err != nil {
		return 0, fmt.Errorf("%s: PublishEvent answered %s", what, describe(err))
	}
	if r.GetEventId() != ev.GetEventId() {
		return 0, fmt.Errorf("%s: result names event %q, sent %q", what, r.GetEventId(), ev.GetEventId())
	}
	for _, w := range want {
		if r.GetStatus() == w {
			return w, nil
		}
	}
	var names []string
	for _, w := range want {
		names = append(names, statusName(w))
	}
	return 0, fmt.Errorf("%s: status %s%s, want %s", what, statusName(r.GetStatus()), violations(r), strings.Join(names, " or "))
}

func (s *suite) deadline(ctx context.Context) (string, error) {
	conn, client, _, err := s.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ev := s.progress("deadline", 0)
	r, err := publishOnce(ctx, client, ev, time.Millisecond)
	if status.Code(err) != codes.DeadlineExceeded {
		if err == nil {
			return "", fmt.Errorf("1 ms deadline: answered OK (%s), want DEADLINE_EXCEEDED", statusName(r.GetStatus()))
		}
		return "", fmt.Errorf("1 ms deadline: answered %s, want DEADLINE_EXCEEDED", describe(err))
	}
	second, err := expectStatus(ctx, client, ev, "again with 10 s", pb.EventStatus_EVENT_STATUS_ACCEPTED, pb.EventStatus_EVENT_STATUS_DUPLICATE)
	if err != nil {
		return "", err
	}
	if _, err := expectStatus(ctx, client, ev, "third time", pb.EventStatus_EVENT_STATUS_DUPLICATE); err != nil {
		return "", err
	}
	return fmt.Sprintf("1 ms: DEADLINE_EXCEEDED, 10 s: %s, third: DUPLICATE", statusName(second)), nil
}

func (s *suite) cancel(ctx context.Context) (string, error) {
	conn, client, tap, err := s.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	const total, cancelAfter = 1000, 100
	events := s.progressRange("cancel", 0, total)

	sctx, cancelStream := context.WithCancel(ctx)
	defer cancelStream()
	stream, sent, err := publishStream(sctx, client, events)
	if err != nil {
		return "", fmt.Errorf("first stream: %s", describe(err))
	}
	var acked []*pb.EventResult
	for len(acked) < cancelAfter {
		resp, err := stream.Recv()
		if err != nil {
			return "", fmt.Errorf("first stream ended %s after %d results, before the %dth%s", describe(err), len(acked), cancelAfter, tap.note())
		}
		acked = append(acked, resp.GetResult())
	}
	cancelStream()
	// Results already buffered may still come out before the cancellation.
	late, err := recvAll(stream)
	<-sent
	ending := "CANCELLED"
	switch {
	case status.Code(err) == codes.Canceled:
	case err == nil && len(acked)+len(late) == total:
		ending = "OK (every result arrived before the cancel)"
	default:
		return "", fmt.Errorf("first stream after the cancel: ended %s after %d more results, want CANCELLED", describe(err), len(late))
	}
	if err := checkResults(acked, events[:cancelAfter], accepted); err != nil {
		return "", fmt.Errorf("first stream, before the cancel: %v", err)
	}

	results, err := runStream(ctx, client, events)
	if err != nil {
		return "", fmt.Errorf("second stream ended %s after %d results%s", describe(err), len(results), tap.note())
	}
	dupAfter := 0
	err = checkResults(results, events, func(i int, st pb.EventStatus) bool {
		if i < cancelAfter { // acknowledged before the cancel: applied once already
			return st == pb.EventStatus_EVENT_STATUS_DUPLICATE
		}
		if st == pb.EventStatus_EVENT_STATUS_DUPLICATE {
			dupAfter++
		}
		return st == pb.EventStatus_EVENT_STATUS_ACCEPTED || st == pb.EventStatus_EVENT_STATUS_DUPLICATE
	})
	if err != nil {
		return "", fmt.Errorf("second stream: %v", err)
	}

	results, err = runStream(ctx, client, events)
	if err != nil {
		return "", fmt.Errorf("third stream ended %s after %d results%s", describe(err), len(results), tap.note())
	}
	if err := checkResults(results, events, duplicate); err != nil {
		return "", fmt.Errorf("third stream: %v", err)
	}
	return fmt.Sprintf("first stream %s after %d results; second: %d DUPLICATE + %d of the other %d DUPLICATE, rest ACCEPTED; third: all %d DUPLICATE",
		ending, cancelAfter, cancelAfter, dupAfter, total-cancelAfter, total), nil
}

// encodings records, per call, the grpc-encoding of its request and answer
// headers as grpc-go's stats report them (metadata hides grpc-* headers).
type encodings struct {
	mu       sync.Mutex
	sent     string
	received string
}

type encodingsKey struct{}

type encodingStats struct{}

func (encodingStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (encodingStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (encodingStats) HandleConn(context.Context, stats.ConnStats) {}
func (encodingStats) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	e, ok := ctx.Value(encodingsKey{}).(*encodings)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch h := rs.(type) {
	case *stats.OutHeader:
		e.sent = h.Compression
	case *stats.InHeader:
		e.received = h.Compression
	}
}

func (e *encodings) check(what string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sent != gzip.Name || e.received != gzip.Name {
		return fmt.Errorf("%s: request grpc-encoding %q, answer grpc-encoding %q, want gzip both", what, e.sent, e.received)
	}
	return nil
}

func (s *suite) gzip(ctx context.Context) (string, error) {
	conn, client, tap, err := s.dial(
		grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name)),
		grpc.WithStatsHandler(encodingStats{}),
	)
	if err != nil {
		return "", err
	}
	defer conn.Close()

	unary := &encodings{}
	ev := s.progress("gzip", 0)
	if _, err := expectStatus(context.WithValue(ctx, encodingsKey{}, unary), client, ev, "PublishEvent", pb.EventStatus_EVENT_STATUS_ACCEPTED); err != nil {
		return "", err
	}
	if err := unary.check("PublishEvent"); err != nil {
		return "", err
	}

	streamed := &encodings{}
	events := s.progressRange("gzip", 1, 100)
	results, err := runStream(context.WithValue(ctx, encodingsKey{}, streamed), client, events)
	if err != nil {
		return "", fmt.Errorf("100-event stream ended %s after %d results%s", describe(err), len(results), tap.note())
	}
	if err := checkResults(results, events, accepted); err != nil {
		return "", fmt.Errorf("100-event stream: %v", err)
	}
	if err := streamed.check("100-event stream"); err != nil {
		return "", err
	}
	return "PublishEvent and a 100-event stream OK, gzip requests, gzip answers", nil
}

func (s *suite) keepalive(ctx context.Context) (string, error) {
	conn, client, tap, err := s.dial(grpc.WithKeepaliveParams(keepalive.ClientParameters{
		Time:                10 * time.Second, // grpc-go's minimum
		Timeout:             5 * time.Second,
		PermitWithoutStream: true, // ping while no call is open, which is the point here
	}))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := expectStatus(ctx, client, s.login("keepalive", 0), "first call", pb.EventStatus_EVENT_STATUS_ACCEPTED); err != nil {
		return "", err
	}
	connected := tap.snapshot()
	// Count PINGs from 1 s into the idle time: grpc-go's BDP probe may still
	// trail the first call's answer; the keepalive PING is due at ~10 s.
	if err := sleep(ctx, time.Second); err != nil {
		return "", err
	}
	before := tap.snapshot()
	if err := sleep(ctx, 11*time.Second); err != nil {
		return "", err
	}
	idle := tap.snapshot()
	if _, err := expectStatus(ctx, client, s.login("keepalive", 1), "call after 12 s idle", pb.EventStatus_EVENT_STATUS_ACCEPTED); err != nil {
		return "", fmt.Errorf("%v%s", err, tap.note())
	}
	if err := sleep(ctx, 500*time.Millisecond); err != nil { // a GOAWAY answering the pings may trail the call
		return "", err
	}
	after := tap.snapshot()
	if g := tap.goawaysSince(tapSnapshot{}); len(g) > 0 {
		return "", fmt.Errorf("server sent %s", strings.Join(g, ", "))
	}
	if after.dials != connected.dials {
		return "", fmt.Errorf("the connection was replaced (%d more dials) during the case", after.dials-connected.dials)
	}
	pings, acks := idle.pingsOut-before.pingsOut, idle.pingAcks-before.pingAcks
	if pings == 0 {
		return "", fmt.Errorf("grpc-go sent no keepalive PING during 12 s idle, so nothing was tested")
	}
	if acks == 0 {
		return "", fmt.Errorf("%d keepalive PING(s) sent while idle, none acknowledged", pings)
	}
	return fmt.Sprintf("both calls OK on one connection; %d PING(s) sent and acknowledged while idle; no GOAWAY", pings), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *suite) oversize(ctx context.Context) (string, error) {
	conn, client, tap, err := s.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	limit := s.cfg.maxBytes
	ev := s.login("oversize", 0)
	ev.EventId += "-" + strings.Repeat("x", limit+1024)
	// Raise grpc-go's own send limit so that the server is the one to refuse.
	r, err := publishOnce(ctx, client, ev, 20*time.Second, grpc.MaxCallSendMsgSize(2*limit+(1<<20)))
	if err == nil {
		return "", fmt.Errorf("a %d-byte message was answered OK (%s), want RESOURCE_EXHAUSTED", limit+1024, statusName(r.GetStatus()))
	}
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		return "", fmt.Errorf("answered %s, want RESOURCE_EXHAUSTED%s", describe(err), tap.note())
	}
	if !strings.Contains(st.Message(), strconv.Itoa(limit)) {
		return "", fmt.Errorf("RESOURCE_EXHAUSTED, but the message %q does not name the limit %d", clip(st.Message()), limit)
	}
	return fmt.Sprintf("RESOURCE_EXHAUSTED: %s", clip(st.Message())), nil
}

func (s *suite) restart(ctx context.Context) (string, error) {
	conn, client, _, err := s.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := expectStatus(ctx, client, s.login("restart", 0), "before the restart", pb.EventStatus_EVENT_STATUS_ACCEPTED); err != nil {
		return "", err
	}
	started := time.Now()
	cmdCtx, cancel := context.WithTimeout(ctx, 100*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cmdCtx, "sh", "-c", s.cfg.restartCmd)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // keep stdout for the contract's lines
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("STRIDE_RESTART_CMD failed after %.1f s: %v", time.Since(started).Seconds(), err)
	}
	restarted := time.Since(started)

	// Same ClientConn: wait-for-ready rides out its reconnect, bounded to 30 s.
	called := time.Now()
	ev := s.login("restart", 1)
	r, err := publishOnce(ctx, client, ev, 30*time.Second, grpc.WaitForReady(true))
	if err != nil {
		return "", fmt.Errorf("after the restart (%.1f s): PublishEvent answered %s after %.1f s", restarted.Seconds(), describe(err), time.Since(called).Seconds())
	}
	if r.GetStatus() != pb.EventStatus_EVENT_STATUS_ACCEPTED || r.GetEventId() != ev.GetEventId() {
		return "", fmt.Errorf("after the restart: result %q %s%s, want %q ACCEPTED", r.GetEventId(), statusName(r.GetStatus()), violations(r), ev.GetEventId())
	}
	return fmt.Sprintf("OK, restart took %.1f s, OK on the same channel %.2f s later", restarted.Seconds(), time.Since(called).Seconds()), nil
}
