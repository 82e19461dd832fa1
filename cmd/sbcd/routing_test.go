package main

import "testing"

func TestSplitURI(t *testing.T) {
	tests := []struct {
		in, user, host string
		ok             bool
	}{
		{"sip:0044@sbc.example.net", "0044", "sbc.example.net", true},
		{"sips:alice@127.0.0.1:5061;transport=tls", "alice", "127.0.0.1", true},
		{"sip:[::1]:5060", "", "::1", true},
		{"sip:bob@[2001:db8::1]?subject=x", "bob", "2001:db8::1", true},
		{"tel:+4930", "", "", false},
		{"sip:bob@", "", "", false},
	}
	for _, tt := range tests {
		u, h, err := splitURI(tt.in)
		if (err == nil) != tt.ok || u != tt.user || h != tt.host {
			t.Errorf("splitURI(%q) = %q %q %v", tt.in, u, h, err)
		}
	}
}
