package turn

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	pturn "github.com/pion/turn/v5"
)

const testSecret = "0123456789abcdef-secret"

// startServer runs a TURN server on an ephemeral loopback UDP port.
func startServer(t *testing.T, mod func(*Config)) (*Server, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		PacketConns: []net.PacketConn{pc}, Realm: "test", RelayIP: netip.MustParseAddr("127.0.0.1"),
		RelayPortMin: 46000, RelayPortMax: 46999, Users: map[string]string{"alice": "wonderland"},
		Secret: testSecret, UserQuota: 2, MaxAllocations: 100, Logger: slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, pc.LocalAddr().String()
}

// client is a pion TURN client on its own loopback socket.
func client(t *testing.T, server, user, pass string) *pturn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	c, err := pturn.NewClient(&pturn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server, Conn: conn,
		Username: user, Password: pass, Realm: "test", LoggerFactory: lf, RTO: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

// code returns the STUN error code of a TURN error (0 if none).
func code(err error) int {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return int(te.ErrorCodeAttr.Code)
	}
	return 0
}

func TestAuthentication(t *testing.T) {
	now := time.Now()
	okUser, okPass, _ := RESTCredentials(testSecret, "bob", time.Hour, now)
	oldUser, oldPass, _ := RESTCredentials(testSecret, "bob", time.Minute, now.Add(-time.Hour))
	_, otherPass, _ := RESTCredentials("another-secret-0123", "bob", time.Hour, now)
	tests := []struct {
		name, user, pass string
		want             int // STUN error code, 0 = allocated
		expired          bool
	}{
		{"static user", "alice", "wonderland", 0, false},
		{"static wrong password", "alice", "looking-glass", int(stun.CodeUnauthorized), false},
		{"unknown user", "mallory", "x", int(stun.CodeUnauthorized), false},
		{"rest credentials", okUser, okPass, 0, false},
		{"rest expired", oldUser, oldPass, int(stun.CodeUnauthorized), true},
		{"rest other secret", okUser, otherPass, int(stun.CodeUnauthorized), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr := startServer(t, nil)
			c := client(t, addr, tt.user, tt.pass)
			relay, err := c.Allocate()
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("allocate: %v", err)
				}
				relay.Close()
				return
			}
			if got := code(err); got != tt.want {
				t.Fatalf("allocate error %v (code %d), want code %d", err, got, tt.want)
			}
			st := s.Stats()
			if st.AllocationsTotal != 0 {
				t.Errorf("%d allocations made with bad credentials", st.AllocationsTotal)
			}
			if tt.expired && st.Expired == 0 {
				t.Errorf("expired credentials not counted: %+v", st)
			}
			if !tt.expired && st.AuthRefused == 0 {
				t.Errorf("refusal not counted: %+v", st)
			}
		})
	}
}

func TestUserQuota(t *testing.T) {
	s, addr := startServer(t, nil)
	for i := range 2 {
		relay, err := client(t, addr, "alice", "wonderland").Allocate()
		if err != nil {
			t.Fatalf("allocation %d: %v", i+1, err)
		}
		defer relay.Close()
	}
	_, err := client(t, addr, "alice", "wonderland").Allocate()
	if code(err) != int(stun.CodeAllocQuotaReached) {
		t.Fatalf("third allocation: %v, want 486", err)
	}
	if st := s.Stats(); st.QuotaRefused != 1 || st.Allocations != 2 {
		t.Errorf("stats %+v, want 1 quota refusal and 2 allocations", st)
	}
	// Another user has a quota of its own.
	u, p, _ := RESTCredentials(testSecret, "carol", time.Hour, time.Now())
	relay, err := client(t, addr, u, p).Allocate()
	if err != nil {
		t.Fatalf("other user: %v", err)
	}
	relay.Close()
}

// peer is a UDP socket that records whether anything reached it.
func peer(t *testing.T, ip string) (*net.UDPConn, chan []byte) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 16)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				close(got)
				return
			}
			got <- append([]byte(nil), buf[:n]...)
		}
	}()
	t.Cleanup(func() { c.Close() })
	return c, got
}

func TestPeerPolicy(t *testing.T) {
	t.Run("loopback refused by default", func(t *testing.T) {
		s, addr := startServer(t, nil)
		relay, err := client(t, addr, "alice", "wonderland").Allocate()
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		p, got := peer(t, "127.0.0.1")
		_, err = relay.WriteTo([]byte("hello"), p.LocalAddr())
		if code(err) != int(stun.CodeForbidden) {
			t.Fatalf("write to a loopback peer: %v, want 403", err)
		}
		select {
		case b := <-got:
			t.Fatalf("peer received %q", b)
		case <-time.After(200 * time.Millisecond):
		}
		if st := s.Stats(); st.PeerRefused == 0 || st.BytesToPeers != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("loopback allowed by policy", func(t *testing.T) {
		s, addr := startServer(t, func(c *Config) { c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
		relay, err := client(t, addr, "alice", "wonderland").Allocate()
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		p, got := peer(t, "127.0.0.1")
		if _, err := relay.WriteTo([]byte("hello"), p.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-got:
			if string(b) != "hello" {
				t.Fatalf("peer got %q", b)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("nothing relayed")
		}
		// And back: the peer answers to the relayed address.
		if _, err := p.WriteTo([]byte("world"), relay.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		_ = relay.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 100)
		n, _, err := relay.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "world" {
			t.Fatalf("read back %q, %v", buf[:n], err)
		}
		if st := s.Stats(); st.BytesToPeers != 5 || st.BytesFromPeers != 5 {
			t.Errorf("stats %+v, want 5 bytes each way", st)
		}
	})
	t.Run("own sockets never", func(t *testing.T) {
		own, got := peer(t, "127.0.0.1")
		s, addr := startServer(t, func(c *Config) {
			c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			c.OwnAddrs = []netip.AddrPort{own.LocalAddr().(*net.UDPAddr).AddrPort()}
		})
		relay, err := client(t, addr, "alice", "wonderland").Allocate()
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		for range 3 {
			_, _ = relay.WriteTo([]byte("sneak"), own.LocalAddr())
		}
		select {
		case b := <-got:
			t.Fatalf("sbcd's own socket received %q", b)
		case <-time.After(300 * time.Millisecond):
		}
		if st := s.Stats(); st.OwnRefused == 0 || st.BytesToPeers != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestPeerAllowed(t *testing.T) {
	lo := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		ip    string
		allow []netip.Prefix
		want  bool
	}{
		{"8.8.8.8", nil, true},
		{"2001:db8::1", nil, true},
		{"127.0.0.1", nil, false},
		{"127.0.0.1", lo, true},
		{"::1", lo, false},
		{"10.1.2.3", nil, false},
		{"172.16.0.1", nil, false},
		{"192.168.1.1", nil, false},
		{"100.64.0.1", nil, false},
		{"169.254.1.1", nil, false},
		{"fe80::1", nil, false},
		{"fd00::1", nil, false},
		{"224.0.0.1", nil, false},
		{"239.1.1.1", nil, false},
		{"ff02::1", nil, false},
		{"255.255.255.255", nil, false},
		{"0.0.0.0", []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, false},
		{"::", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			if got := PeerAllowed(netip.MustParseAddr(tt.ip), tt.allow); got != tt.want {
				t.Errorf("PeerAllowed(%s) = %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
}

func TestRESTCredentials(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	u, p, exp := RESTCredentials("secret-secret-secret", "alice", time.Hour, now)
	if u != "1800003600:alice" || !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("username %q expires %v", u, exp)
	}
	// base64(HMAC-SHA1("secret-secret-secret", "1800003600:alice")), from `openssl dgst -sha1 -hmac`.
	if p != "B4d+rmiaNSyuzY7Z3XZ/joWt8Oo=" {
		t.Fatalf("password %q", p)
	}
	e, user, ok := parseREST(u)
	if !ok || user != "alice" || !e.Equal(exp) {
		t.Fatalf("parse %v %q %v", e, user, ok)
	}
	for _, bad := range []string{"", "alice", "x:alice", "-5:alice"} {
		if _, _, ok := parseREST(bad); ok {
			t.Errorf("parseREST(%q) accepted", bad)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	good := Config{PacketConns: []net.PacketConn{pc}, Realm: "r", RelayIP: netip.MustParseAddr("127.0.0.1"),
		RelayPortMin: 1000, RelayPortMax: 2000, Secret: testSecret}
	for name, mod := range map[string]func(*Config){
		"no listener": func(c *Config) { c.PacketConns = nil },
		"no realm":    func(c *Config) { c.Realm = "" },
		"no relay ip": func(c *Config) { c.RelayIP = netip.Addr{} },
		"bad range":   func(c *Config) { c.RelayPortMin = 3000 },
		"no auth":     func(c *Config) { c.Secret = "" },
	} {
		c := good
		mod(&c)
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestStreamListeners allocates over TCP and over TLS (the client's
// allocation is still a UDP relay, RFC 8656 section 3.1).
func TestStreamListeners(t *testing.T) {
	cert, err := tls.LoadX509KeyPair("../../configs/tls/cert.pem", "../../configs/tls/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "tls"}[useTLS]
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if useTLS {
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
			}
			s, err := New(Config{Listeners: []net.Listener{ln}, Realm: "test", RelayIP: netip.MustParseAddr("127.0.0.1"),
				RelayPortMin: 46000, RelayPortMax: 46999, Users: map[string]string{"alice": "wonderland"},
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var c net.Conn
			if useTLS {
				c, err = tls.Dial("tcp4", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test pair
			} else {
				c, err = net.Dial("tcp4", ln.Addr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			lf := logging.NewDefaultLoggerFactory()
			lf.DefaultLogLevel = logging.LogLevelDisabled
			cl, err := pturn.NewClient(&pturn.ClientConfig{STUNServerAddr: ln.Addr().String(), TURNServerAddr: ln.Addr().String(),
				Conn: pturn.NewSTUNConn(c), Username: "alice", Password: "wonderland", Realm: "test", LoggerFactory: lf})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.Listen(); err != nil {
				t.Fatal(err)
			}
			relay, err := cl.Allocate()
			if err != nil {
				t.Fatalf("allocate over %s: %v", name, err)
			}
			defer relay.Close()
			if port := relay.LocalAddr().(*net.UDPAddr).Port; port < 46000 || port > 46999 {
				t.Errorf("relay port %d outside the range", port)
			}
			if st := s.Stats(); st.Allocations != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func BenchmarkPeerAllowed(b *testing.B) {
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	ips := []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("127.0.0.1")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		PeerAllowed(ips[i%len(ips)], allow)
	}
}
