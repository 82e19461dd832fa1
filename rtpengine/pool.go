package rtpengine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pool hands out even RTP ports (RTCP on the next odd one) of one
// interface. A released port drains for a while before reuse so that a new
// call never receives the tail of an old one. Ports the OS refuses to bind
// (in use by another process) are skipped.
type pool struct {
	cfg      InterfaceConfig
	drain    time.Duration
	openSock sockOpener
	now      func() time.Time

	mu       sync.Mutex
	first    int // lowest even port
	pairs    int // number of even/odd pairs
	next     int // index of the next pair to try
	used     map[int]bool
	draining map[int]time.Time // port -> usable again at
}

// portPair is an allocated RTP port with its sockets. rtcp is nil when the
// stream uses rtcp-mux only; it may be opened later, while the relay reads
// it, hence atomic.
type portPair struct {
	port int
	rtp  *mediaSock
	rtcp atomic.Pointer[mediaSock]
}

// sockOpener opens a media socket bound to a with the given DSCP (-1: the
// system's default).
type sockOpener func(a netip.AddrPort, dscp int) (*mediaSock, error)

// udpOpener opens media sockets with a net.ListenUDP-like function (the
// goroutine relay).
func udpOpener(listen func(*net.UDPAddr) (*net.UDPConn, error)) sockOpener {
	return func(a netip.AddrPort, dscp int) (*mediaSock, error) {
		c, err := listen(net.UDPAddrFromAddrPort(a))
		if err != nil {
			return nil, err
		}
		tuneSocket(c, dscp, a.Addr().Is6())
		return udpSock(c), nil
	}
}

func newPool(ic InterfaceConfig, drain time.Duration, open sockOpener) *pool {
	first := ic.PortMin + ic.PortMin%2
	return &pool{
		cfg:      ic,
		drain:    drain,
		openSock: open,
		now:      time.Now,
		first:    first,
		pairs:    (ic.PortMax - first + 1) / 2,
		used:     make(map[int]bool),
		draining: make(map[int]time.Time),
	}
}

// capacity is the number of port pairs of the pool.
func (p *pool) capacity() int { return p.pairs }

// inUse is the number of allocated pairs (draining ones not counted).
func (p *pool) inUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

// allocate reserves the next usable pair and opens its sockets (the RTCP
// socket only when withRTCP). Every pair is tried at most once.
func (p *pool) allocate(withRTCP bool) (*portPair, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var lastErr error
	for range p.pairs {
		port := p.first + 2*p.next
		p.next = (p.next + 1) % p.pairs
		if p.used[port] {
			continue
		}
		if until, ok := p.draining[port]; ok {
			if now.Before(until) {
				continue
			}
			delete(p.draining, port)
		}
		pp, err := p.open(port, withRTCP)
		if err != nil {
			lastErr = err
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors: no other port will do better.
				break
			}
			continue
		}
		p.used[port] = true
		return pp, nil
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w: interface %s (last bind error: %w)", ErrNoPorts, p.cfg.Name, lastErr)
	}
	return nil, fmt.Errorf("%w: interface %s", ErrNoPorts, p.cfg.Name)
}

// openRTCP opens the RTCP socket of an allocated pair that has none.
func (p *pool) openRTCP(pp *portPair) error {
	if pp.rtcp.Load() != nil {
		return nil
	}
	c, err := p.openOne(pp.port + 1)
	if err != nil {
		return err
	}
	pp.rtcp.Store(c)
	return nil
}

func (p *pool) open(port int, withRTCP bool) (*portPair, error) {
	rtp, err := p.openOne(port)
	if err != nil {
		return nil, err
	}
	pp := &portPair{port: port, rtp: rtp}
	if withRTCP {
		rtcp, err := p.openOne(port + 1)
		if err != nil {
			_ = rtp.close()
			return nil, err
		}
		pp.rtcp.Store(rtcp)
	}
	return pp, nil
}

func (p *pool) openOne(port int) (*mediaSock, error) {
	c, err := p.openSock(netip.AddrPortFrom(p.cfg.Addr, uint16(port)), p.cfg.DSCP)
	if err != nil {
		return nil, fmt.Errorf("bind %s port %d: %w", p.cfg.Name, port, err)
	}
	return c, nil
}

// release closes the pair's sockets and puts the port to draining.
func (p *pool) release(pp *portPair) {
	if pp == nil {
		return
	}
	_ = pp.rtp.close()
	if rtcp := pp.rtcp.Load(); rtcp != nil {
		_ = rtcp.close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.used[pp.port] {
		return
	}
	delete(p.used, pp.port)
	if p.drain > 0 {
		p.draining[pp.port] = p.now().Add(p.drain)
	}
}
