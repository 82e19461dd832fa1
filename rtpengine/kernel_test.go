package rtpengine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine/conference"
	"github.com/openborder/openborder/rtpengine/kfwd"
)

// latchedCall sets up call id between two fresh peers, latches both by
// sending one packet each way, and returns the call and its two
// endpoints (facing a and facing b).
func latchedCall(t *testing.T, e *Engine, id string, latch bool) (*call, *endpoint, *endpoint, *peer, *peer) {
	t.Helper()
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, id, a, b)
	if latch {
		a.send(rtpPacket(0, 1, 0, 0xA, 20), sbcA)
		expectRTP(t, b, 1, sbcB)
		b.send(rtpPacket(0, 1, 0, 0xB, 20), sbcB)
		expectRTP(t, a, 1, sbcA)
	}
	c, err := e.lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return c, c.mono["a"].eps[0], c.mono["b"].eps[0], a, b
}

// withKeys gives ep SDES contexts of a suite (only the suite matters to
// eligibility).
func withKeys(ep *endpoint, suite string) {
	s, _ := suiteByName(suite)
	ep.secure.Store(true)
	ep.rx.Store(&cipher{attr: cryptoAttr{suite: s}})
	ep.tx.Store(&cipher{attr: cryptoAttr{suite: s}})
}

func TestKernelEligibility(t *testing.T) {
	e := newTestEngine(t, 43000, netip.Addr{}, nil)
	tests := []struct {
		name   string
		latch  bool
		mod    func(c *call, ea, eb *endpoint)
		reason string
	}{
		{"plain and latched", true, nil, ""},
		{"not latched yet", false, nil, "not latched"},
		{"hold", true, func(c *call, ea, eb *endpoint) { eb.hold.Store(true) }, "hold"},
		{"rtcp-mux", true, func(c *call, ea, eb *endpoint) { ea.mux.Store(true) }, "rtcp-mux"},
		{"sdes before keys", true, func(c *call, ea, eb *endpoint) { ea.secure.Store(true) }, "srtp keys not agreed"},
		{"srtp keys one way", true, func(c *call, ea, eb *endpoint) { eb.tx.Store(new(cipher)) }, "srtp keys not agreed"},
		{"sdes to plain", true, func(c *call, ea, eb *endpoint) { withKeys(ea, "AES_CM_128_HMAC_SHA1_80") }, ""},
		{"sdes 32 to plain", true, func(c *call, ea, eb *endpoint) { withKeys(eb, "AES_CM_128_HMAC_SHA1_32") }, ""},
		{"sdes gcm", true, func(c *call, ea, eb *endpoint) { withKeys(eb, "AEAD_AES_128_GCM") }, "srtp suite AEAD_AES_128_GCM"},
		{"srtp both legs", true, func(c *call, ea, eb *endpoint) {
			withKeys(ea, "AES_CM_128_HMAC_SHA1_80")
			withKeys(eb, "AES_CM_128_HMAC_SHA1_80")
		}, "srtp on both legs"},
		{"dtls", true, func(c *call, ea, eb *endpoint) { eb.dtls.Store(new(dtlsSession)) }, "dtls-srtp"},
		{"ice", true, func(c *call, ea, eb *endpoint) { ea.ice.Store(new(iceCreds)) }, "ice"},
		{"transcoded", true, func(c *call, ea, eb *endpoint) { eb.xcode.Store(new(xstream)) }, "transcoded"},
		{"dtmf", true, func(c *call, ea, eb *endpoint) { ea.dsp.Store(new(dsp)) }, "dtmf processing"},
		{"conference", true, func(c *call, ea, eb *endpoint) { ea.conf.Store(new(conference.Participant)) }, "conference"},
		{"captured", true, func(c *call, ea, eb *endpoint) { eb.tap.Store(new(tapTarget)) }, "captured"},
		{"recorded call", true, func(c *call, ea, eb *endpoint) { c.rec = new(callRec) }, "recorded"},
		{"recorded stream", true, func(c *call, ea, eb *endpoint) { ea.rec.Store(new(recordTap)) }, "recorded"},
		{"tone playing", true, func(c *call, ea, eb *endpoint) { c.player = new(service) }, "playback or service"},
		{"partner gone", true, func(c *call, ea, eb *endpoint) { eb.partner.Store(nil) }, "not a relayed pair"},
		{"deleted", true, func(c *call, ea, eb *endpoint) { c.deleted = true }, "deleted"},
		{"interface opts out", true, func(c *call, ea, eb *endpoint) {
			eb.pool = &pool{cfg: InterfaceConfig{Name: "core", NoKernel: true}}
		}, "interface opts out"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "elig" + string(rune('a'+i))
			c, ea, eb, a, b := latchedCall(t, e, id, tt.latch)
			c.mu.Lock()
			if tt.mod != nil {
				tt.mod(c, ea, eb)
			}
			f, reason := kernelEligible(c, ea, eb)
			rxA, txA, rxB, txB := ea.rx.Load(), ea.tx.Load(), eb.rx.Load(), eb.tx.Load()
			c.rec, c.player, c.deleted = nil, nil, false // undo call-level changes
			c.mu.Unlock()
			eb.partner.Store(ea)
			ea.pool, eb.pool = e.pools["access"], e.pools["core"]
			for _, ep := range []*endpoint{ea, eb} { // undo the endpoint changes before release
				ep.hold.Store(false)
				ep.mux.Store(false)
				ep.secure.Store(false)
				ep.tx.Store(nil)
				ep.rx.Store(nil)
				ep.ice.Store(nil)
				ep.dsp.Store(nil)
				ep.xcode.Store(nil)
				ep.dtls.Store(nil)
				ep.conf.Store(nil)
				ep.rec.Store(nil)
				ep.tap.Store(nil)
			}
			if _, err := e.Delete(id, ""); err != nil {
				t.Fatal(err)
			}
			if reason != tt.reason {
				t.Fatalf("reason %q, want %q", reason, tt.reason)
			}
			if reason != "" {
				return
			}
			want := kernelFlow{aPeer: a.addr, aLocal: ea.pp.rtp.local, bPeer: b.addr, bLocal: eb.pp.rtp.local}
			switch tt.name {
			case "sdes to plain": // a's side speaks SRTP; the flow carries its contexts and both SSRCs
				want.srtp, want.rx, want.tx, want.ssrcSec, want.ssrcPlain = 1, rxA, txA, 0xA, 0xB
			case "sdes 32 to plain":
				want.srtp, want.rx, want.tx, want.ssrcSec, want.ssrcPlain = 2, rxB, txB, 0xB, 0xA
			}
			if f != want {
				t.Fatalf("flow %v, want %v", f, want)
			}
			kf := f.kfwdFlow()
			if kf.Orig.Src != a.addr || kf.Orig.Dst != ea.pp.rtp.local || kf.DNAT != b.addr || kf.SNAT != eb.pp.rtp.local {
				t.Fatalf("conntrack flow %+v", kf)
			}
		})
	}
}

func TestKernelPairsOncePerStream(t *testing.T) {
	e := newTestEngine(t, 43040, netip.Addr{}, nil)
	c, ea, eb, _, _ := latchedCall(t, e, "pairs", false)
	var got [][2]*endpoint
	c.mu.Lock()
	c.kernelPairs(func(x, y *endpoint) { got = append(got, [2]*endpoint{x, y}) })
	c.mu.Unlock()
	if len(got) != 1 || got[0][0] != ea || got[0][1] != eb {
		t.Fatalf("pairs %v, want one (a-side, b-side)", got)
	}
}

func TestOffloadAccount(t *testing.T) {
	a, b := new(endpoint), new(endpoint)
	o := &offload{a: a, b: b, flow: kernelFlow{aLocal: netip.MustParseAddrPort("127.0.0.1:20000")}}
	now := int64(time.Second)
	pk, by := o.account(kfwd.Entry{OrigCnt: kfwd.Counters{Packets: 10, Bytes: 10 * 200}, ReplyCnt: kfwd.Counters{Packets: 4, Bytes: 4 * 100}}, now)
	if pk != 14 || by != 10*172+4*72 {
		t.Fatalf("first poll: %d packets %d bytes", pk, by)
	}
	pk, by = o.account(kfwd.Entry{OrigCnt: kfwd.Counters{Packets: 12, Bytes: 12 * 200}, ReplyCnt: kfwd.Counters{Packets: 4, Bytes: 4 * 100}}, 2*now)
	if pk != 2 || by != 2*172 {
		t.Fatalf("second poll: %d packets %d bytes", pk, by)
	}
	if a.c.packetsIn.Load() != 12 || b.c.packetsOut.Load() != 12 || b.c.packetsIn.Load() != 4 || a.c.packetsOut.Load() != 4 {
		t.Fatalf("counters a in %d out %d, b in %d out %d", a.c.packetsIn.Load(), a.c.packetsOut.Load(), b.c.packetsIn.Load(), b.c.packetsOut.Load())
	}
	if a.c.bytesIn.Load() != 12*172 || a.c.lastRecv.Load() != 2*now || b.c.lastRecv.Load() != now || a.kernLast.Load() != 2*now {
		t.Fatalf("bytes %d lastRecv a %d b %d", a.c.bytesIn.Load(), a.c.lastRecv.Load(), b.c.lastRecv.Load())
	}
}

func TestKernelModeConfig(t *testing.T) {
	base := Config{Interfaces: []InterfaceConfig{{Name: "x", Addr: loopback, PortMin: 2000, PortMax: 2010}}}
	for _, m := range []KernelMode{KernelOff, "off", KernelAuto, KernelOn} {
		c := base
		c.Kernel = m
		if _, err := c.withDefaults(); err != nil {
			t.Errorf("mode %q: %v", m, err)
		}
	}
	c := base
	c.Kernel = "always"
	if _, err := c.withDefaults(); err == nil {
		t.Error("mode always accepted")
	}
}

func TestRTCPReportBlock(t *testing.T) {
	rr := rtcpRR(9, 1, 0, 0)
	put32(rr[12:], 0x05000007) // fraction lost 5/256, cumulative lost 7
	put32(rr[20:], 480)        // jitter
	for _, tt := range []struct {
		name   string
		b      []byte
		lost   uint64
		jitter uint32
		ok     bool
	}{
		{"receiver report", rr, 7, 480, true},
		{"after a sender report without blocks", append(rtcpSR(1, 2, 3), rr...), 7, 480, true},
		{"negative cumulative loss", func() []byte {
			b := append([]byte(nil), rr...)
			put32(b[12:], 0x00ffffff)
			return b
		}(), 0, 480, true},
		{"no report block", rtcpSR(1, 2, 3), 0, 0, false},
		{"truncated block", rr[:20], 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lost, jit, ok := unpackRR(parseRTCPInfo(tt.b).rr)
			if lost != tt.lost || jit != tt.jitter || ok != tt.ok {
				t.Fatalf("lost %d jitter %d ok %v, want %d %d %v", lost, jit, ok, tt.lost, tt.jitter, tt.ok)
			}
		})
	}
	if codecClock("opus/48000") != 48000 || codecClock("") != 8000 || codecClock("PCMU/x") != 8000 {
		t.Fatal("codecClock")
	}
}

func TestSRTPFilterPrio(t *testing.T) {
	a := srtpFilterPrio([]InterfaceConfig{{PortMin: 30000}, {PortMin: 20000}})
	b := srtpFilterPrio([]InterfaceConfig{{PortMin: 40000}})
	if a == 0 || b == 0 || a == b {
		t.Fatalf("priorities %d and %d: want two distinct, non-zero", a, b)
	}
	if a != srtpFilterPrio([]InterfaceConfig{{PortMin: 20000}}) {
		t.Fatal("the lowest port does not decide")
	}
	if srtpFilterPrio(nil) == 0 {
		t.Fatal("priority 0 without interfaces")
	}
}

// TestHandOverNow: a waiting packet puts a hand-over off maxDeferrals
// times in a row, then it goes ahead; a quiet socket hands over at once
// and starts the count again.
func TestHandOverNow(t *testing.T) {
	var d uint8
	for i := range maxDeferrals {
		if handOverNow(true, &d) {
			t.Fatalf("deferral %d: handed over", i+1)
		}
	}
	if !handOverNow(true, &d) || d != 0 {
		t.Fatalf("after %d deferrals: not handed over (count %d)", maxDeferrals, d)
	}
	handOverNow(true, &d)
	if !handOverNow(false, &d) || d != 0 {
		t.Fatalf("quiet socket: count %d", d)
	}
	for i := range maxDeferrals {
		if handOverNow(true, &d) {
			t.Fatalf("count not restarted: handed over at deferral %d", i+1)
		}
	}
}
