package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/openborder/openborder/rtpengine/ng"
)

// loopback is the only address this tool ever sends to.
var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

var (
	errNG      = errors.New("ng command failed")
	errNGReply = errors.New("bad ng reply")
	errSDP     = errors.New("bad SDP in ng reply")
)

// ngClient sends ng commands to one server over a connected UDP socket.
// It is used by one goroutine at a time.
type ngClient struct {
	conn    *net.UDPConn
	cookie  uint64
	prefix  string
	timeout time.Duration
	tries   int
	buf     []byte
}

func dialNG(addr netip.AddrPort) (*ngClient, error) {
	if addr.Addr() != loopback {
		return nil, fmt.Errorf("ng address %s is not on %s", addr, loopback)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("dial ng %s: %w", addr, err)
	}
	return &ngClient{conn: c, prefix: strconv.FormatInt(time.Now().UnixNano(), 36),
		timeout: time.Second, tries: 3, buf: make([]byte, 65536)}, nil
}

func (c *ngClient) Close() error { return c.conn.Close() }

// do sends cmd and returns the decoded reply dictionary. It retransmits
// the same cookie after each timeout (the server answers a retransmission
// from its reply cache) and fails after c.tries attempts.
func (c *ngClient) do(cmd ng.Value) (ng.Value, error) {
	c.cookie++
	cookie := c.prefix + "_" + strconv.FormatUint(c.cookie, 10)
	msg := ng.AppendEncode([]byte(cookie+" "), cmd)
	for try := 0; try < c.tries; try++ {
		if _, err := c.conn.Write(msg); err != nil {
			return ng.Value{}, fmt.Errorf("%w: send: %w", errNG, err)
		}
		deadline := time.Now().Add(c.timeout)
		for {
			if err := c.conn.SetReadDeadline(deadline); err != nil {
				return ng.Value{}, err
			}
			n, err := c.conn.Read(c.buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // retransmit
				}
				return ng.Value{}, fmt.Errorf("%w: receive: %w", errNG, err)
			}
			ck, body, ok := bytes.Cut(c.buf[:n], []byte(" "))
			if !ok || string(ck) != cookie {
				continue // a late reply to an earlier command
			}
			v, err := ng.Decode(bytes.Clone(body))
			if err != nil {
				return ng.Value{}, fmt.Errorf("%w: %w", errNGReply, err)
			}
			if v.Kind != ng.KindDict {
				return ng.Value{}, fmt.Errorf("%w: %s, not a dictionary", errNGReply, v.Kind)
			}
			res, _ := v.Get("result")
			switch r, _ := res.Text(); r {
			case "ok", "pong":
				return v, nil
			case "error":
				reason, _ := v.Get("error-reason")
				txt, _ := reason.Text()
				return ng.Value{}, fmt.Errorf("%w: %s", errNG, txt)
			default:
				return ng.Value{}, fmt.Errorf("%w: result %q", errNGReply, r)
			}
		}
	}
	return ng.Value{}, fmt.Errorf("%w: no reply after %d tries of %v", errNG, c.tries, c.timeout)
}

func (c *ngClient) ping() error {
	d := ng.NewDict(1)
	d.Set("command", ng.Str("ping"))
	_, err := c.do(d)
	return err
}

// offerAnswer sends an offer (fromTag) or, when toTag is set, an answer,
// with an SDP pointing at local, and returns where sbcd wants this side's
// media sent.
func (c *ngClient) offerAnswer(command, callID, fromTag, toTag string, local netip.AddrPort, extra ...ng.Entry) (netip.AddrPort, error) {
	dst, _, err := c.offerAnswerSDP(command, callID, fromTag, toTag, audioSDP(local, ""), extra...)
	return dst, err
}

// offerAnswerSDP is offerAnswer with the SDP given; it also returns the
// SDP of the reply.
func (c *ngClient) offerAnswerSDP(command, callID, fromTag, toTag string, offer []byte, extra ...ng.Entry) (netip.AddrPort, string, error) {
	d := ng.NewDict(6 + len(extra))
	d.Set("command", ng.Str(command))
	d.Set("call-id", ng.Str(callID))
	d.Set("from-tag", ng.Str(fromTag))
	if toTag != "" {
		d.Set("to-tag", ng.Str(toTag))
	}
	d.Set("sdp", ng.Bytes(offer))
	for _, e := range extra {
		d.Set(string(e.Key), e.Value)
	}
	v, err := c.do(d)
	if err != nil {
		return netip.AddrPort{}, "", fmt.Errorf("%s %s: %w", command, callID, err)
	}
	sdp, _ := v.Get("sdp")
	txt, ok := sdp.Text()
	if !ok {
		return netip.AddrPort{}, "", fmt.Errorf("%s %s: %w: reply without sdp", command, callID, errNGReply)
	}
	dst, err := mediaTarget(txt)
	if err != nil {
		return netip.AddrPort{}, "", fmt.Errorf("%s %s: %w", command, callID, err)
	}
	return dst, txt, nil
}

func (c *ngClient) delete(callID string) error {
	d := ng.NewDict(2)
	d.Set("command", ng.Str("delete"))
	d.Set("call-id", ng.Str(callID))
	_, err := c.do(d)
	return err
}

// audioSDP is a one-stream PCMU offer or answer for local: RTP/AVP, or
// RTP/SAVP with crypto as its a=crypto value when crypto is set.
func audioSDP(local netip.AddrPort, crypto string) []byte {
	a := local.Addr().String()
	proto, extra := "RTP/AVP", ""
	if crypto != "" {
		proto, extra = "RTP/SAVP", "a=crypto:"+crypto+"\r\n"
	}
	return fmt.Appendf(nil, "v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d %s 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n%s",
		local.Port(), a, a, local.Port(), proto, extra)
}

// mediaTarget returns the address and port of the first audio stream of an
// SDP (media-level c= wins over session-level). The address must be
// sbcd's media address (loopback, or the tool's own veth pair with
// -two-hosts): nothing else is ever a target of this tool.
func mediaTarget(sdp string) (netip.AddrPort, error) {
	var sess, media string
	port, later := -1, false
	for _, l := range strings.Split(sdp, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "m="):
			if port >= 0 {
				later = true
				continue
			}
			f := strings.Fields(l[2:])
			if len(f) < 3 || f[0] != "audio" {
				return netip.AddrPort{}, fmt.Errorf("%w: media line %q", errSDP, l)
			}
			p, err := strconv.ParseUint(f[1], 10, 16)
			if err != nil || p == 0 {
				return netip.AddrPort{}, fmt.Errorf("%w: port in %q", errSDP, l)
			}
			port = int(p)
		case strings.HasPrefix(l, "c="):
			f := strings.Fields(l[2:])
			if len(f) != 3 || f[0] != "IN" || f[1] != "IP4" {
				return netip.AddrPort{}, fmt.Errorf("%w: connection line %q", errSDP, l)
			}
			switch {
			case port < 0:
				sess = f[2]
			case !later && media == "":
				media = f[2]
			}
		}
	}
	if port < 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: no audio stream", errSDP)
	}
	addr := media
	if addr == "" {
		addr = sess
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q", errSDP, addr)
	}
	if ip != hosts.relay {
		return netip.AddrPort{}, fmt.Errorf("%w: media address %s is not %s", errSDP, ip, hosts.relay)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}
