package turn

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pturn "github.com/pion/turn/v5"
)

// Config configures a Server. The daemon opens the listening sockets.
type Config struct {
	// PacketConns are UDP listeners; Listeners TCP or TLS listeners (TLS
	// already wrapped). At least one of either.
	PacketConns []net.PacketConn
	Listeners   []net.Listener
	// Realm is the long-term credential realm. Required.
	Realm string
	// RelayIP is the address relayed transport addresses are allocated on.
	RelayIP netip.Addr
	// RelayPortMin and RelayPortMax bound relay ports (inclusive).
	RelayPortMin, RelayPortMax int
	// Users are static long-term credentials (name -> password).
	Users map[string]string
	// Secret checks TURN REST API credentials; empty disables them.
	Secret string
	// UserQuota bounds one user's simultaneous allocations; MaxAllocations
	// all of them. 0 = unlimited.
	UserQuota, MaxAllocations int
	// AllowPeers are prefixes allowed even though they are in a refused
	// range (loopback, private, link-local, multicast, unspecified).
	AllowPeers []netip.Prefix
	// OwnAddrs are sbcd's own signalling, admin and TURN sockets: nothing
	// is ever relayed to them, whatever AllowPeers says.
	OwnAddrs []netip.AddrPort
	// Logger receives the server's (never per-packet) logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Allocations is the number of live allocations.
	Allocations int64 `json:"allocations"`
	// AllocationsTotal counts allocations ever created.
	AllocationsTotal uint64 `json:"allocations_total"`
	// AuthRefused counts requests refused for unknown users or wrong
	// passwords, Expired those with expired REST credentials.
	AuthRefused uint64 `json:"auth_refused"`
	Expired     uint64 `json:"expired"`
	// QuotaRefused counts allocations refused by a quota (486).
	QuotaRefused uint64 `json:"quota_refused"`
	// PeerRefused counts permissions refused by the peer policy (403);
	// OwnRefused counts packets dropped because they were addressed to
	// one of sbcd's own sockets.
	PeerRefused uint64 `json:"peer_refused"`
	OwnRefused  uint64 `json:"own_refused"`
	// BytesToPeers and BytesFromPeers count relayed payload.
	BytesToPeers   uint64 `json:"bytes_to_peers"`
	BytesFromPeers uint64 `json:"bytes_from_peers"`
}

// Server is a running TURN server.
type Server struct {
	cfg   Config
	log   *slog.Logger
	srv   *pturn.Server
	once  sync.Once
	users map[string][]byte // static user -> long-term key

	mu    sync.Mutex
	perID map[string]int // live allocations per user

	allocs                                atomic.Int64
	allocsTotal, authRefused, expired     atomic.Uint64
	quotaRefused, peerRefused, ownRefused atomic.Uint64
	bytesToPeers, bytesFromPeers          atomic.Uint64
}

// New starts a TURN server on the configured sockets.
func New(cfg Config) (*Server, error) {
	if len(cfg.PacketConns)+len(cfg.Listeners) == 0 {
		return nil, fmt.Errorf("%w: no listener", ErrConfig)
	}
	if cfg.Realm == "" || !cfg.RelayIP.IsValid() || cfg.RelayPortMin < 1 || cfg.RelayPortMax > 65535 || cfg.RelayPortMax < cfg.RelayPortMin {
		return nil, fmt.Errorf("%w: realm, relay IP and a relay port range are required", ErrConfig)
	}
	if len(cfg.Users) == 0 && cfg.Secret == "" {
		return nil, fmt.Errorf("%w: no users and no secret", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, users: map[string][]byte{}, perID: map[string]int{}}
	for name, pass := range cfg.Users {
		s.users[name] = pturn.GenerateAuthKey(name, cfg.Realm, pass)
	}
	gen := func() pturn.RelayAddressGenerator {
		return &relayGen{s: s, inner: &pturn.RelayAddressGeneratorPortRange{
			RelayAddress: net.IP(cfg.RelayIP.AsSlice()), Address: cfg.RelayIP.String(),
			MinPort: uint16(cfg.RelayPortMin), MaxPort: uint16(cfg.RelayPortMax),
		}}
	}
	sc := pturn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.auth,
		QuotaHandler:  s.quota,
		LoggerFactory: slogFactory{s.log},
		EventHandler: pturn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _, userID, _ string, _ net.Addr, _ int) {
				s.allocs.Add(1)
				s.allocsTotal.Add(1)
				s.mu.Lock()
				s.perID[userID]++
				s.mu.Unlock()
			},
			OnAllocationDeleted: func(_, _ net.Addr, _, userID, _ string) {
				s.allocs.Add(-1)
				s.mu.Lock()
				if s.perID[userID]--; s.perID[userID] <= 0 {
					delete(s.perID, userID)
				}
				s.mu.Unlock()
			},
			OnAuth: func(src, _ net.Addr, _, username, _, method string, verdict bool) {
				if !verdict {
					s.authRefused.Add(1)
					s.log.Debug("turn auth refused", "remote", src.String(), "username", username, "method", method)
				}
			},
		},
	}
	for _, pc := range cfg.PacketConns {
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, pturn.PacketConnConfig{
			PacketConn: pc, RelayAddressGenerator: gen(), PermissionHandler: s.permit})
	}
	for _, l := range cfg.Listeners {
		sc.ListenerConfigs = append(sc.ListenerConfigs, pturn.ListenerConfig{
			Listener: l, RelayAddressGenerator: gen(), PermissionHandler: s.permit})
	}
	srv, err := pturn.NewServer(sc)
	if err != nil {
		return nil, fmt.Errorf("turn: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Close stops the server and releases every allocation. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() { err = s.srv.Close() })
	return err
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Allocations: s.allocs.Load(), AllocationsTotal: s.allocsTotal.Load(),
		AuthRefused: s.authRefused.Load(), Expired: s.expired.Load(), QuotaRefused: s.quotaRefused.Load(),
		PeerRefused: s.peerRefused.Load(), OwnRefused: s.ownRefused.Load(),
		BytesToPeers: s.bytesToPeers.Load(), BytesFromPeers: s.bytesFromPeers.Load(),
	}
}

// auth finds the long-term key of a request's user: a static user, or a
// TURN REST username that has not expired.
func (s *Server) auth(ra *pturn.RequestAttributes) (string, []byte, bool) {
	if key, ok := s.users[ra.Username]; ok {
		return ra.Username, key, true
	}
	if s.cfg.Secret == "" {
		s.authRefused.Add(1)
		return "", nil, false
	}
	expiry, user, ok := parseREST(ra.Username)
	if !ok {
		s.authRefused.Add(1)
		return "", nil, false
	}
	if !s.cfg.Now().Before(expiry) {
		s.expired.Add(1)
		s.log.Debug("turn credentials expired", "username", ra.Username, "expired", expiry.UTC())
		return "", nil, false
	}
	if user == "" {
		user = ra.Username
	}
	key := pturn.GenerateAuthKey(ra.Username, s.cfg.Realm, restPassword(s.cfg.Secret, ra.Username))
	// Quotas count per user, whatever expiry the credential carries.
	return "rest:" + user, key, true
}

// quota admits an allocation while the user and the server are below
// their limits.
func (s *Server) quota(userID, _ string, src net.Addr) bool {
	s.mu.Lock()
	n := s.perID[userID]
	s.mu.Unlock()
	if (s.cfg.UserQuota > 0 && n >= s.cfg.UserQuota) ||
		(s.cfg.MaxAllocations > 0 && s.allocs.Load() >= int64(s.cfg.MaxAllocations)) {
		s.quotaRefused.Add(1)
		s.log.Info("turn allocation quota reached", "user", userID, "remote", src.String(), "allocations", n)
		return false
	}
	return true
}

// permit is the peer policy of CreatePermission and ChannelBind.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	ip, ok := netip.AddrFromSlice(peer)
	if !ok {
		s.peerRefused.Add(1)
		return false
	}
	if !PeerAllowed(ip.Unmap(), s.cfg.AllowPeers) {
		s.peerRefused.Add(1)
		s.log.Info("turn peer refused", "remote", client.String(), "peer", ip.String())
		return false
	}
	return true
}

// PeerAllowed reports whether media may be relayed to ip: never to the
// unspecified address; to loopback, private (RFC 1918, RFC 4193), shared
// (RFC 6598), link-local, multicast and broadcast addresses only when an
// allow prefix holds it; elsewhere always.
func PeerAllowed(ip netip.Addr, allow []netip.Prefix) bool {
	if !ip.IsValid() || ip.IsUnspecified() {
		return false
	}
	refused := ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || shared.Contains(ip) || ip == broadcast
	if !refused {
		return true
	}
	return slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(ip) })
}

var (
	shared    = netip.MustParsePrefix("100.64.0.0/10")
	broadcast = netip.MustParseAddr("255.255.255.255")
)

// own reports whether addr is one of sbcd's own sockets.
func (s *Server) own(addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := ua.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	for _, o := range s.cfg.OwnAddrs {
		if o == ap || (o.Addr().IsUnspecified() && o.Port() == ap.Port()) {
			return true
		}
	}
	return false
}

// relayGen allocates relay sockets from the port range and wraps them so
// bytes are counted and nothing goes to sbcd's own sockets.
type relayGen struct {
	s     *Server
	inner *pturn.RelayAddressGeneratorPortRange
}

func (g *relayGen) Validate() error { return g.inner.Validate() }

func (g *relayGen) AllocatePacketConn(c pturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := g.inner.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	return &relayConn{PacketConn: pc, s: g.s}, addr, nil
}

// AllocateListener refuses TCP relays (RFC 6062): media relays are UDP.
func (g *relayGen) AllocateListener(pturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, fmt.Errorf("turn: TCP relay allocations are not offered")
}

func (g *relayGen) AllocateConn(pturn.AllocateConnConfig) (net.Conn, error) {
	return nil, fmt.Errorf("turn: TCP relay allocations are not offered")
}

// relayConn is one allocation's relay socket.
type relayConn struct {
	net.PacketConn
	s *Server
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.s.own(addr) {
		c.s.ownRefused.Add(1)
		// Dropped silently, as a firewall would.
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	c.s.bytesToPeers.Add(uint64(n))
	return n, err
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		c.s.bytesFromPeers.Add(uint64(n))
	}
	return n, addr, err
}
