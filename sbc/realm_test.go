package sbc

import (
	"context"
	"net"
	"syscall"
	"testing"
)

func TestSignallingSocketsCarryDSCP(t *testing.T) {
	for _, dscp := range []int{24, 46} {
		lc := net.ListenConfig{Control: dscpControl(dscp)}
		pc, err := lc.ListenPacket(context.Background(), "udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := pc.(*net.UDPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var tos int
		var serr error
		_ = raw.Control(func(fd uintptr) { tos, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TOS) })
		pc.Close()
		if serr != nil {
			t.Fatal(serr)
		}
		if tos != dscp<<2 {
			t.Errorf("DSCP %d: IP_TOS = %#x, want %#x", dscp, tos, dscp<<2)
		}
	}
}

func TestParseSessionExpires(t *testing.T) {
	cases := []struct {
		in        string
		secs      int
		refresher string
	}{
		{"1800;refresher=uac", 1800, "uac"},
		{"90 ; Refresher = UAS", 90, "uas"},
		{"600", 600, ""},
		{"", 0, ""},
		{"abc;refresher=uac", 0, ""},
		{"-5", 0, ""},
	}
	for _, tc := range cases {
		d, r := parseSessionExpires(tc.in)
		if int(d.Seconds()) != tc.secs || r != tc.refresher {
			t.Errorf("%q: got %v %q, want %ds %q", tc.in, d, r, tc.secs, tc.refresher)
		}
	}
}
