package policy

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// WebSocket listener defaults.
const (
	DefaultWSMaxConnections   = 1000
	DefaultWSIdleTimeout      = 3 * time.Minute
	DefaultWSHandshakeTimeout = 5 * time.Second
	DefaultWSPingInterval     = 30 * time.Second
	DefaultWSPongTimeout      = 10 * time.Second
)

// WebSocketConfig is what a ws or wss listener (SIP over WebSocket, RFC
// 7118) accepts.
type WebSocketConfig struct {
	// Origins lists the Origin header values browsers may connect from,
	// as scheme://host[:port] (e.g. https://phone.example.com), or "*"
	// for any. A handshake with an Origin not listed gets HTTP 403.
	// Handshakes without an Origin (non-browser SIP clients) are always
	// accepted. Default none: no browser may connect.
	Origins []string `yaml:"origins"`
	// MaxConnections bounds the listener's open connections; one more is
	// refused with HTTP 503 before its handshake. Default 1000.
	MaxConnections int `yaml:"max_connections"`
	// IdleTimeout closes a connection that sent nothing (no SIP, no CRLF
	// keep-alive) for this long. Default 3m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// HandshakeTimeout bounds the HTTP upgrade. Default 5s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// PingInterval is how long a connection may stay silent before sbcd
	// sends it a WebSocket Ping (RFC 6455 section 5.5.2). Default 30s.
	PingInterval time.Duration `yaml:"ping_interval"`
	// PongTimeout is how long sbcd waits for the Pong; a connection that
	// does not answer in time is closed and the registrations made over
	// it are dropped (RFC 5626 flow failure). Default 10s.
	PongTimeout time.Duration `yaml:"pong_timeout"`
}

func (w *WebSocketConfig) applyDefaults() {
	setInt(&w.MaxConnections, DefaultWSMaxConnections)
	setDur(&w.IdleTimeout, DefaultWSIdleTimeout)
	setDur(&w.HandshakeTimeout, DefaultWSHandshakeTimeout)
	setDur(&w.PingInterval, DefaultWSPingInterval)
	setDur(&w.PongTimeout, DefaultWSPongTimeout)
}

// AllowsOrigin reports whether a browser from origin may connect.
func (w *WebSocketConfig) AllowsOrigin(origin string) bool {
	for _, o := range w.Origins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// websocket checks the websocket section of a listener.
func (v *validator) websocket(p string, l ListenerConfig) {
	w := l.WebSocket
	if l.Transport != "ws" && l.Transport != "wss" {
		if len(w.Origins) > 0 || w.MaxConnections != 0 || w.IdleTimeout != 0 || w.HandshakeTimeout != 0 ||
			w.PingInterval != 0 || w.PongTimeout != 0 {
			v.errAt(p, "websocket applies only to transports ws and wss")
		}
		return
	}
	for i, o := range w.Origins {
		if o == "*" {
			continue
		}
		op := fmt.Sprintf("%s.origins[%d]", p, i)
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			v.errAt(op, "%q is not an origin like https://phone.example.com[:port] (or *)", o)
		}
	}
	if w.MaxConnections < 1 {
		v.errAt(p+".max_connections", "%d must be at least 1", w.MaxConnections)
	}
	if w.IdleTimeout < time.Second {
		v.errAt(p+".idle_timeout", "%s is below the minimum of 1s", w.IdleTimeout)
	}
	if w.HandshakeTimeout < 100*time.Millisecond {
		v.errAt(p+".handshake_timeout", "%s is below the minimum of 100ms", w.HandshakeTimeout)
	}
	if w.PingInterval < 100*time.Millisecond {
		v.errAt(p+".ping_interval", "%s is below the minimum of 100ms", w.PingInterval)
	}
	if w.PongTimeout < 100*time.Millisecond {
		v.errAt(p+".pong_timeout", "%s is below the minimum of 100ms", w.PongTimeout)
	}
}
