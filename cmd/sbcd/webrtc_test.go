package main

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/openborder/openborder/policy"
)

func TestPhoneConfigAndOwnAddrs(t *testing.T) {
	pol, err := policy.Load("../../configs/webrtc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pc := phoneConfig(pol)
	if pc.WebSocketURL != "ws://127.0.0.1:8088" || pc.Domain != "127.0.0.1" || pc.TURNCredentials != "/api/v1/turn/credentials" {
		t.Errorf("phone config %+v", pc)
	}
	own := ownAddrs(pol)
	for _, want := range []string{"127.0.0.1:8088", "127.0.0.1:8089", "127.0.0.1:5080", "127.0.0.1:3478", "127.0.0.1:5349", "127.0.0.1:8080"} {
		if !slices.Contains(own, netip.MustParseAddrPort(want)) {
			t.Errorf("own addresses %v lack %s", own, want)
		}
	}
	// A policy without WebSocket listeners gives the page nothing to connect to.
	def, err := policy.Load("../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if pc := phoneConfig(def); pc.WebSocketURL != "" {
		t.Errorf("example config: %+v", pc)
	}
}
