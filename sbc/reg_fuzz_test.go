package sbc

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FuzzParseRegister feeds REGISTERs from the wire to the forwarding
// decision: it must never panic, only refuse with 400 or 423, and never
// grant more than the cap.
func FuzzParseRegister(f *testing.F) {
	base := "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1\r\n" +
		"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"
	for _, extra := range []string{
		"Contact: <sip:alice@10.0.0.9>\r\nExpires: 3600\r\n",
		"Contact: *\r\nExpires: 0\r\n",
		"Contact: <sip:alice@10.0.0.9>;expires=0, <sip:alice@[fd00::1]:5062;transport=tcp>;expires=90\r\n",
		"Contact: <sip:alice@10.0.0.9>;expires=-5\r\n",
		"Contact: <sip:alice@10.0.0.9>\r\nExpires: 99999999999999999999\r\n",
	} {
		f.Add([]byte(base+extra+"Content-Length: 0\r\n\r\n"), 60)
	}
	f.Fuzz(func(t *testing.T, raw []byte, capSec int) {
		m, err := sip.ParseMessage(raw)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok || req.CallID() == nil {
			return
		}
		capSec = capSec % 100000
		if capSec < 0 {
			capSec = -capSec
		}
		req.SetSource("198.51.100.4:31000")
		ch, code := parseRegister(req, capSec)
		if code != 0 && code != 400 && code != 423 {
			t.Fatalf("code %d", code)
		}
		if code != 0 {
			return
		}
		limit := time.Duration(maxExpires) * time.Second
		if capSec > 0 {
			limit = min(limit, time.Duration(capSec)*time.Second)
		}
		for _, b := range ch.add {
			if time.Until(b.expires) > limit+time.Second {
				t.Fatalf("granted %v over the cap %v", time.Until(b.expires), limit)
			}
		}
		_ = len(ch.after(nil))
		_ = ch.refreshOnly(ch.add)
	})
}

// BenchmarkRegisterCacheDecision is the cost of deciding a refresh is
// answered from the cache (parse Contacts and expiry, compare bindings).
func BenchmarkRegisterCacheDecision(b *testing.B) {
	raw := "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1;rport\r\n" +
		"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: cid-1\r\nCSeq: 7 REGISTER\r\n" +
		"Contact: <sip:alice@192.168.1.20:5062>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		b.Fatal(err)
	}
	req := m.(*sip.Request)
	req.SetSource("198.51.100.4:31000")
	var u sip.Uri
	_ = sip.ParseUri("sip:alice@192.168.1.20:5062", &u)
	cur := []binding{{contact: u, source: "198.51.100.4:31000", transport: req.Transport(), callID: "cid-1"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		ch, code := parseRegister(req, 60)
		if code != 0 || !ch.refreshOnly(cur) {
			b.Fatal("not cacheable")
		}
	}
}

// BenchmarkBindingSnapshot writes the snapshot of 10,000 bindings.
func BenchmarkBindingSnapshot(b *testing.B) {
	st, err := newBindingStore(b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	reg := newRegistrar()
	exp := time.Now().Add(time.Hour)
	for i := range 10000 {
		var u sip.Uri
		user := "user" + strings.Repeat("0", 5-len(itoa(uint32(i)))) + itoa(uint32(i))
		_ = sip.ParseUri("sip:"+user+"@192.168.1.20:5062", &u)
		reg.update("access", user, []binding{{contact: u, source: "198.51.100.4:31000", transport: "UDP", callID: "c" + user, expires: exp}}, nil, false)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := st.save(reg.snapshot()); err != nil {
			b.Fatal(err)
		}
	}
}
