package policy

// Media relay socket models (media.relay.mode).
const (
	RelayAuto      = "auto"
	RelayEpoll     = "epoll"
	RelayGoroutine = "goroutine"

	maxRelayWorkers = 256
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
}

// mediaRelayDefaults fills the default of media.relay.
func (c *Config) mediaRelayDefaults() {
	setStr(&c.Media.Relay.Mode, RelayAuto)
}

func (v *validator) mediaRelay() {
	r := v.cfg.Media.Relay
	v.enum("media.relay.mode", r.Mode, RelayAuto, RelayEpoll, RelayGoroutine)
	if r.Workers < 0 || r.Workers > maxRelayWorkers {
		v.errAt("media.relay.workers", "%d is outside 0-%d", r.Workers, maxRelayWorkers)
	}
}
