package snmp

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Config configures an Agent. The zero value connects to net-snmp's
// default socket with the defaults below.
type Config struct {
	// Address is the master agent's AgentX socket in snmpd's agentXSocket
	// notation: "unix:/path", a bare absolute path, or "tcp:host:port"
	// where host must be a loopback address (AgentX carries no
	// authentication). Default "unix:/var/agentx/master".
	Address string
	// Description is the subagent description sent in the Open PDU.
	// Default "OpenBorder sbcd".
	Description string
	// Timeout bounds each exchange with the master (connect, Open,
	// Register, Ping, Notify, writes) and is announced in Open as the
	// time the master should wait for our answers. Whole seconds from 1s
	// to 255s. Default 5s.
	Timeout time.Duration
	// PingInterval is how often a Ping checks that the session is alive.
	// Default 15s.
	PingInterval time.Duration
	// MinBackoff is the first delay before reconnecting. Default 500ms.
	MinBackoff time.Duration
	// MaxBackoff caps the doubling reconnect delay. Default 30s.
	MaxBackoff time.Duration
	// Priority is the registration priority; lower wins when two
	// subagents register the same subtree. 0 means the default, 127.
	Priority uint8
}

// Defaults.
const (
	DefaultAddress      = "unix:/var/agentx/master"
	DefaultDescription  = "OpenBorder sbcd"
	DefaultTimeout      = 5 * time.Second
	DefaultPingInterval = 15 * time.Second
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultPriority     = 127
)

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	if c.Description == "" {
		c.Description = DefaultDescription
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Priority == 0 {
		c.Priority = DefaultPriority
	}
	return c
}

// validate checks a defaulted config and returns the dial network and
// address.
func (c Config) validate() (network, addr string, err error) {
	if c.Timeout < time.Second || c.Timeout > 255*time.Second || c.Timeout%time.Second != 0 {
		return "", "", fmt.Errorf("%w: timeout %v: want whole seconds from 1s to 255s", ErrConfig, c.Timeout)
	}
	if c.PingInterval < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 {
		return "", "", fmt.Errorf("%w: negative interval", ErrConfig)
	}
	if c.MaxBackoff < c.MinBackoff {
		return "", "", fmt.Errorf("%w: max backoff %v below min backoff %v", ErrConfig, c.MaxBackoff, c.MinBackoff)
	}
	if len(c.Description) > maxDisplayString {
		return "", "", fmt.Errorf("%w: description longer than %d bytes", ErrConfig, maxDisplayString)
	}
	return parseAddress(c.Address)
}

// parseAddress maps an agentXSocket string to a dial network and address.
func parseAddress(s string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(s, "/"):
		return "unix", s, nil
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(s, "unix:")
		if p == "" {
			return "", "", fmt.Errorf("%w: address %q: empty socket path", ErrConfig, s)
		}
		return "unix", p, nil
	case strings.HasPrefix(s, "tcp:"):
		hp := strings.TrimPrefix(s, "tcp:")
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return "", "", fmt.Errorf("%w: address %q: %w", ErrConfig, s, err)
		}
		if port == "" {
			return "", "", fmt.Errorf("%w: address %q: missing port", ErrConfig, s)
		}
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", "", fmt.Errorf("%w: address %q: AgentX over TCP must use a loopback address", ErrConfig, s)
		}
		return "tcp", hp, nil
	}
	return "", "", fmt.Errorf("%w: address %q: want unix:/path, /path or tcp:127.0.0.1:port", ErrConfig, s)
}
