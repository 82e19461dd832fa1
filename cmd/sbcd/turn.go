package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine/turn"
	"github.com/openborder/openborder/sbc"
)

// startTURN opens the policy's TURN listeners and starts the server; it
// returns nil when TURN is off.
func startTURN(pol *policy.Set, log *slog.Logger) (*turn.Server, error) {
	tc := pol.Config().TURN
	if !tc.Enabled() {
		return nil, nil
	}
	cfg := turn.Config{
		Realm: tc.Realm, RelayIP: netip.MustParseAddr(tc.RelayAddress),
		RelayPortMin: tc.RelayPortMin, RelayPortMax: tc.RelayPortMax,
		Users: map[string]string{}, Secret: tc.Secret, UserQuota: tc.UserQuota, MaxAllocations: tc.MaxAllocations,
		AllowPeers: tc.AllowedPeers(), OwnAddrs: ownAddrs(pol), Logger: log.With("component", "turn"),
	}
	for _, u := range tc.Users {
		cfg.Users[u.Name] = u.Password
	}
	closeAll := func() {
		for _, pc := range cfg.PacketConns {
			pc.Close()
		}
		for _, l := range cfg.Listeners {
			l.Close()
		}
	}
	for _, l := range tc.Listeners {
		switch l.Transport {
		case "udp":
			pcs, err := listenTURNUDP(l.Address)
			if err != nil {
				closeAll()
				return nil, err
			}
			for _, pc := range pcs {
				if uc, ok := pc.(*net.UDPConn); ok {
					// Clients' packets queue on these sockets in bursts
					// of one packet per call every 20 ms: the default
					// buffer (about 200 KB) overflows past a few hundred.
					_ = uc.SetReadBuffer(turnSocketBuffer)
					_ = uc.SetWriteBuffer(turnSocketBuffer)
				}
				cfg.PacketConns = append(cfg.PacketConns, pc)
			}
		case "tcp", "tls":
			ln, err := net.Listen("tcp", l.Address)
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("turn listener: %w", err)
			}
			if l.Transport == "tls" {
				cert, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
				if err != nil {
					ln.Close()
					closeAll()
					return nil, fmt.Errorf("turn tls listener %s: %w", l.Address, err)
				}
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
			}
			cfg.Listeners = append(cfg.Listeners, ln)
		}
	}
	s, err := turn.New(cfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	log.Info("turn listening", "listeners", len(tc.Listeners), "relay", tc.RelayAddress,
		"relay_ports", fmt.Sprintf("%d-%d", tc.RelayPortMin, tc.RelayPortMax))
	return s, nil
}

// turnSocketBuffer is the receive and send buffer asked for on TURN UDP
// listeners (the kernel caps it at net.core.rmem_max / wmem_max).
const turnSocketBuffer = 4 << 20

// ownAddrs are sbcd's signalling, admin, control and TURN sockets.
func ownAddrs(pol *policy.Set) []netip.AddrPort {
	c := pol.Config()
	var out []netip.AddrPort
	add := func(s string) {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ap)
		}
	}
	for _, r := range c.Realms {
		for _, l := range r.Listeners {
			add(l.Address)
		}
	}
	for _, l := range c.TURN.Listeners {
		add(l.Address)
	}
	add(c.Admin.Address)
	add(c.Media.NG)
	return out
}

// turnCredentials is the answer of GET /api/v1/turn/credentials, in the
// shape of an RTCIceServer plus its lifetime.
type turnCredentials struct {
	Username string    `json:"username"`
	Password string    `json:"password"`
	TTL      int64     `json:"ttl"`
	Expires  time.Time `json:"expires"`
	URIs     []string  `json:"uris"`
}

// addTURNRoutes adds the TURN REST credentials endpoint to the admin API.
func addTURNRoutes(api *admin.Server, b *sbc.B2BUA) {
	api.Handle("GET /api/v1/turn/credentials", admin.ReadOnly, false, func(r *http.Request) (any, error) {
		tc := b.Policy().Config().TURN
		if !tc.Enabled() || tc.Secret == "" {
			return nil, fmt.Errorf("%w: TURN REST credentials need turn.listeners and turn.secret in the policy", admin.ErrUnavailable)
		}
		user := r.URL.Query().Get("user")
		if len(user) > 64 || strings.ContainsAny(user, ": \t\r\n") {
			return nil, fmt.Errorf("%w: user must be at most 64 characters without spaces or ':'", admin.ErrInvalid)
		}
		name, pass, exp := turn.RESTCredentials(tc.Secret, user, tc.CredentialTTL, time.Now())
		out := turnCredentials{Username: name, Password: pass, TTL: int64(tc.CredentialTTL.Seconds()), Expires: exp.UTC()}
		for _, l := range tc.Listeners {
			switch l.Transport {
			case "udp":
				out.URIs = append(out.URIs, "turn:"+l.Address+"?transport=udp")
			case "tcp":
				out.URIs = append(out.URIs, "turn:"+l.Address+"?transport=tcp")
			case "tls":
				out.URIs = append(out.URIs, "turns:"+l.Address+"?transport=tcp")
			}
		}
		return out, nil
	})
}

// webrtcCollector exports the TURN server's and the WebSocket listeners'
// counters.
type webrtcCollector struct {
	b    *sbc.B2BUA
	turn *turn.Server // nil when TURN is off
}

var (
	descTURNAllocs      = prometheus.NewDesc("openborder_turn_allocations", "Live TURN allocations.", nil, nil)
	descTURNAllocsTotal = prometheus.NewDesc("openborder_turn_allocations_total", "TURN allocations created.", nil, nil)
	descTURNBytes       = prometheus.NewDesc("openborder_turn_relayed_bytes_total", "Bytes relayed by TURN allocations.", []string{"direction"}, nil)
	descTURNRefusals    = prometheus.NewDesc("openborder_turn_refusals_total", "TURN requests refused, by reason.", []string{"reason"}, nil)
	descWSOpen          = prometheus.NewDesc("openborder_websocket_connections", "Open SIP over WebSocket connections.", []string{"realm", "transport"}, nil)
	descWSAccepted      = prometheus.NewDesc("openborder_websocket_accepted_total", "WebSocket upgrades accepted.", []string{"realm", "transport"}, nil)
	descWSRefusals      = prometheus.NewDesc("openborder_websocket_refusals_total", "WebSocket connections refused or closed, by reason.", []string{"realm", "transport", "reason"}, nil)
	descWSPings         = prometheus.NewDesc("openborder_websocket_pings_total", "WebSocket keep-alive Pings sent.", []string{"realm", "transport"}, nil)
)

func (c webrtcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTURNAllocs, descTURNAllocsTotal, descTURNBytes, descTURNRefusals, descWSOpen, descWSAccepted, descWSRefusals, descWSPings} {
		ch <- d
	}
}

func (c webrtcCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if c.turn != nil {
		st := c.turn.Stats()
		ch <- prometheus.MustNewConstMetric(descTURNAllocs, prometheus.GaugeValue, float64(st.Allocations))
		counter(descTURNAllocsTotal, st.AllocationsTotal)
		counter(descTURNBytes, st.BytesToPeers, "to_peer")
		counter(descTURNBytes, st.BytesFromPeers, "from_peer")
		counter(descTURNRefusals, st.AuthRefused, "auth")
		counter(descTURNRefusals, st.Expired, "expired")
		counter(descTURNRefusals, st.QuotaRefused, "quota")
		counter(descTURNRefusals, st.PeerRefused, "peer")
		counter(descTURNRefusals, st.OwnRefused, "own_address")
	}
	for _, w := range c.b.WebSocketStats() {
		ch <- prometheus.MustNewConstMetric(descWSOpen, prometheus.GaugeValue, float64(w.Open), w.Realm, w.Transport)
		counter(descWSAccepted, w.Accepted, w.Realm, w.Transport)
		counter(descWSRefusals, w.RefusedOrigin, w.Realm, w.Transport, "origin")
		counter(descWSRefusals, w.RefusedProtocol, w.Realm, w.Transport, "protocol")
		counter(descWSRefusals, w.RefusedLimit, w.Realm, w.Transport, "limit")
		counter(descWSRefusals, w.RefusedBad, w.Realm, w.Transport, "bad_request")
		counter(descWSRefusals, w.IdleClosed, w.Realm, w.Transport, "idle")
		counter(descWSRefusals, w.PongTimeouts, w.Realm, w.Transport, "pong_timeout")
		counter(descWSPings, w.PingsSent, w.Realm, w.Transport)
	}
}
