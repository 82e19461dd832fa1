package radius

import (
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/cdr"

	"github.com/openborder/openborder/test/testenv"
)

func TestFreeRADIUSInterop(t *testing.T) {
	fr := testenv.StartFreeRADIUS(t, "interop-secret")
	cfg := cdr.RADIUSConfig{
		Servers:  []cdr.RADIUSServer{{Address: fr.Addr, Secret: fr.Secret}},
		Timeout:  time.Second,
		SpoolDir: t.TempDir(), NASIdentifier: "sbcd-interop",
	}
	c := newClient(t, cfg)
	rec := testRecord("interop")
	c.Start(rec)
	c.Stop(rec)
	waitFor(t, "accounting responses", 10*time.Second, func() bool { return c.Stats().Sent == 2 })
	if st := c.Stats(); st.Retried != 0 || st.Spooled != 0 {
		t.Fatalf("stats %+v", st)
	}
	blocks := fr.DetailBlocks()
	if len(blocks) != 2 {
		t.Fatalf("%d detail blocks:\n%s", len(blocks), strings.Join(blocks, "\n\n"))
	}
	for i, want := range [][]string{
		{"Acct-Status-Type = Start", `Acct-Session-Id = "interop-1"`, `User-Name = "alice"`, `Called-Station-Id = "+49301234567"`, `NAS-Identifier = "sbcd-interop"`},
		{"Acct-Status-Type = Stop", `Acct-Session-Id = "interop-1"`, "Acct-Session-Time = 45", "Acct-Terminate-Cause = User-Request", "Acct-Delay-Time = "},
	} {
		for _, w := range want {
			if !strings.Contains(blocks[i], w) {
				t.Errorf("detail block %d lacks %q:\n%s", i, w, blocks[i])
			}
		}
	}
}
