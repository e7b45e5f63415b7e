package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"

	"golang.org/x/net/http2"
)

// h2Tap watches the raw HTTP/2 frames of a ClientConn's connections for
// what grpc-go does not surface to callers: the keepalive PINGs it sends and
// the GOAWAYs (with their debug data) the server sends.
type h2Tap struct {
	mu       sync.Mutex
	dials    int
	pingsOut int // PINGs the client sent (not ACKs)
	pingAcks int // PING ACKs the server sent
	goaways  []string
}

func (t *h2Tap) dial(ctx context.Context, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.dials++
	t.mu.Unlock()
	c := &tapConn{Conn: conn}
	c.out = frameScanner{skip: len(http2.ClientPreface), onFrame: t.sent}
	c.in = frameScanner{onFrame: t.received}
	return c, nil
}

func (t *h2Tap) sent(typ http2.FrameType, flags http2.Flags, _ []byte) {
	if typ == http2.FramePing && !flags.Has(http2.FlagPingAck) {
		t.mu.Lock()
		t.pingsOut++
		t.mu.Unlock()
	}
}

func (t *h2Tap) received(typ http2.FrameType, flags http2.Flags, payload []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case typ == http2.FramePing && flags.Has(http2.FlagPingAck):
		t.pingAcks++
	case typ == http2.FrameGoAway && len(payload) >= 8:
		last := binary.BigEndian.Uint32(payload[:4]) & (1<<31 - 1)
		code := http2.ErrCode(binary.BigEndian.Uint32(payload[4:8]))
		t.goaways = append(t.goaways, fmt.Sprintf("GOAWAY %s %q (last stream %d)", code, payload[8:], last))
	}
}

type tapSnapshot struct{ dials, pingsOut, pingAcks, goaways int }

func (t *h2Tap) snapshot() tapSnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tapSnapshot{t.dials, t.pingsOut, t.pingAcks, len(t.goaways)}
}

// goawaysSince lists the GOAWAYs received after a snapshot.
func (t *h2Tap) goawaysSince(s tapSnapshot) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.goaways[s.goaways:]...)
}

// note is appended to a failure: what the server said on the wire.
func (t *h2Tap) note() string {
	g := t.goawaysSince(tapSnapshot{})
	if len(g) == 0 {
		return ""
	}
	return "; server sent " + strings.Join(g, ", ")
}

type tapConn struct {
	net.Conn
	outMu   sync.Mutex
	inMu    sync.Mutex
	out, in frameScanner
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.outMu.Lock()
	c.out.feed(p[:n])
	c.outMu.Unlock()
	return n, err
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.inMu.Lock()
	c.in.feed(p[:n])
	c.inMu.Unlock()
	return n, err
}

// frameScanner splits one direction of a connection into frames, keeping
// the payload of GOAWAY frames only (DATA payloads are not copied).
type frameScanner struct {
	skip    int // bytes of the client preface still to skip
	hdr     []byte
	left    int // payload bytes of the current frame still to come
	payload []byte
	onFrame func(http2.FrameType, http2.Flags, []byte)
}

func (f *frameScanner) feed(b []byte) {
	for len(b) > 0 {
		switch {
		case f.skip > 0:
			n := minInt(f.skip, len(b))
			f.skip -= n
			b = b[n:]
		case len(f.hdr) < 9:
			n := minInt(9-len(f.hdr), len(b))
			f.hdr = append(f.hdr, b[:n]...)
			b = b[n:]
			if len(f.hdr) == 9 {
				f.left = int(f.hdr[0])<<16 | int(f.hdr[1])<<8 | int(f.hdr[2])
				f.payload = f.payload[:0]
				if f.left == 0 {
					f.end()
				}
			}
		default:
			n := minInt(f.left, len(b))
			if http2.FrameType(f.hdr[3]) == http2.FrameGoAway {
				f.payload = append(f.payload, b[:n]...)
			}
			f.left -= n
			b = b[n:]
			if f.left == 0 {
				f.end()
			}
		}
	}
}

func (f *frameScanner) end() {
	f.onFrame(http2.FrameType(f.hdr[3]), http2.Flags(f.hdr[4]), f.payload)
	f.hdr = f.hdr[:0]
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}
