//go:build linux && cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/openborder/openborder/rtpengine/ng"

	"github.com/openborder/openborder/test/procstat"
)

// ngRelay is an external relay set up over its ng control socket, such as
// Sipwise rtpengine started with two interfaces named access (on aIP) and
// core (on bIP):
//
//	rtpengine --foreground --table=-1 --interface=access/127.50.0.1 \
//	    --interface=core/127.51.0.1 --listen-ng=127.0.0.1:22222 ...
//
// The A leg offers only Opus; the offer's codec flags mask Opus towards
// the B leg and add PCMU there ("codec": {"mask": ["opus"], "transcode":
// ["PCMU"]}), the B leg answers PCMU, so the relay transcodes both ways,
// exactly like the built-in engine's policy restriction to PCMU.
type ngRelay struct {
	o      options
	c      *ng.Client
	prefix string
}

var errNGAddr = errors.New("the ng socket must be on loopback")

func newNGRelay(o options) (*ngRelay, error) {
	if !o.ng.Addr().IsLoopback() {
		return nil, fmt.Errorf("%w: %s", errNGAddr, o.ng)
	}
	c, err := ng.Dial(o.ng.String(), ng.ClientConfig{Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("ng ping %s: %w", o.ng, err)
	}
	return &ngRelay{o: o, c: c, prefix: "xload-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"}, nil
}

func (r *ngRelay) callID(i int) string { return r.prefix + strconv.Itoa(i) }

// do sends an offer or answer for call i and returns the relay's port in
// the reply SDP, which must be on want, and the reply SDP.
func (r *ngRelay) do(ctx context.Context, command string, i int, toTag string, sdpBody []byte, want netip.Addr, extra func(*ng.Value)) (int, []byte, error) {
	d := ng.NewDict(8)
	d.Set("command", ng.Str(command))
	d.Set("call-id", ng.Str(r.callID(i)))
	d.Set("from-tag", ng.Str("A"))
	if toTag != "" {
		d.Set("to-tag", ng.Str(toTag))
	}
	d.Set("sdp", ng.Bytes(sdpBody))
	d.Set("replace", ng.List(ng.Str("origin"), ng.Str("session-connection")))
	d.Set("ICE", ng.Str("remove"))
	if extra != nil {
		extra(&d)
	}
	v, err := r.c.Do(ctx, d)
	if err != nil {
		return 0, nil, fmt.Errorf("%s of call %d: %w", command, i, err)
	}
	body, _ := v.Get("sdp")
	txt, ok := body.Text()
	if !ok {
		return 0, nil, fmt.Errorf("%s of call %d: reply without SDP", command, i)
	}
	port := mport([]byte(txt))
	if port == 0 || mconn([]byte(txt)) != want.String() {
		return 0, nil, fmt.Errorf("%s of call %d: want media on %s in the reply SDP:\n%s", command, i, want, txt)
	}
	return port, []byte(txt), nil
}

func (r *ngRelay) setup(ctx context.Context, i, a, b int) (int, int, []byte, error) {
	toB, _, err := r.do(ctx, "offer", i, "", sdp(a, aIP, "111", "a=rtpmap:111 opus/48000/2", "a=ptime:20"), bIP, func(d *ng.Value) {
		d.Set("direction", ng.List(ng.Str("access"), ng.Str("core")))
		codec := ng.NewDict(2)
		codec.Set("mask", ng.List(ng.Str("opus")))
		codec.Set("transcode", ng.List(ng.Str("PCMU")))
		d.Set("codec", codec)
	})
	if err != nil {
		return 0, 0, nil, err
	}
	toA, answer, err := r.do(ctx, "answer", i, "B", sdp(b, bIP, "0", "a=rtpmap:0 PCMU/8000", "a=ptime:20"), aIP, nil)
	if err != nil {
		return 0, 0, nil, err
	}
	return toA, toB, answer, nil
}

func (r *ngRelay) cpu() (time.Duration, error) {
	if r.o.relayPID <= 0 {
		return 0, nil
	}
	return procstat.ProcessCPU(r.o.relayPID)
}

func (r *ngRelay) report() string {
	return fmt.Sprintf("relay=ng:%s relay_pid=%d", r.o.ng, r.o.relayPID)
}

func (r *ngRelay) dropped() uint64 { return 0 }

func (r *ngRelay) teardown(ctx context.Context, i int) {
	d := ng.NewDict(2)
	d.Set("command", ng.Str("delete"))
	d.Set("call-id", ng.Str(r.callID(i)))
	_, _ = r.c.Do(ctx, d)
}

func (r *ngRelay) close() { _ = r.c.Close() }
