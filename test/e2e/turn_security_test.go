package e2e

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	pturn "github.com/pion/turn/v5"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine/turn"
)

const turnSecret = "e2e-turn-shared-secret-0123456789"

// turnEnv is sbcd with its TURN server on 127.<net>.0.1:3478 (UDP and
// TCP) and the admin API on :8080.
type turnEnv struct {
	*env
	turnAddr, admin string
	https           bool // the admin listener has a (self-signed) certificate
}

func newTURNEnv(t *testing.T, net int, mutate func(*policy.TURNConfig)) *turnEnv {
	t.Helper()
	te := &turnEnv{turnAddr: fmt.Sprintf("127.%d.0.1:3478", net), admin: fmt.Sprintf("127.%d.0.1:8080", net)}
	te.env = newEnv(t, net, func(c *policy.Config) {
		c.Admin = policy.AdminConfig{Address: te.admin, Tokens: []policy.AdminToken{
			{Name: "phone", Role: "read_only", SHA256: tokenHash("ro-token")}}}
		c.TURN = policy.TURNConfig{
			Listeners: []policy.TURNListenerConfig{{Transport: "udp", Address: te.turnAddr}, {Transport: "tcp", Address: te.turnAddr}},
			Users:     []policy.TURNUserConfig{{Name: "alice", Password: "wonderland"}},
			Secret:    turnSecret, UserQuota: 1, RelayPortMin: 40000, RelayPortMax: 40999,
		}
		if mutate != nil {
			mutate(&c.TURN)
		}
	})
	return te
}

// allocate runs a pion TURN client from 127.<net>.1.<host> and returns its
// relay (nil with the error if the allocation failed).
func (te *turnEnv) allocate(t *testing.T, host int, user, pass string) (net.PacketConn, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", te.topo.ip(1, host)+":0")
	if err != nil {
		t.Fatal(err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	c, err := pturn.NewClient(&pturn.ClientConfig{STUNServerAddr: te.turnAddr, TURNServerAddr: te.turnAddr,
		Conn: conn, Username: user, Password: pass, Realm: policy.DefaultTURNRealm, LoggerFactory: lf,
		RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c.Allocate()
}

// credentials asks the admin API for TURN REST credentials.
func (te *turnEnv) credentials(t *testing.T, token, user string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+te.admin+"/api/v1/turn/credentials?user="+user, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// metric returns the sum of a metric's samples whose labels contain label.
func (te *turnEnv) metric(t *testing.T, name, label string) float64 {
	t.Helper()
	url, client := "http://"+te.admin+"/metrics", http.DefaultClient
	if te.https {
		url = "https://" + te.admin + "/metrics"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if label != "" && !strings.Contains(line, label) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

func stunCode(err error) int {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return int(te.ErrorCodeAttr.Code)
	}
	return 0
}

// TestTURNSecurity runs sbcd's TURN server against a Go TURN client:
// every refusal carries its STUN error code, nothing is relayed, and the
// metrics count it.
func TestTURNSecurity(t *testing.T) {
	te := newTURNEnv(t, 47, nil)

	// Credentials from the admin API work; without a token there are none.
	if code, _ := te.credentials(t, "wrong", "bob"); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("credentials with a bad token: HTTP %d", code)
	}
	code, cr := te.credentials(t, "ro-token", "bob")
	if code != http.StatusOK {
		t.Fatalf("credentials: HTTP %d %v", code, cr)
	}
	user, _ := cr["username"].(string)
	pass, _ := cr["password"].(string)
	if !strings.HasSuffix(user, ":bob") || pass == "" {
		t.Fatalf("credentials %v", cr)
	}
	relay, err := te.allocate(t, 10, user, pass)
	if err != nil {
		t.Fatalf("allocate with REST credentials: %v", err)
	}

	t.Run("wrong password", func(t *testing.T) {
		if _, err := te.allocate(t, 11, "alice", "looking-glass"); stunCode(err) != int(stun.CodeUnauthorized) {
			t.Errorf("got %v, want 401", err)
		}
	})
	t.Run("expired REST credentials", func(t *testing.T) {
		u, p, _ := turn.RESTCredentials(turnSecret, "bob", time.Minute, time.Now().Add(-time.Hour))
		if _, err := te.allocate(t, 12, u, p); stunCode(err) != int(stun.CodeUnauthorized) {
			t.Errorf("got %v, want 401", err)
		}
	})
	t.Run("forged REST credentials", func(t *testing.T) {
		u, p, _ := turn.RESTCredentials("not-the-secret-0123456789", "bob", time.Hour, time.Now())
		if _, err := te.allocate(t, 13, u, p); stunCode(err) != int(stun.CodeUnauthorized) {
			t.Errorf("got %v, want 401", err)
		}
	})
	t.Run("quota exceeded", func(t *testing.T) {
		// bob holds one allocation already; the quota is 1.
		if _, err := te.allocate(t, 14, user, pass); stunCode(err) != int(stun.CodeAllocQuotaReached) {
			t.Errorf("got %v, want 486", err)
		}
	})
	t.Run("refused peers", func(t *testing.T) {
		peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(te.topo.GatewayIP(0))})
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		// Loopback (the default policy refuses it), private, link-local
		// and multicast peers, and sbcd's own SIP socket.
		for _, dst := range []string{peer.LocalAddr().String(), "10.1.2.3:5000", "169.254.1.1:5000", "224.0.0.9:5000", te.topo.AccessSIP()} {
			if _, err := relay.WriteTo([]byte("probe"), mustUDP(t, dst)); stunCode(err) != int(stun.CodeForbidden) {
				t.Errorf("relay to %s: %v, want 403", dst, err)
			}
		}
		_ = peer.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, _, err := peer.ReadFrom(make([]byte, 100)); err == nil {
			t.Errorf("the refused peer received %d bytes", n)
		}
	})

	if n := te.metric(t, "openborder_turn_refusals_total", `reason="auth"`); n < 2 {
		t.Errorf("auth refusals = %v, want >= 2", n)
	}
	for _, reason := range []string{"expired", "quota", "peer"} {
		if n := te.metric(t, "openborder_turn_refusals_total", `reason="`+reason+`"`); n < 1 {
			t.Errorf("%s refusals = %v, want >= 1", reason, n)
		}
	}
	if n := te.metric(t, "openborder_turn_relayed_bytes_total", ""); n != 0 {
		t.Errorf("%v bytes relayed, want 0", n)
	}
	if n := te.metric(t, "openborder_turn_allocations", ""); n != 1 {
		t.Errorf("live allocations = %v, want 1", n)
	}
}

// TestTURNRelaysWhenAllowed shows the other side of the policy: with
// loopback peers allowed, data is relayed both ways and counted.
func TestTURNRelaysWhenAllowed(t *testing.T) {
	te := newTURNEnv(t, 48, func(tc *policy.TURNConfig) { tc.AllowPeers = []string{"127.48.0.0/16"} })
	relay, err := te.allocate(t, 10, "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(te.topo.GatewayIP(0))})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := relay.WriteTo([]byte("ping"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("peer got %q, %v", buf[:n], err)
	}
	if ap := from.(*net.UDPAddr); ap.Port < 40000 || ap.Port > 40999 {
		t.Errorf("relayed from port %d, outside relay_port_min/max", ap.Port)
	}
	// sbcd's own SIP socket stays out of reach even inside an allowed prefix.
	if _, err := relay.WriteTo([]byte("sneak"), mustUDP(t, te.topo.AccessSIP())); err != nil {
		t.Logf("write to sbcd's SIP socket: %v", err)
	}
	if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err = relay.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("client got %q, %v", buf[:n], err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := te.metric(t, "openborder_turn_relayed_bytes_total", ""); got != 8 {
		t.Errorf("relayed bytes = %v, want 8", got)
	}
	if got := te.metric(t, "openborder_turn_refusals_total", `reason="own_address"`); got < 1 {
		t.Errorf("own-address refusals = %v, want >= 1", got)
	}
}

func mustUDP(t *testing.T, s string) *net.UDPAddr {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp4", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
