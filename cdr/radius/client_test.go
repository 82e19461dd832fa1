package radius

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/cdr"
)

const testSecret = "s3cret"

func testRecord(id string) *cdr.Record {
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	return &cdr.Record{
		CallID: id, Attempt: 1, AFromUser: "alice", ARURIUser: "0301234567", BRURIUser: "+49301234567",
		InviteTime: t0, AnswerTime: t0.Add(2 * time.Second), EndTime: t0.Add(47 * time.Second),
		Cause: cdr.CauseNormal, Side: cdr.SideCaller, SIPCode: 200,
	}
}

func testConfig(t *testing.T, servers ...string) cdr.RADIUSConfig {
	cfg := cdr.RADIUSConfig{
		Timeout: 100 * time.Millisecond, Retries: 1, RetryInterval: 50 * time.Millisecond,
		SpoolDir: filepath.Join(t.TempDir(), "spool"), NASIdentifier: "sbc-test", NASIPAddress: "127.0.0.1",
	}
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, cdr.RADIUSServer{Address: s, Secret: testSecret})
	}
	return cfg
}

func newClient(t *testing.T, cfg cdr.RADIUSConfig) *Client {
	t.Helper()
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// deadAddr returns a loopback UDP address with nothing listening.
func deadAddr(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestClientStartStop(t *testing.T) {
	srv := newFakeServer(t, testSecret)
	c := newClient(t, testConfig(t, srv.addr()))
	rec := testRecord("call-1")
	c.Start(rec)
	if err := c.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two requests", 2*time.Second, func() bool { return c.Stats().Sent == 2 })
	got := srv.packets()
	if len(got) != 2 || srv.bad.Load() != 0 {
		t.Fatalf("%d packets, %d with a bad authenticator", len(got), srv.bad.Load())
	}
	tests := []struct {
		name        string
		p           *Packet
		status      uint32
		sessionTime int64 // -1: absent
		cause       int64 // -1: absent
		when        time.Time
	}{
		{"start", got[0], StatusStart, -1, -1, rec.AnswerTime},
		{"stop", got[1], StatusStop, 45, int64(TerminateUserRequest), rec.EndTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			if s, _ := attrU32(p, AttrAcctStatusType); s != tt.status {
				t.Errorf("status %d", s)
			}
			for typ, want := range map[uint8]string{AttrAcctSessionID: "call-1-1", AttrUserName: "alice",
				AttrCallingStationID: "alice", AttrCalledStationID: "+49301234567", AttrNASIdentifier: "sbc-test",
				AttrNASIPAddress: "\x7f\x00\x00\x01"} {
				if got := attrString(p, typ); got != want {
					t.Errorf("attribute %d = %q, want %q", typ, got, want)
				}
			}
			st, ok := attrU32(p, AttrAcctSessionTime)
			if (tt.sessionTime < 0) == ok || (ok && int64(st) != tt.sessionTime) {
				t.Errorf("Acct-Session-Time %d %v", st, ok)
			}
			tc, ok := attrU32(p, AttrAcctTerminateCause)
			if (tt.cause < 0) == ok || (ok && int64(tc) != tt.cause) {
				t.Errorf("Acct-Terminate-Cause %d %v", tc, ok)
			}
			if ts, _ := attrU32(p, AttrEventTimestamp); int64(ts) != tt.when.Unix() {
				t.Errorf("Event-Timestamp %d, want %d", ts, tt.when.Unix())
			}
			// The events happened a while ago: Acct-Delay-Time says so.
			if d, ok := attrU32(p, AttrAcctDelayTime); !ok || d < 10 {
				t.Errorf("Acct-Delay-Time %d %v", d, ok)
			}
		})
	}
	if got[0].Identifier == got[1].Identifier {
		t.Error("two requests with one identifier")
	}
}

func TestClientIgnoresForgedResponse(t *testing.T) {
	// The server accepts the requests but signs its answers with another
	// secret: they do not verify, so the client treats the request as
	// unanswered and spools it.
	srv := newFakeServerSigning(t, testSecret, "another")
	c := newClient(t, testConfig(t, srv.addr()))
	c.Stop(testRecord("forged"))
	waitFor(t, "spooled", 2*time.Second, func() bool { return c.Stats().Spooled == 1 })
	if st := c.Stats(); st.Sent != 0 || st.Failed == 0 || len(srv.packets()) != 2 {
		t.Fatalf("stats %+v, server saw %d requests", st, len(srv.packets()))
	}
}

func TestClientFailover(t *testing.T) {
	srv := newFakeServer(t, testSecret)
	c := newClient(t, testConfig(t, deadAddr(t), srv.addr()))
	c.Stop(testRecord("a"))
	waitFor(t, "sent", 3*time.Second, func() bool { return c.Stats().Sent == 1 })
	// The client stays on the server that answered.
	c.Stop(testRecord("b"))
	waitFor(t, "sent", 3*time.Second, func() bool { return c.Stats().Sent == 2 })
	st := c.Stats()
	if st.Retried != 2 || st.Spooled != 0 || st.Failed != 0 { // 2 tries on the dead server, then the live one
		t.Fatalf("stats %+v", st)
	}
	if n := len(srv.packets()); n != 2 {
		t.Fatalf("live server got %d requests", n)
	}
}

func sessionIDs(ps []*Packet) string {
	var ids []string
	for _, p := range ps {
		s, _ := attrU32(p, AttrAcctStatusType)
		ids = append(ids, fmt.Sprintf("%s/%d", attrString(p, AttrAcctSessionID), s))
	}
	return strings.Join(ids, " ")
}

func TestClientSpoolAndReplay(t *testing.T) {
	srv := newFakeServer(t, testSecret)
	srv.down.Store(true)
	cfg := testConfig(t, srv.addr())
	cfg.QueueSize = 2 // overflow goes straight to the spool
	c := newClient(t, cfg)
	var want []string
	for i := range 6 {
		rec := testRecord(fmt.Sprintf("c%d", i))
		start := time.Now()
		c.Start(rec)
		c.Stop(rec)
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Fatalf("Start+Stop blocked for %v", d)
		}
		want = append(want, fmt.Sprintf("c%d-1/1", i), fmt.Sprintf("c%d-1/2", i))
	}
	waitFor(t, "all spooled", 3*time.Second, func() bool { st := c.Stats(); return st.SpoolDepth == 12 && st.Queued == 0 })
	files, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "*.acct"))
	if len(files) != 12 {
		t.Fatalf("%d spool files", len(files))
	}
	srv.down.Store(false)
	waitFor(t, "replay", 5*time.Second, func() bool { return c.Stats().SpoolDepth == 0 && c.Stats().Sent == 12 })
	if got := sessionIDs(srv.packets()); got != strings.Join(want, " ") {
		t.Fatalf("replayed out of order:\n got %s\nwant %s", got, strings.Join(want, " "))
	}
	st := c.Stats()
	if st.Spooled != 12 || st.Dropped != 0 || st.Failed == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestClientSpoolSurvivesRestart(t *testing.T) {
	srv := newFakeServer(t, testSecret)
	srv.down.Store(true)
	cfg := testConfig(t, srv.addr())
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c.Stop(testRecord(fmt.Sprintf("r%d", i)))
	}
	waitFor(t, "a failed round", 3*time.Second, func() bool { return c.Stats().Failed > 0 })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if st := c.Stats(); st.SpoolDepth != 3 {
		t.Fatalf("after Close: %+v", st)
	}
	srv.down.Store(false)
	c2 := newClient(t, cfg)
	c2.Stop(testRecord("r3"))
	waitFor(t, "replay after restart", 3*time.Second, func() bool { return c2.Stats().Sent == 4 })
	if got := sessionIDs(srv.packets()); got != "r0-1/2 r1-1/2 r2-1/2 r3-1/2" {
		t.Fatalf("order %s", got)
	}
}

func TestClientSpoolCap(t *testing.T) {
	cfg := testConfig(t, deadAddr(t))
	cfg.QueueSize = 1
	cfg.RetryInterval = time.Hour
	cfg.SpoolMaxBytes = 250 // room for a few entries only
	c := newClient(t, cfg)
	for i := range 20 {
		c.Stop(testRecord(fmt.Sprintf("d%d", i)))
	}
	waitFor(t, "drops", 3*time.Second, func() bool { st := c.Stats(); return st.Spooled+st.Dropped+uint64(st.Queued) == 20 })
	st := c.Stats()
	if st.Dropped == 0 || st.Spooled == 0 || st.SpoolBytes > 250 {
		t.Fatalf("stats %+v", st)
	}
}

func TestClientCorruptSpoolEntry(t *testing.T) {
	srv := newFakeServer(t, testSecret)
	cfg := testConfig(t, srv.addr())
	if err := os.MkdirAll(cfg.SpoolDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.SpoolDir, fmt.Sprintf("%020d.acct", 1)), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cfg)
	c.Stop(testRecord("after"))
	waitFor(t, "sent", 3*time.Second, func() bool { return c.Stats().Sent == 1 })
	if st := c.Stats(); st.Dropped != 1 || st.SpoolDepth != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestClientInterim(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 1s interim period")
	}
	srv := newFakeServer(t, testSecret)
	cfg := testConfig(t, srv.addr())
	cfg.InterimInterval = time.Second
	c := newClient(t, cfg)
	rec := testRecord("long")
	rec.AnswerTime = time.Now().Add(-30 * time.Second)
	c.Start(rec)
	waitFor(t, "interim", 3*time.Second, func() bool { return c.Stats().Sent >= 2 })
	c.Stop(rec)
	waitFor(t, "stop", 3*time.Second, func() bool { return c.Stats().Sent >= 3 })
	ps := srv.packets()
	if s, _ := attrU32(ps[1], AttrAcctStatusType); s != StatusInterimUpdate {
		t.Fatalf("second request has status %d", s)
	}
	if st, _ := attrU32(ps[1], AttrAcctSessionTime); st < 30 || st > 33 {
		t.Fatalf("interim session time %d", st)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(cdr.RADIUSConfig{}, nil); err == nil {
		t.Fatal("no servers accepted")
	}
	cfg := testConfig(t, "127.0.0.1:1813")
	cfg.SpoolDir = ""
	if _, err := New(cfg, nil); err == nil {
		t.Fatal("no spool dir accepted")
	}
}

func TestTerminateCause(t *testing.T) {
	for cause, want := range map[cdr.Cause]uint32{
		cdr.CauseNormal: 1, cdr.CauseCancelled: 1, cdr.CauseBusy: 18, cdr.CauseMediaTimeout: 4,
		cdr.CauseSessionTimeout: 5, cdr.CauseDrain: 6, cdr.CauseFailed: 15, "something-new": 9,
	} {
		if got := TerminateCause(cause); got != want {
			t.Errorf("%s: %d, want %d", cause, got, want)
		}
	}
}

// BenchmarkClientStop measures accounting throughput: b.N Stops queued and
// answered by an in-process server over loopback.
func BenchmarkClientStop(b *testing.B) {
	srv := newFakeServer(b, testSecret)
	cfg := cdr.RADIUSConfig{Servers: []cdr.RADIUSServer{{Address: srv.addr(), Secret: testSecret}},
		SpoolDir: b.TempDir(), QueueSize: 1 << 16}
	c, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rec := testRecord("bench")
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		c.Stop(rec)
		for c.Stats().Queued > cfg.QueueSize/2 {
			time.Sleep(time.Millisecond)
		}
	}
	for c.Stats().Sent+c.Stats().Spooled < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
	if st := c.Stats(); st.Spooled != 0 {
		b.Fatalf("spooled %d", st.Spooled)
	}
}
