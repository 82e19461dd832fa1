package conference

import (
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// TestSenderReportFields checks the SR's sender info and report block:
// loss counted from sequence gaps, the extended highest sequence number
// across a wrap, and the fraction lost since the previous report.
func TestSenderReportFields(t *testing.T) {
	cfg, _ := Config{}.withDefaults()
	p, err := newParticipant(ParticipantConfig{ID: "a", Codec: PCMU, Output: func([]byte) {}}, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 500_000_000, time.UTC)
	sr := p.appendSR(nil, now)
	if len(sr) != 28 || sr[0] != 0x80 || sr[1] != 200 || binary.BigEndian.Uint16(sr[2:]) != 6 {
		t.Fatalf("SR without a received stream: % x", sr)
	}
	p.sentPackets, p.sentOctets, p.ts = 250, 40000, 123456
	// 0xfff0..0x000f with 0xfff5 and 0x0003 lost: 32 expected, 30 received.
	for s := 0xfff0; s <= 0x1000f; s++ {
		if seq := uint16(s); seq != 0xfff5 && seq != 0x0003 {
			p.rx.note(seq, 0xabc)
		}
	}
	sr = p.appendSR(nil, now)
	if len(sr) != srSize || sr[0] != 0x81 || binary.BigEndian.Uint16(sr[2:]) != 12 {
		t.Fatalf("SR header % x", sr[:4])
	}
	u32 := func(off int) uint32 { return binary.BigEndian.Uint32(sr[off:]) }
	if u32(4) != p.SSRC() || u32(16) != 123456 || u32(20) != 250 || u32(24) != 40000 {
		t.Errorf("sender info: ssrc %x ts %d packets %d octets %d", u32(4), u32(16), u32(20), u32(24))
	}
	if ntp := binary.BigEndian.Uint64(sr[8:]); ntp>>32 != uint64(now.Unix()+2208988800) || uint32(ntp) != 1<<31 {
		t.Errorf("NTP %x", ntp)
	}
	if u32(28) != 0xabc || u32(32)>>24 != 2*256/32 || u32(32)&0xffffff != 2 || u32(36) != 0x1000f {
		t.Errorf("report block: ssrc %x fraction %d lost %d ext %x", u32(28), u32(32)>>24, u32(32)&0xffffff, u32(36))
	}
	// Ten more, none lost: the fraction is about this interval only.
	for s := 0x10010; s < 0x1001a; s++ {
		p.rx.note(uint16(s), 0xabc)
	}
	sr = p.appendSR(sr[:0], now)
	if u32(32)>>24 != 0 || u32(32)&0xffffff != 2 || u32(36) != 0x10019 {
		t.Errorf("second report: fraction %d lost %d ext %x", u32(32)>>24, u32(32)&0xffffff, u32(36))
	}
}

// TestSenderReportsFromRoom: a participant with OutputRTCP gets its
// first report about a second after joining, describing the stream the
// room sent it and the one it sends.
func TestSenderReportsFromRoom(t *testing.T) {
	b, err := NewBridge(Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	var srs [][]byte
	var sent int
	a, err := b.Join("r", ParticipantConfig{ID: "a", Codec: Opus, PT: 111,
		Output: func([]byte) { mu.Lock(); sent++; mu.Unlock() },
		OutputRTCP: func(pkt []byte) {
			mu.Lock()
			srs = append(srs, append([]byte(nil), pkt...))
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join("r", ParticipantConfig{ID: "b", Codec: PCMU, Output: func([]byte) {}}); err != nil {
		t.Fatal(err)
	}
	k := newTalker(t, Opus, 111, 500, 8000)
	start := time.Now()
	for i := 0; time.Since(start) < 1500*time.Millisecond; i++ {
		a.Push(k.packet())
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(srs) != 1 {
		t.Fatalf("%d sender reports in 1.5 s, want 1", len(srs))
	}
	sr := srs[0]
	if len(sr) != srSize || sr[1] != 200 || binary.BigEndian.Uint32(sr[4:]) != a.SSRC() {
		t.Fatalf("SR % x", sr)
	}
	if n := binary.BigEndian.Uint32(sr[20:]); n < 40 || int(n) > sent {
		t.Errorf("SR counts %d packets; %d sent by 1.5 s", n, sent)
	}
	if binary.BigEndian.Uint32(sr[28:]) != k.ssrc || binary.BigEndian.Uint32(sr[32:])&0xffffff != 0 {
		t.Errorf("report block about %x, lost %d", binary.BigEndian.Uint32(sr[28:]), binary.BigEndian.Uint32(sr[32:])&0xffffff)
	}
}
