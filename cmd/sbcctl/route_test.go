package main

import (
	"testing"
	"time"
)

func TestExplainRequest(t *testing.T) {
	r, err := explainRequest("access", "sip:0044@sbc", []string{"from=alice", "source=127.0.0.1:5060",
		"time=2026-11-24T09:30:00+01:00", "header=X-Tenant: acme", "header=X-Tenant:other"})
	if err != nil {
		t.Fatal(err)
	}
	if r.SourceRealm != "access" || r.RURI != "sip:0044@sbc" || r.FromUser != "alice" || r.SourceAddress != "127.0.0.1:5060" ||
		!r.Time.Equal(time.Date(2026, 11, 24, 8, 30, 0, 0, time.UTC)) || len(r.Headers["X-Tenant"]) != 2 || r.Headers["X-Tenant"][0] != "acme" {
		t.Errorf("request %+v", r)
	}
	if r, _ := explainRequest("core", "0049301", nil); r.RURI != "" || r.RURIUser != "0049301" {
		t.Errorf("a bare number is the R-URI user: %+v", r)
	}
	for _, bad := range [][]string{{"nokey"}, {"time=tomorrow"}, {"header=novalue"}, {"color=red"}} {
		if _, err := explainRequest("access", "1", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
