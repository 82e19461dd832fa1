package capture

import (
	"net/netip"
	"testing"
)

func TestWantsMatchesWhatPacketKeeps(t *testing.T) {
	for _, ringOff := range []bool{true, false} {
		c, err := New(Config{Dir: t.TempDir(), RingOff: ringOff})
		if err != nil {
			t.Fatal(err)
		}
		tap := c.Tap()
		sip := &Record{Kind: SIP, Remote: netip.MustParseAddrPort("192.0.2.1:5060"), CallKey: "k"}
		rtp := &Record{Kind: RTP, Remote: netip.MustParseAddrPort("192.0.2.1:4000"), CallKey: "k"}
		if got := tap.Wants(sip); got == ringOff {
			t.Errorf("ring off %v: Wants(SIP) = %v", ringOff, got)
		}
		if tap.Wants(rtp) {
			t.Errorf("ring off %v: RTP of an uncaptured call wanted", ringOff)
		}
		_ = c.Close()
		if tap.Wants(sip) {
			t.Error("a closed capture wants records")
		}
	}
}
