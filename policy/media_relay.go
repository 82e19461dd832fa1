package policy

// Media relay socket models (media.relay.mode).
const (
	RelayAuto      = "auto"
	RelayEpoll     = "epoll"
	RelayGoroutine = "goroutine"

	maxRelayWorkers = 256
)

// In-kernel forwarding modes (media.relay.kernel_forwarding).
const (
	KernelOff  = "off"
	KernelAuto = "auto"
	KernelOn   = "on"
)

// RelayConfig selects how the media engine reads its media sockets.
type RelayConfig struct {
	// Mode is auto (the epoll relay on Linux, else goroutine), epoll (raw
	// sockets served by a few worker threads; Linux only) or goroutine
	// (one reader goroutine per media socket). Default auto.
	Mode string `yaml:"mode"`
	// Workers is the number of epoll relay worker threads, 0-256.
	// Default 0: half the processors, at least one.
	Workers int `yaml:"workers"`
	// KernelForwarding hands plain RTP streams that need nothing from
	// user space to the kernel (conntrack NAT over netlink) once both
	// peers are latched: off, auto (where the kernel can, else user
	// space with one log line) or on (sbcd refuses to start when the
	// kernel cannot). Needs CAP_NET_ADMIN and NAT hooks in sbcd's network
	// namespace (docs/operations.md). Default off.
	KernelForwarding string `yaml:"kernel_forwarding"`
}

// mediaRelayDefaults fills the default of media.relay.
func (c *Config) mediaRelayDefaults() {
	setStr(&c.Media.Relay.Mode, RelayAuto)
	setStr(&c.Media.Relay.KernelForwarding, KernelOff)
}

func (v *validator) mediaRelay() {
	r := v.cfg.Media.Relay
	v.enum("media.relay.mode", r.Mode, RelayAuto, RelayEpoll, RelayGoroutine)
	v.enum("media.relay.kernel_forwarding", r.KernelForwarding, KernelOff, KernelAuto, KernelOn)
	if r.Workers < 0 || r.Workers > maxRelayWorkers {
		v.errAt("media.relay.workers", "%d is outside 0-%d", r.Workers, maxRelayWorkers)
	}
}
