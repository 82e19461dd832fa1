package sbc

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func mustURI(t *testing.T, s string) sip.Uri {
	t.Helper()
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestBindingStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := newBindingStore(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistrar()
	now := time.Now()
	reg.update("access", "alice", []binding{{contact: mustURI(t, "sip:alice@192.168.1.20:5060"), source: "203.0.113.7:40312",
		transport: "UDP", callID: "c1", expires: now.Add(time.Hour)}}, nil, false)
	reg.update("access", "bob", []binding{{contact: mustURI(t, "sip:bob@[fd00::2]:5062;transport=tcp"), source: "[fd00::2]:40000",
		transport: "TCP", callID: "c2", expires: now.Add(time.Minute)}}, nil, false)
	if err := st.save(reg.snapshot()); err != nil {
		t.Fatal(err)
	}
	// An expired binding in the file is dropped on load.
	got, err := st.load(now.Add(2 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].User != "alice" || got[0].Source != "203.0.113.7:40312" || got[0].CallID != "c1" {
		t.Fatalf("loaded %+v, want alice only", got)
	}
	all, _ := st.load(now)
	back := newRegistrar()
	n, err := back.restore(all, func(r string) bool { return r == "access" })
	if err != nil || n != 2 {
		t.Fatalf("restore = %d, %v; want 2, nil", n, err)
	}
	bs := back.lookup("access", "bob")
	if len(bs) != 1 || strings.Trim(bs[0].contact.Host, "[]") != "fd00::2" || bs[0].contact.Port != 5062 || bs[0].transport != "TCP" {
		t.Fatalf("bob restored as %+v", bs)
	}
	// Unknown realms are skipped.
	if n, _ := newRegistrar().restore(all, func(string) bool { return false }); n != 0 {
		t.Fatalf("restored %d bindings of unknown realms", n)
	}
	// No temporary files are left behind.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("state dir holds %v", files)
	}
}

func TestBindingStoreBadFiles(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, content := range map[string]string{
		"garbage": "{not json",
		"version": `{"version": 7, "bindings": []}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st, _ := newBindingStore(dir, log)
			if err := os.WriteFile(st.path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := st.load(time.Now())
			if err == nil {
				t.Fatal("load accepted a bad file")
			}
			if name == "version" && !errors.Is(err, ErrStateVersion) {
				t.Fatalf("err = %v, want ErrStateVersion", err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		st, _ := newBindingStore(t.TempDir(), log)
		bs, err := st.load(time.Now())
		if err != nil || len(bs) != 0 {
			t.Fatalf("load of a missing file = %v, %v", bs, err)
		}
	})
}

func TestBindingStoreRunSavesAfterChange(t *testing.T) {
	st, _ := newBindingStore(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	reg := newRegistrar()
	reg.changed = st.changed
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() { st.run(done, reg.snapshot); close(finished) }()
	reg.update("access", "carol", []binding{{contact: mustURI(t, "sip:carol@10.0.0.3"), source: "10.0.0.3:5060",
		transport: "UDP", expires: time.Now().Add(time.Hour)}}, nil, false)
	deadline := time.Now().Add(3 * time.Second)
	for {
		bs, _ := st.load(time.Now())
		if len(bs) == 1 && bs[0].User == "carol" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("snapshot not written after a change")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A change just before stop is still written.
	reg.update("access", "carol", nil, nil, true)
	close(done)
	<-finished
	if bs, _ := st.load(time.Now()); len(bs) != 0 {
		t.Fatalf("after un-register and stop the file holds %+v", bs)
	}
}

func registerReq(t *testing.T, expires string, contacts ...string) *sip.Request {
	t.Helper()
	raw := "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1\r\n" +
		"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: cid-1\r\nCSeq: 1 REGISTER\r\n"
	for _, c := range contacts {
		raw += "Contact: " + c + "\r\n"
	}
	if expires != "" {
		raw += "Expires: " + expires + "\r\n"
	}
	raw += "Content-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*sip.Request)
	req.SetSource("198.51.100.4:31000")
	return req
}

func TestParseRegister(t *testing.T) {
	for _, tc := range []struct {
		name     string
		expires  string
		contacts []string
		capSec   int
		code     int
		add, rm  int
		all      bool
		life     int
	}{
		{name: "default expiry capped", contacts: []string{"<sip:alice@10.0.0.9>"}, capSec: 60, add: 1, life: 60},
		{name: "contact expires wins", contacts: []string{"<sip:alice@10.0.0.9>;expires=90"}, add: 1, life: 90},
		{name: "remove one", contacts: []string{"<sip:alice@10.0.0.9>;expires=0"}, rm: 1},
		{name: "wildcard", expires: "0", contacts: []string{"*"}, all: true},
		{name: "wildcard needs expires 0", expires: "60", contacts: []string{"*"}, code: 400},
		{name: "too brief", expires: "5", contacts: []string{"<sip:alice@10.0.0.9>"}, code: 423},
		{name: "brief but above a short cap", expires: "20", contacts: []string{"<sip:alice@10.0.0.9>"}, capSec: 15, add: 1, life: 15},
		{name: "bad expires", expires: "soon", contacts: []string{"<sip:alice@10.0.0.9>"}, code: 400},
		{name: "query", expires: "60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, code := parseRegister(registerReq(t, tc.expires, tc.contacts...), tc.capSec)
			if code != tc.code {
				t.Fatalf("code = %d, want %d", code, tc.code)
			}
			if code != 0 {
				return
			}
			if len(ch.add) != tc.add || len(ch.remove) != tc.rm || ch.removeAll != tc.all {
				t.Fatalf("change = %+v", ch)
			}
			if tc.add > 0 {
				got := int(time.Until(ch.add[0].expires).Seconds() + 0.5)
				if got != tc.life {
					t.Fatalf("lifetime %d s, want %d", got, tc.life)
				}
				if ch.add[0].source != "198.51.100.4:31000" || ch.add[0].callID != "cid-1" {
					t.Fatalf("binding keeps source %q call-id %q", ch.add[0].source, ch.add[0].callID)
				}
			}
		})
	}
}

func TestRegisterChangeCacheRules(t *testing.T) {
	cur := []binding{{contact: mustURI(t, "sip:alice@10.0.0.9"), source: "198.51.100.4:31000", transport: "UDP", callID: "cid-1"}}
	refresh, _ := parseRegister(registerReq(t, "60", "<sip:alice@10.0.0.9>"), 60)
	if !refresh.refreshOnly(cur) {
		t.Error("a refresh from the same source and Call-ID is not cacheable")
	}
	moved := registerReq(t, "60", "<sip:alice@10.0.0.9>")
	moved.SetSource("198.51.100.5:31000")
	ch, _ := parseRegister(moved, 60)
	if ch.refreshOnly(cur) {
		t.Error("a REGISTER from another source was answered from the cache")
	}
	other, _ := parseRegister(registerReq(t, "60", "<sip:alice@10.0.0.10>"), 60)
	if other.refreshOnly(cur) || len(other.after(cur)) != 2 {
		t.Errorf("a second contact: refreshOnly %v left %d", other.refreshOnly(cur), len(other.after(cur)))
	}
	gone, _ := parseRegister(registerReq(t, "", "<sip:alice@10.0.0.9>;expires=0"), 60)
	if gone.refreshOnly(cur) || len(gone.after(cur)) != 0 {
		t.Errorf("un-REGISTER: refreshOnly %v left %d", gone.refreshOnly(cur), len(gone.after(cur)))
	}
	all, _ := parseRegister(registerReq(t, "0", "*"), 60)
	if len(all.after(cur)) != 0 {
		t.Errorf("wildcard leaves %d", len(all.after(cur)))
	}
}

func TestUpstreamFreshness(t *testing.T) {
	now := time.Now()
	var none *upstreamReg
	for _, tc := range []struct {
		name string
		u    *upstreamReg
		want bool
	}{
		{"none", none, false},
		{"first REGISTER on its way", &upstreamReg{}, false},
		{"just registered", &upstreamReg{granted: 600 * time.Second, expires: now.Add(599 * time.Second)}, true},
		{"past half", &upstreamReg{granted: 600 * time.Second, expires: now.Add(299 * time.Second)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.u.fresh(now); got != tc.want {
				t.Fatalf("fresh = %v, want %v", got, tc.want)
			}
		})
	}
	f := newForwarder()
	c1, s1 := f.next("access\x00alice", "reg")
	c2, s2 := f.next("access\x00alice", "reg")
	if c1 != c2 || s2 != s1+1 {
		t.Fatalf("upstream Call-ID/CSeq: %s/%d then %s/%d", c1, s1, c2, s2)
	}
	f.granted("access\x00alice", 600*time.Second, now)
	if o := f.orphans(now, func(string, string) bool { return true }); len(o) != 0 {
		t.Fatalf("orphans with a live binding: %v", o)
	}
	if o := f.orphans(now, func(string, string) bool { return false }); len(o) != 1 || o[0] != "access\x00alice" {
		t.Fatalf("orphans = %v", o)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 7: 5 * time.Minute, 40: 5 * time.Minute} {
		if got := backoff(5*time.Second, 5*time.Minute, n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}
