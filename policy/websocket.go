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
}

func (w *WebSocketConfig) applyDefaults() {
	setInt(&w.MaxConnections, DefaultWSMaxConnections)
	setDur(&w.IdleTimeout, DefaultWSIdleTimeout)
	setDur(&w.HandshakeTimeout, DefaultWSHandshakeTimeout)
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
		if len(w.Origins) > 0 || w.MaxConnections != 0 || w.IdleTimeout != 0 || w.HandshakeTimeout != 0 {
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
}
