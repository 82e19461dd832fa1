package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTest(t *testing.T, cfg Config) *Capturer {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Logger = quiet()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// settle waits until the writer goroutine has taken everything queued.
func settle(t *testing.T, c *Capturer) {
	t.Helper()
	if err := c.do(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if len(c.queue) == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.do(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
}

func feed(tap *Tap, recs []Record) {
	for i := range recs {
		tap.Packet(&recs[i])
	}
}

// otherCall returns a copy of recs that belongs to another call with
// another peer.
func otherCall(recs []Record) []Record {
	out := append([]Record(nil), recs...)
	for i := range out {
		out[i].CallKey = "other"
		out[i].Remote = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.99"), out[i].Remote.Port())
	}
	return out
}

func theCall() Call {
	return Call{Key: callKey, CallIDs: []string{callIDA}, Numbers: []string{"+4915550100", "+4930123"},
		Addrs: []netip.Addr{phoneSIP.Addr(), phoneRTP.Addr()}}
}

func TestCaptureByFilter(t *testing.T) {
	call := sipCall(time.Now(), 10)
	tests := []struct {
		name   string
		filter string
		call   Call
		// the filter is started before (true) or after the call is known
		before bool
		want   int
	}{
		{"call key before", "call:" + callKey, theCall(), true, len(call)},
		{"call key after", "call:" + callKey, theCall(), false, len(call)},
		{"leg call-id", "call:" + callIDA, theCall(), true, len(call)},
		{"number without plus", "number:4930123", theCall(), false, len(call)},
		{"number with plus", "number:+4915550100", theCall(), true, len(call)},
		{"address", "addr:127.0.0.10", Call{Key: callKey, Addrs: []netip.Addr{phoneSIP.Addr()}}, false, len(call)},
		{"prefix", "addr:127.0.0.8/29", Call{Key: callKey, Addrs: []netip.Addr{phoneSIP.Addr()}}, true, len(call)},
		{"other number", "number:999", theCall(), true, 0},
		{"other call", "call:nope", theCall(), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTest(t, Config{RingOff: true})
			tap := c.Tap()
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var id string
			start := func() {
				id, err = c.Start(context.Background(), f, Limits{})
				if err != nil {
					t.Fatal(err)
				}
			}
			if tt.before {
				start()
			}
			tap.CallStarted(Call{Key: "other", Numbers: []string{"123"}})
			got := tap.CallStarted(tt.call)
			if !tt.before {
				start()
				got = tap.CallStarted(tt.call) // asked again: the answer now includes the running capture
			}
			if got != (tt.want > 0) {
				t.Errorf("CallStarted = %v, want %v", got, tt.want > 0)
			}
			feed(tap, call)
			feed(tap, otherCall(call)[:5])
			settle(t, c)
			info, err := c.Stop(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if info.Running || info.Reason != "stopped" || info.Packets != int64(tt.want) || info.Filter != f.String() {
				t.Errorf("info %+v, want %d packets, stopped", info, tt.want)
			}
			file, _, err := c.Open(id)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			pkts, section := readPcapng(t, file)
			if len(pkts) != tt.want {
				t.Errorf("file has %d packets, want %d", len(pkts), tt.want)
			}
			for _, p := range pkts {
				if !strings.HasSuffix(p.comment, "call="+callKey) {
					t.Fatalf("packet of another call captured: %q", p.comment)
				}
			}
			if !strings.Contains(section, "filter="+f.String()) {
				t.Errorf("section comment %q lacks the filter", section)
			}
		})
	}
}

func TestCaptureAddrOutsideCalls(t *testing.T) {
	c := newTest(t, Config{RingOff: true})
	id, err := c.Start(context.Background(), AddrFilter(netip.MustParsePrefix("127.0.0.20/32")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	feed(c.Tap(), tcpExchange(time.Now()))     // from 127.0.0.20, no call key
	feed(c.Tap(), sipCall(time.Now(), 0))      // 127.0.0.10 and .1: not selected
	feed(c.Tap(), tcpExchange(time.Now())[:1]) // once more
	settle(t, c)
	info, err := c.Stop(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Packets != 5 {
		t.Errorf("%d packets, want 5", info.Packets)
	}
}

// TestCaptureOnce checks that a record selected by two ways (its call and
// its address) is written once.
func TestCaptureOnce(t *testing.T) {
	c := newTest(t, Config{RingOff: true})
	id, err := c.Start(context.Background(), AddrFilter(netip.MustParsePrefix("127.0.0.10/32")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Tap().CallStarted(theCall()) {
		t.Fatal("call not selected by its address")
	}
	recs := sipCall(time.Now(), 3)
	feed(c.Tap(), recs)
	settle(t, c)
	info, err := c.Stop(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Packets != int64(len(recs)) {
		t.Errorf("%d packets, want %d", info.Packets, len(recs))
	}
}

func TestCaptureLimits(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		c := newTest(t, Config{RingOff: true})
		id, err := c.Start(context.Background(), CallFilter(callKey), Limits{Bytes: 8000})
		if err != nil {
			t.Fatal(err)
		}
		c.Tap().CallStarted(theCall())
		recs := sipCall(time.Now(), 50)
		feed(c.Tap(), recs)
		settle(t, c)
		list, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != id || list[0].Running || list[0].Reason != "size" {
			t.Fatalf("list %+v, want one capture ended by size", list)
		}
		if list[0].Size < 8000 || list[0].Size > 8000+4096+1024 || list[0].Packets >= int64(len(recs)) {
			t.Errorf("capture of %d bytes, %d packets: cap of 8000 bytes not applied", list[0].Size, list[0].Packets)
		}
		if c.Stats().Running != 0 {
			t.Error("capture still counted as running")
		}
	})
	t.Run("duration", func(t *testing.T) {
		c := newTest(t, Config{RingOff: true})
		id, err := c.Start(context.Background(), CallFilter(callKey), Limits{Duration: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if f, _, err := c.Open(id); err == nil {
				f.Close()
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		info, err := c.Stop(context.Background(), id)
		if err != nil || info.Reason != "duration" {
			t.Fatalf("info %+v, err %v: want ended by duration", info, err)
		}
		if d := info.Ended.Sub(info.Started); d < 500*time.Millisecond || d > 3*time.Second {
			t.Errorf("ran %v for a 500ms limit", d)
		}
	})
	t.Run("refused", func(t *testing.T) {
		c := newTest(t, Config{RingOff: true, MaxCaptures: 1, MaxDuration: time.Minute, DefaultDuration: time.Minute})
		if _, err := c.Start(context.Background(), CallFilter("a"), Limits{Duration: time.Hour}); !errors.Is(err, ErrConfig) {
			t.Errorf("duration over the maximum: err = %v", err)
		}
		if _, err := c.Start(context.Background(), CallFilter("a"), Limits{Bytes: -1}); !errors.Is(err, ErrConfig) {
			t.Errorf("negative size: err = %v", err)
		}
		if _, err := c.Start(context.Background(), Filter{}, Limits{}); !errors.Is(err, ErrFilter) {
			t.Errorf("empty filter: err = %v", err)
		}
		if _, err := c.Start(context.Background(), CallFilter("a"), Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Start(context.Background(), CallFilter("b"), Limits{}); !errors.Is(err, ErrTooMany) {
			t.Errorf("second capture with MaxCaptures 1: err = %v", err)
		}
		parts, _ := filepath.Glob(filepath.Join(c.cfg.Dir, ".*"))
		if len(parts) != 1 {
			t.Errorf("temporary files %v, want only the running capture's", parts)
		}
	})
}

func TestOpenAndStopErrors(t *testing.T) {
	c := newTest(t, Config{RingOff: true})
	id, err := c.Start(context.Background(), CallFilter(callKey), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Open(id); !errors.Is(err, ErrRunning) {
		t.Errorf("Open of a running capture: err = %v", err)
	}
	for _, bad := range []string{"", "../../etc/passwd", "call-20261124T100000Z-00000000", id + "/x"} {
		if _, _, err := c.Open(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q): err = %v", bad, err)
		}
		if _, err := c.Stop(context.Background(), bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stop(%q): err = %v", bad, err)
		}
	}
	if _, err := c.Stop(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	info, err := c.Stop(context.Background(), id)
	if err != nil || info.Reason != "stopped" {
		t.Errorf("second Stop: %+v, %v", info, err)
	}
	noDir, err := New(Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer noDir.Close()
	if _, err := noDir.Start(context.Background(), CallFilter("x"), Limits{}); !errors.Is(err, ErrNoDir) {
		t.Errorf("Start without a directory: err = %v", err)
	}
	if _, err := noDir.SaveRing(context.Background()); !errors.Is(err, ErrNoDir) {
		t.Errorf("SaveRing without a directory: err = %v", err)
	}
}

func TestRing(t *testing.T) {
	c := newTest(t, Config{})
	tap := c.Tap()
	call := sipCall(time.Now(), 20)
	feed(tap, call)
	feed(tap, tcpExchange(time.Now()))
	settle(t, c)
	wantSIP := 14 + 4
	if st := c.Stats(); st.RingRecords != wantSIP {
		t.Errorf("ring holds %d records, want %d SIP messages", st.RingRecords, wantSIP)
	}
	info, err := c.SaveRing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Filter != "ring" || info.Packets != int64(wantSIP+1) { // the long INVITE is two segments
		t.Errorf("ring file %+v", info)
	}
	pkts, section := readFile(t, filepath.Join(c.cfg.Dir, info.ID+".pcapng"))
	if len(pkts) != wantSIP+1 || !strings.Contains(section, "filter=ring") {
		t.Errorf("ring file: %d packets, section %q", len(pkts), section)
	}
	for _, p := range pkts {
		if !strings.Contains(p.comment, "kind=sip") {
			t.Errorf("ring holds a non-SIP record: %q", p.comment)
		}
	}
	list, err := c.List()
	if err != nil || len(list) != 1 || list[0].ID != info.ID {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestRingBounds(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		c := newTest(t, Config{RingBytes: 4000})
		call := sipCall(time.Now(), 0)
		feed(c.Tap(), call)
		settle(t, c)
		st := c.Stats()
		if st.RingBytes > 4000 || st.RingRecords == 0 || st.RingRecords >= len(call) {
			t.Fatalf("ring %d records, %d bytes: want under 4000 bytes", st.RingRecords, st.RingBytes)
		}
		var buf strings.Builder
		if err := c.WriteRing(context.Background(), &buf); err != nil {
			t.Fatal(err)
		}
		pkts, _ := readPcapng(t, strings.NewReader(buf.String()))
		if len(pkts) != st.RingRecords {
			t.Fatalf("dump has %d packets, ring %d", len(pkts), st.RingRecords)
		}
		// The newest messages are kept: the dump ends with the last 200 to BYE.
		last := pkts[len(pkts)-1].pkt.ApplicationLayer().Payload()
		if string(last) != string(call[len(call)-1].Payload) {
			t.Errorf("last message in the ring is not the newest")
		}
	})
	t.Run("age", func(t *testing.T) {
		c := newTest(t, Config{RingDuration: time.Minute})
		old := sipCall(time.Now().Add(-2*time.Minute), 0)
		recent := sipCall(time.Now(), 0)
		feed(c.Tap(), old)
		feed(c.Tap(), recent[:3])
		settle(t, c)
		if st := c.Stats(); st.RingRecords != 3 {
			t.Errorf("ring holds %d records, want the 3 recent ones", st.RingRecords)
		}
	})
	t.Run("off", func(t *testing.T) {
		c := newTest(t, Config{RingOff: true})
		feed(c.Tap(), sipCall(time.Now(), 0))
		if err := c.WriteRing(context.Background(), io.Discard); !errors.Is(err, ErrRingOff) {
			t.Errorf("err = %v, want ErrRingOff", err)
		}
		if st := c.Stats(); st.Accepted != 0 {
			t.Errorf("%d records queued with nothing to capture", st.Accepted)
		}
	})
}

// TestTapNeverBlocks stalls the writer and floods the Tap: every call
// returns at once, the queue takes what it holds and the rest is counted.
func TestTapNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	stalled := make(chan struct{}, 1)
	c, err := newCapturer(Config{QueueLen: 64, Dir: t.TempDir(), Logger: quiet()}, func() {
		select {
		case stalled <- struct{}{}:
		default:
		}
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tap := c.Tap()
	call := sipCall(time.Now(), 0)
	tap.Packet(&call[0])
	<-stalled // the writer holds one record and waits

	const flood = 200000
	start := time.Now()
	for i := range flood {
		tap.Packet(&call[i%len(call)])
	}
	elapsed := time.Since(start)
	if elapsed > 2*time.Second {
		t.Errorf("%d records took %v with the writer stalled", flood, elapsed)
	}
	st := c.Stats()
	if st.Accepted != 65 || st.Dropped != flood+1-65 || st.Queued != 64 {
		t.Errorf("stats %+v: want 65 accepted (64 queued, 1 held), %d dropped", st, flood+1-65)
	}
	t.Logf("%d records in %v (%.0f ns each) with the writer stalled", flood, elapsed, float64(elapsed.Nanoseconds())/flood)

	// The byte budget bounds the queue too.
	close(release)
	settle(t, c)
}

func TestTapQueueBytes(t *testing.T) {
	release := make(chan struct{})
	c, err := newCapturer(Config{QueueBytes: 100000, Logger: quiet()}, func() { <-release })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(release); c.Close() }()
	big := Record{Dir: In, Transport: TCP, Kind: SIP, Local: accessSIP, Remote: phoneSIP, Payload: make([]byte, 30000)}
	for range 10 {
		c.Tap().Packet(&big)
	}
	// One record may already be with the (stalled) writer and no longer
	// counted against the budget.
	if st := c.Stats(); st.Accepted < 3 || st.Accepted > 4 || st.Dropped != 10-st.Accepted {
		t.Errorf("stats %+v: want 3 or 4 of 30000 bytes within 100000", st)
	}
	big.Payload = make([]byte, MaxPayload+1)
	c.Tap().Packet(&big)
	big.Payload, big.Local, big.Remote = []byte("x"), netip.AddrPort{}, netip.AddrPort{}
	c.Tap().Packet(&big)
	if st := c.Stats(); st.Invalid != 2 {
		t.Errorf("invalid = %d, want 2", st.Invalid)
	}
}

func TestCloseEndsCaptures(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	c, err := New(Config{Dir: dir, Logger: quiet(), Node: "sbc1"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Start(context.Background(), NumberFilter("+4930123"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c.Tap().CallStarted(theCall())
	recs := sipCall(time.Now(), 5)
	feed(c.Tap(), recs)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Start(context.Background(), CallFilter("x"), Limits{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: err = %v", err)
	}
	c.Tap().Packet(&recs[0]) // refused quietly
	if c.Tap().CallStarted(theCall()) {
		t.Error("CallStarted after Close selected a call")
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}

	// Every record queued before Close is in the file, which a new
	// Capturer on the same directory lists with its filter.
	c2, err := New(Config{Dir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	list, err := c2.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if list[0].ID != id || list[0].Filter != "number:+4930123" || list[0].Packets != -1 || list[0].Started.IsZero() {
		t.Errorf("file from the earlier run listed as %+v", list[0])
	}
	pkts, section := readFile(t, filepath.Join(dir, id+".pcapng"))
	if len(pkts) != len(recs) || !strings.Contains(section, "node=sbc1") {
		t.Errorf("%d packets (want %d), section %q", len(pkts), len(recs), section)
	}
}

func TestStartupRemovesPartialFiles(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, ".call-20261124T100000Z-0badc0de.pcapng.part")
	keep := filepath.Join(dir, "notes.txt")
	for _, p := range []string{part, keep} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := newTest(t, Config{Dir: dir})
	if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file left: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("unrelated file removed: %v", err)
	}
	if list, err := c.List(); err != nil || len(list) != 0 {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestRetention(t *testing.T) {
	c := newTest(t, Config{KeepFiles: 2})
	feed(c.Tap(), sipCall(time.Now(), 0))
	settle(t, c)
	var ids []string
	for range 3 {
		info, err := c.SaveRing(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.ID)
		time.Sleep(10 * time.Millisecond) // distinct modification times
	}
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range list {
		got = append(got, i.ID)
	}
	if len(got) != 2 || got[0] != ids[2] || got[1] != ids[1] {
		t.Errorf("kept %v, want the newest two of %v", got, ids)
	}
}

func TestCallTableSweep(t *testing.T) {
	tbl := newCallTable()
	for _, k := range []string{"a", "b", "c"} {
		if _, ok := tbl.upsert(Call{Key: k}, 1000); !ok {
			t.Fatal("table refused a call")
		}
	}
	now := time.Now()
	tbl.end("a", now.Add(-time.Minute))
	tbl.end("b", now)
	tbl.end("missing", now)
	if n := tbl.sweep(now.Add(-time.Second)); n != 2 {
		t.Errorf("%d calls after the sweep, want 2", n)
	}
	if _, ok := tbl.upsert(Call{Key: "b", CallIDs: []string{"x"}}, 1000); !ok {
		t.Fatal("upsert of a known call refused")
	}
	if n := tbl.sweep(now.Add(time.Second)); n != 2 {
		t.Errorf("a call started again was swept (%d left)", n)
	}
	small := newCallTable()
	refused := 0
	for i := range 200 {
		if _, ok := small.upsert(Call{Key: string(rune('A' + i))}, callShards); !ok {
			refused++
		}
	}
	if small.len() > callShards || refused == 0 {
		t.Errorf("table of %d calls with a limit of %d (%d refused)", small.len(), callShards, refused)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative queue", Config{QueueLen: -1}},
		{"negative ring", Config{RingBytes: -5}},
		{"default above maximum duration", Config{DefaultDuration: 2 * time.Hour}},
		{"default above maximum size", Config{DefaultBytes: 2 << 30}},
		{"tiny queue bytes", Config{QueueBytes: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = quiet()
			if _, err := New(tt.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func BenchmarkTapPacket(b *testing.B) {
	rtp := Record{Dir: In, Transport: UDP, Kind: RTP, Local: accessRTP, Remote: phoneRTP, Realm: "access",
		CallKey: callKey, Payload: rtpPacket(1, 160, 1, false)}
	b.Run("not captured", func(b *testing.B) {
		c, err := New(Config{Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		tap := c.Tap()
		tap.CallStarted(theCall())
		b.ReportAllocs()
		for b.Loop() {
			tap.Packet(&rtp)
		}
	})
	// The writer is held still so that the benchmark sees the Tap alone:
	// each accepted record is taken off the queue and recycled inline, as
	// the writer would.
	held := func(b *testing.B, cfg Config) (*Capturer, func()) {
		release := make(chan struct{})
		cfg.Logger = quiet()
		c, err := newCapturer(cfg, func() { <-release })
		if err != nil {
			b.Fatal(err)
		}
		return c, func() { close(release); c.Close() }
	}
	b.Run("captured call", func(b *testing.B) {
		c, stop := held(b, Config{Dir: b.TempDir(), RingOff: true})
		defer stop()
		if _, err := c.Start(context.Background(), CallFilter(callKey), Limits{}); err != nil {
			b.Fatal(err)
		}
		tap := c.Tap()
		tap.CallStarted(theCall())
		tap.Packet(&rtp) // taken by the held writer
		for len(c.queue) > 0 {
			runtime.Gosched()
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(rtp.Payload)))
		for b.Loop() {
			tap.Packet(&rtp)
			it := <-c.queue
			c.queuedBytes.Add(-it.bytes)
			c.release(it)
		}
		if st := c.Stats(); st.Dropped != 0 {
			b.Fatalf("%d dropped", st.Dropped)
		}
	})
	b.Run("queue full", func(b *testing.B) {
		c, stop := held(b, Config{Dir: b.TempDir(), RingOff: true, QueueLen: 16})
		defer stop()
		if _, err := c.Start(context.Background(), CallFilter(callKey), Limits{}); err != nil {
			b.Fatal(err)
		}
		tap := c.Tap()
		tap.CallStarted(theCall())
		for range 32 {
			tap.Packet(&rtp)
		}
		b.ReportAllocs()
		for b.Loop() {
			tap.Packet(&rtp)
		}
	})
}

// BenchmarkCaptureToFile measures what a capture sustains end to end: the
// Tap is fed no faster than the writer drains it into the capture file.
func BenchmarkCaptureToFile(b *testing.B) {
	c, err := New(Config{Dir: b.TempDir(), RingOff: true, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	id, err := c.Start(context.Background(), CallFilter(callKey), Limits{Bytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	tap := c.Tap()
	tap.CallStarted(theCall())
	recs := sipCall(time.Now(), 50)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for len(c.queue) > cap(c.queue)/2 {
			runtime.Gosched()
		}
		tap.Packet(&recs[i%len(recs)])
		i++
	}
	if err := c.do(context.Background(), func() {}); err != nil {
		b.Fatal(err)
	}
	for len(c.queue) > 0 {
		runtime.Gosched()
	}
	info, err := c.Stop(context.Background(), id)
	if err != nil {
		b.Fatal(err)
	}
	st := c.Stats()
	if st.Dropped != 0 || info.Packets != int64(i) {
		b.Fatalf("%d dropped, %d of %d written", st.Dropped, info.Packets, i)
	}
	b.ReportMetric(float64(info.Packets)/b.Elapsed().Seconds(), "packets/s")
}

// sbcd's view of the call: each leg's SIP carries that leg's Call-ID, the
// media the call's id; the Tap learns the A leg at its INVITE and links
// the keys when the B leg is placed.
func linkedCall(t0 time.Time) []Record {
	recs := sipCall(t0, 10)
	for i := range recs {
		if recs[i].Kind != SIP {
			continue
		}
		recs[i].CallKey = callIDA
		if recs[i].Realm == "core" {
			recs[i].CallKey = callIDB
		}
	}
	return recs
}

func tellLinked(tap *Tap) bool {
	tap.CallStarted(Call{Key: callIDA, CallIDs: []string{callIDA}, Numbers: []string{"+4930123"},
		Addrs: []netip.Addr{phoneSIP.Addr()}, Realms: []string{"access"}})
	return tap.CallStarted(Call{Key: callKey, Keys: []string{callIDA, callIDB}, CallIDs: []string{callIDA, callIDB},
		Numbers: []string{"+4930123", "4930123"}, Realms: []string{"access", "core"}, Trunks: []string{"pbx"}})
}

// A filter that selects a call by any of its parts captures the whole
// call: both legs' SIP and the media, not only the records that match.
func TestCaptureWholeCall(t *testing.T) {
	call := linkedCall(time.Now())
	for _, filter := range []string{"addr:127.0.0.10", "call:" + callIDA, "call:" + callIDB, "call:" + callKey,
		"number:+4930*", "realm:core", "realm:access", "trunk:pbx"} {
		for _, before := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/before=%v", filter, before), func(t *testing.T) {
				c := newTest(t, Config{RingOff: true})
				tap := c.Tap()
				f, err := ParseFilter(filter)
				if err != nil {
					t.Fatal(err)
				}
				var id string
				start := func() {
					if id, err = c.Start(context.Background(), f, Limits{}); err != nil {
						t.Fatal(err)
					}
				}
				if before {
					start()
				}
				got := tellLinked(tap)
				if !before {
					start()
					got = tellLinked(tap)
				}
				if !got {
					t.Error("CallStarted = false, want true")
				}
				feed(tap, call)
				feed(tap, otherCall(call)[:5])
				settle(t, c)
				info, err := c.Stop(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if info.Packets != int64(len(call)) {
					t.Errorf("%d packets captured, want the whole call's %d", info.Packets, len(call))
				}
				if n := c.Stats().Calls; n != 1 {
					t.Errorf("Stats().Calls = %d, want 1 (one call known by three keys)", n)
				}
			})
		}
	}
}

// Two calls known separately are merged when a description links them,
// with the captures either had.
func TestCallsMergedByKeys(t *testing.T) {
	c := newTest(t, Config{RingOff: true})
	tap := c.Tap()
	id, err := c.Start(context.Background(), CallFilter(callIDB), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if tap.CallStarted(Call{Key: callIDA}) {
		t.Error("leg A alone selected by call:" + callIDB)
	}
	if !tap.CallStarted(Call{Key: callIDB}) {
		t.Error("leg B not selected by its Call-ID")
	}
	if n := c.Stats().Calls; n != 2 {
		t.Fatalf("%d calls, want 2 before the link", n)
	}
	if !tap.CallStarted(Call{Key: callKey, Keys: []string{callIDA, callIDB}}) {
		t.Error("linked call not selected")
	}
	if n := c.Stats().Calls; n != 1 {
		t.Errorf("%d calls after the link, want 1", n)
	}
	call := linkedCall(time.Now())
	feed(tap, call)
	settle(t, c)
	info, err := c.Stop(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Packets != int64(len(call)) {
		t.Errorf("%d packets, want %d", info.Packets, len(call))
	}
	tap.CallEnded(callKey)
	if n := c.calls.sweep(time.Now().Add(time.Second)); n != 0 {
		t.Errorf("%d calls after the sweep, want 0", n)
	}
	for _, k := range []string{callKey, callIDA, callIDB} {
		if c.calls.get(k) != nil {
			t.Errorf("key %s still known after the sweep", k)
		}
	}
}

// A call selected only once routed (trunk:) gets its earlier SIP from the
// ring: the file begins with the caller's INVITE, written once.
func TestCaptureBackfillFromRing(t *testing.T) {
	call := linkedCall(time.Now())
	if call[0].Kind != SIP || call[0].CallKey != callIDA {
		t.Fatalf("first record %+v is not leg A's INVITE", call[0])
	}
	for _, ringOn := range []bool{true, false} {
		t.Run(fmt.Sprintf("ring=%v", ringOn), func(t *testing.T) {
			c := newTest(t, Config{RingOff: !ringOn})
			tap := c.Tap()
			trunk, err := c.Start(context.Background(), TrunkFilter("pbx"), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			// an address capture already has the INVITE: no second copy
			addr, err := c.Start(context.Background(), AddrFilter(netip.PrefixFrom(phoneSIP.Addr(), 32)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			tap.CallStarted(Call{Key: callIDA, Numbers: []string{"+4930123"}})
			feed(tap, call[:1])
			if !tellLinked(tap) {
				t.Fatal("call not selected by trunk:pbx")
			}
			feed(tap, call[1:])
			settle(t, c)
			want := int64(len(call))
			if !ringOn {
				want-- // the INVITE went by before the call was selected
			}
			for _, id := range []string{trunk, addr} {
				info, err := c.Stop(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				w := want
				if id == addr {
					w = int64(len(call))
				}
				if info.Packets != w {
					t.Errorf("%s: %d packets, want %d", info.Filter, info.Packets, w)
				}
			}
			file, _, err := c.Open(trunk)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			pkts, _ := readPcapng(t, file)
			if ringOn && (len(pkts) == 0 || pkts[0].pkt.TransportLayer() == nil || !strings.HasPrefix(string(pkts[0].pkt.TransportLayer().LayerPayload()), "INVITE ")) {
				t.Errorf("trunk capture does not begin with the INVITE")
			}
		})
	}
}

// BenchmarkCallStarted: what the capture costs a call's setup: the A leg
// told at its INVITE, the legs and media linked when the B leg is placed,
// the end, with one capture of another number running.
func BenchmarkCallStarted(b *testing.B) {
	c, err := New(Config{Dir: b.TempDir(), RingOff: true, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Start(context.Background(), NumberFilter("+4930999"), Limits{}); err != nil {
		b.Fatal(err)
	}
	tap := c.Tap()
	keys := make([][3]string, 4096)
	for i := range keys {
		keys[i] = [3]string{fmt.Sprintf("ob-%d", i), fmt.Sprintf("a-%d@192.0.2.1", i), fmt.Sprintf("b-%d@192.0.2.2", i)}
	}
	addr := []netip.Addr{phoneSIP.Addr()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := keys[i%len(keys)]
		tap.CallStarted(Call{Key: k[1], CallIDs: k[1:2], Numbers: []string{"+4930123"}, Addrs: addr, Realms: []string{"access"}})
		tap.CallStarted(Call{Key: k[0], Keys: k[1:], CallIDs: k[1:], Numbers: []string{"+4930123"},
			Realms: []string{"access", "core"}, Trunks: []string{"pbx"}})
		tap.CallEnded(k[0])
		if i%len(keys) == len(keys)-1 {
			c.calls.sweep(time.Now().Add(time.Second))
		}
	}
}
