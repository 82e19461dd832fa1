//go:build linux

package kfwd

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is a ctnetlink socket. Its methods are safe for concurrent use
// (one request at a time).
type Conn struct {
	mu  sync.Mutex
	fd  int
	seq uint32
	buf []byte
}

// Open opens a ctnetlink socket in the caller's network namespace. It
// needs CAP_NET_ADMIN for anything but reading.
func Open() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		return nil, os.NewSyscallError("socket(netlink netfilter)", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("bind(netlink)", err)
	}
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	return &Conn{fd: fd, buf: make([]byte, 1<<16)}, nil
}

// Close closes the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// do sends one request and collects the entries of the reply until the
// ack (or the end of a dump). A kernel error comes back as a
// syscall.Errno, so errors.Is(err, unix.ENOENT) works.
func (c *Conn) do(build func(seq uint32) ([]byte, error), each func(Entry)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return os.ErrClosed
	}
	c.seq++
	seq := c.seq
	req, err := build(seq)
	if err != nil {
		return err
	}
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto(netlink)", err)
	}
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return os.NewSyscallError("recvfrom(netlink)", err)
		}
		msgs, err := splitMessages(c.buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.seq != seq {
				continue // a late answer to an earlier request
			}
			switch m.typ {
			case nlmsgError:
				errno, err := errnoOf(m.body)
				if err != nil {
					return err
				}
				if errno != 0 {
					return unix.Errno(errno)
				}
				return nil
			case nlmsgDone:
				return nil
			default:
				if each != nil && m.typ>>8 == subsysCTNetlink {
					e, err := ParseEntry(m.body)
					if err != nil {
						return err
					}
					each(e)
				}
			}
		}
	}
}

// Create makes f's entry.
func (c *Conn) Create(f Flow) error {
	return c.do(func(seq uint32) ([]byte, error) { return EncodeCreate(seq, f) }, nil)
}

// Delete removes the entry whose original (or, with reply set, reply)
// tuple is t; unix.ENOENT when there is none.
func (c *Conn) Delete(t Tuple, reply bool) error {
	return c.do(func(seq uint32) ([]byte, error) { return EncodeDelete(seq, t, reply) }, nil)
}

// Get reads the entry whose original tuple is t.
func (c *Conn) Get(t Tuple) (Entry, error) {
	var e Entry
	found := false
	err := c.do(func(seq uint32) ([]byte, error) { return EncodeGet(seq, t) }, func(x Entry) { e, found = x, true })
	if err == nil && !found {
		err = unix.ENOENT
	}
	return e, err
}

// List returns every UDP entry of a family (unix.AF_INET or AF_INET6).
func (c *Conn) List(family uint8) ([]Entry, error) {
	var out []Entry
	err := c.do(func(seq uint32) ([]byte, error) { return EncodeDump(seq, family), nil }, func(e Entry) {
		if e.Orig.Src.IsValid() {
			out = append(out, e)
		}
	})
	return out, err
}

// Forward installs f: entries that already track either of its tuples
// (the kernel makes one for every packet the relay saw or sent in user
// space) are deleted first, and the whole is tried a few times because
// a packet may make such an entry again in between.
func (c *Conn) Forward(f Flow) error {
	var err error
	for range 4 {
		for _, t := range []Tuple{f.Orig, f.Reply()} {
			for _, reply := range []bool{false, true} {
				if e := c.Delete(t, reply); e != nil && !errors.Is(e, unix.ENOENT) {
					return fmt.Errorf("delete %s: %w", t, e)
				}
			}
		}
		if err = c.Create(f); err == nil || !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create %s dnat %s snat %s: %w", f.Orig, f.DNAT, f.SNAT, err)
	}
	return nil
}
