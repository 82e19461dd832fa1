package rtpengine

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

const (
	defaultTimeout     = 60 * time.Second
	defaultHoldTimeout = time.Hour
	defaultPortDrain   = 5 * time.Second
	defaultDSCP        = 46 // EF
	maxRelayWorkers    = 256
)

// withDefaults returns a copy of cfg with defaults filled and validated.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.HoldTimeout == 0 {
		cfg.HoldTimeout = defaultHoldTimeout
	}
	if cfg.PortDrain == 0 {
		cfg.PortDrain = defaultPortDrain
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch cfg.Relay {
	case RelayAuto:
		if cfg.ListenUDP != nil || !rawRelaySupported {
			cfg.Relay = RelayGoroutine
		} else {
			cfg.Relay = RelayEpoll
		}
	case RelayEpoll:
		if !rawRelaySupported {
			return cfg, fmt.Errorf("%w: relay %q: %w", ErrBadConfig, cfg.Relay, errNoEpollRelay)
		}
		if cfg.ListenUDP != nil {
			return cfg, fmt.Errorf("%w: relay %q opens its own sockets; ListenUDP needs relay %q", ErrBadConfig, cfg.Relay, RelayGoroutine)
		}
	case RelayGoroutine:
	default:
		return cfg, fmt.Errorf("%w: unknown relay %q (want %q or %q)", ErrBadConfig, cfg.Relay, RelayEpoll, RelayGoroutine)
	}
	switch cfg.Kernel {
	case "off":
		cfg.Kernel = KernelOff
	case KernelOff, KernelAuto, KernelOn:
	default:
		return cfg, fmt.Errorf("%w: unknown kernel forwarding mode %q (want %q, %q or off)", ErrBadConfig, cfg.Kernel, KernelAuto, KernelOn)
	}
	if cfg.RelayWorkers < 0 || cfg.RelayWorkers > maxRelayWorkers {
		return cfg, fmt.Errorf("%w: relay workers %d out of range 0-%d", ErrBadConfig, cfg.RelayWorkers, maxRelayWorkers)
	}
	if cfg.RelayWorkers == 0 {
		// Half the processors: a worker blocked in epoll_wait holds its
		// P until the runtime takes it back, so workers on every P would
		// delay every other goroutine (signalling, timers).
		cfg.RelayWorkers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if cfg.ListenUDP == nil {
		cfg.ListenUDP = func(laddr *net.UDPAddr) (*net.UDPConn, error) { return net.ListenUDP("udp", laddr) }
	}
	tc, err := cfg.Transcode.withDefaults(cfg.Relay)
	if err != nil {
		return cfg, err
	}
	cfg.Transcode = tc
	if cfg.Timeout < 0 || cfg.HoldTimeout < 0 || cfg.PortDrain < 0 {
		return cfg, fmt.Errorf("%w: negative duration", ErrBadConfig)
	}
	if len(cfg.Interfaces) == 0 {
		return cfg, fmt.Errorf("%w: no interfaces", ErrBadConfig)
	}
	ifs := make([]InterfaceConfig, len(cfg.Interfaces))
	seen := make(map[string]bool, len(ifs))
	for i, ic := range cfg.Interfaces {
		ic, err := ic.withDefaults()
		if err != nil {
			return cfg, fmt.Errorf("interfaces[%d]: %w", i, err)
		}
		if seen[ic.Name] {
			return cfg, fmt.Errorf("%w: interfaces[%d]: duplicate name %q", ErrBadConfig, i, ic.Name)
		}
		seen[ic.Name] = true
		ifs[i] = ic
	}
	cfg.Interfaces = ifs
	return cfg, nil
}

func (ic InterfaceConfig) withDefaults() (InterfaceConfig, error) {
	if ic.Name == "" {
		return ic, fmt.Errorf("%w: empty name", ErrBadConfig)
	}
	if !ic.Addr.IsValid() {
		return ic, fmt.Errorf("%w: %s: no bind address", ErrBadConfig, ic.Name)
	}
	ic.Addr = ic.Addr.Unmap()
	if !ic.Advertised.IsValid() {
		ic.Advertised = ic.Addr
	}
	ic.Advertised = ic.Advertised.Unmap()
	if ic.Advertised.Is4() != ic.Addr.Is4() {
		return ic, fmt.Errorf("%w: %s: advertised and bind address families differ", ErrBadConfig, ic.Name)
	}
	if ic.DSCP == 0 {
		ic.DSCP = defaultDSCP
	}
	if ic.DSCP < -1 || ic.DSCP > 63 {
		return ic, fmt.Errorf("%w: %s: DSCP %d out of range", ErrBadConfig, ic.Name, ic.DSCP)
	}
	if ic.PortMin < 1 || ic.PortMax > 65535 || ic.PortMin > ic.PortMax {
		return ic, fmt.Errorf("%w: %s: bad port range %d-%d", ErrBadConfig, ic.Name, ic.PortMin, ic.PortMax)
	}
	first := ic.PortMin + ic.PortMin%2
	if first+1 > ic.PortMax {
		return ic, fmt.Errorf("%w: %s: port range %d-%d holds no even/odd pair", ErrBadConfig, ic.Name, ic.PortMin, ic.PortMax)
	}
	return ic, nil
}
