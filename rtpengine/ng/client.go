package ng

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ClientConfig tunes a Client. Zero values take the defaults.
type ClientConfig struct {
	// Timeout is how long one try waits for the reply. Default 500ms.
	Timeout time.Duration
	// Tries is how many times a command is sent (same cookie, so the node
	// answers a retransmission from its reply cache). Default 3.
	Tries int
}

// Client sends ng commands to one media node over UDP: ours or any
// rtpengine-compatible one. It is safe for concurrent use; replies are
// matched to commands by cookie.
type Client struct {
	conn    *net.UDPConn
	prefix  string
	timeout time.Duration
	tries   int
	seq     atomic.Uint64

	mu      sync.Mutex
	pending map[string]chan []byte
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// Dial opens a client for the node at addr (host:port, UDP).
func Dial(addr string, cfg ClientConfig) (*Client, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("ng node %q: %w", addr, err)
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, fmt.Errorf("ng node %q: %w", addr, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.Tries <= 0 {
		cfg.Tries = 3
	}
	c := &Client{
		conn: conn, timeout: cfg.Timeout, tries: cfg.Tries,
		prefix:  strconv.FormatInt(time.Now().UnixNano(), 36),
		pending: make(map[string]chan []byte),
		done:    make(chan struct{}),
	}
	c.wg.Go(c.readLoop)
	return c, nil
}

// Close stops the client; commands in flight fail with ErrClientClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	err := c.conn.Close()
	c.wg.Wait()
	return err
}

func (c *Client) readLoop() {
	buf := make([]byte, MaxDatagram)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-c.done:
				return
			default:
			}
			// ICMP port unreachable and the like: the waiting command
			// times out and retransmits.
			continue
		}
		cookie, body, ok := bytes.Cut(buf[:n], []byte(" "))
		if !ok {
			continue
		}
		c.mu.Lock()
		ch := c.pending[string(cookie)]
		c.mu.Unlock()
		if ch == nil {
			continue // a late reply to a command that gave up
		}
		select {
		case ch <- bytes.Clone(body):
		default: // a duplicate reply
		}
	}
}

// Do sends cmd (a dictionary with "command") and returns the reply
// dictionary when its result is "ok" or "pong". A reply with result
// "error" is ErrRefused with the node's reason.
func (c *Client) Do(ctx context.Context, cmd Value) (Value, error) {
	cookie := c.prefix + "_" + strconv.FormatUint(c.seq.Add(1), 10)
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Value{}, ErrClientClosed
	}
	c.pending[cookie] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, cookie)
		c.mu.Unlock()
	}()
	msg := AppendEncode([]byte(cookie+" "), cmd)
	if len(msg) > MaxDatagram {
		return Value{}, fmt.Errorf("%w: command of %d bytes exceeds one datagram", ErrTooLarge, len(msg))
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	for try := 0; try < c.tries; try++ {
		if _, err := c.conn.Write(msg); err != nil && !isRefused(err) {
			return Value{}, fmt.Errorf("ng send: %w", err)
		}
		t.Reset(c.timeout)
		select {
		case body := <-ch:
			return parseReply(body)
		case <-t.C:
		case <-ctx.Done():
			return Value{}, ctx.Err()
		case <-c.done:
			return Value{}, ErrClientClosed
		}
	}
	return Value{}, fmt.Errorf("%w after %d tries of %v", ErrNoReply, c.tries, c.timeout)
}

// isRefused reports an error left on the socket by an ICMP port
// unreachable from an earlier datagram: the node is not there yet; the
// try times out like a lost datagram.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func parseReply(body []byte) (Value, error) {
	v, err := Decode(body)
	if err != nil {
		return Value{}, fmt.Errorf("%w: %w", ErrBadReply, err)
	}
	if v.Kind != KindDict {
		return Value{}, fmt.Errorf("%w: %s, not a dictionary", ErrBadReply, v.Kind)
	}
	res, _ := v.Get("result")
	switch r, _ := res.Text(); r {
	case "ok", "pong":
		return v, nil
	case "error":
		reason, _ := v.Get("error-reason")
		txt, _ := reason.Text()
		return Value{}, fmt.Errorf("%w: %s", ErrRefused, txt)
	default:
		return Value{}, fmt.Errorf("%w: result %q", ErrBadReply, truncate(r, 32))
	}
}

// Ping checks that the node answers.
func (c *Client) Ping(ctx context.Context) error {
	d := NewDict(1)
	d.Set("command", Str("ping"))
	_, err := c.Do(ctx, d)
	return err
}
