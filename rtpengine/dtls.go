package rtpengine

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
)

// DTLS-SRTP (RFC 5763/5764) is terminated per leg like SDES: the DTLS
// handshake runs on the media socket itself (records are told from RTP and
// STUN by their first byte, RFC 7983), the peer's certificate must match
// the a=fingerprint of its SDP, and the exported keys become the leg's
// SRTP ciphers. sbcd offers a=setup:actpass and answers a=setup:passive, so
// it is the DTLS server unless the far side of its own offer answers
// passive.

// dtlsHandshakeTimeout bounds one handshake.
const dtlsHandshakeTimeout = 30 * time.Second

// dtlsProfiles are the SRTP protection profiles sbcd accepts in DTLS, best first.
var dtlsProfiles = []dtls.SRTPProtectionProfile{
	dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80,
}

// identity is the engine's DTLS certificate and its SDP fingerprint.
type identity struct {
	cert        tls.Certificate
	fingerprint string // "sha-256 AB:CD:..."
}

func certFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// isDTLSProto tells whether an m= protocol is DTLS-SRTP.
func isDTLSProto(protos []string) bool {
	p := strings.Join(protos, "/")
	return p == "UDP/TLS/RTP/SAVP" || p == "UDP/TLS/RTP/SAVPF"
}

// dtlsRecord is a datagram handed from the reader to the session.
type dtlsRecord struct {
	b   []byte
	src netip.AddrPort
}

// dtlsSession is the DTLS association of one endpoint with its peer. It
// implements net.PacketConn for pion/dtls: reads come from the endpoint's
// reader, writes go out of the endpoint's RTP socket.
type dtlsSession struct {
	ep   *endpoint
	in   chan dtlsRecord
	done chan struct{}
	once sync.Once
	// peerFP is the fingerprint the peer's SDP announced (upper-case hex).
	peerFP string
	// started is set once a role is chosen and the handshake runs.
	started  atomic.Bool
	refused  atomic.Bool  // the peer's certificate did not match
	deadline atomic.Int64 // read deadline, UnixNano; 0 = none
	conn     atomic.Pointer[dtls.Conn]
	// first is a record read before the handshake started (the server
	// learns its peer from the ClientHello); ReadFrom returns it first.
	first *dtlsRecord
}

func newDTLSSession(ep *endpoint) *dtlsSession {
	return &dtlsSession{ep: ep, in: make(chan dtlsRecord, 32), done: make(chan struct{})}
}

// feed is called by the reader for every DTLS record (a copy is queued;
// records beyond the queue are dropped like any lost datagram).
func (s *dtlsSession) feed(b []byte, src netip.AddrPort) {
	select {
	case s.in <- dtlsRecord{b: append([]byte(nil), b...), src: src}:
	default:
	}
}

// ReadFrom implements net.PacketConn.
func (s *dtlsSession) ReadFrom(p []byte) (int, net.Addr, error) {
	if r := s.first; r != nil {
		s.first = nil
		return copy(p, r.b), net.UDPAddrFromAddrPort(r.src), nil
	}
	var timeout <-chan time.Time
	if d := s.deadline.Load(); d != 0 {
		t := time.NewTimer(time.Until(time.Unix(0, d)))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case r := <-s.in:
		return copy(p, r.b), net.UDPAddrFromAddrPort(r.src), nil
	case <-s.done:
		return 0, nil, net.ErrClosed
	case <-timeout:
		return 0, nil, timeoutError{}
	}
}

// WriteTo implements net.PacketConn.
func (s *dtlsSession) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("dtls: address %v is not UDP", addr)
	}
	return s.ep.pp.rtp.write(p, ua.AddrPort())
}

// Close ends the session. pion/dtls closes its PacketConn (this session)
// when the DTLS conn closes, so the conn is closed outside the Once.
func (s *dtlsSession) Close() error {
	first := false
	s.once.Do(func() {
		close(s.done)
		first = true
	})
	if first {
		if c := s.conn.Load(); c != nil {
			_ = c.Close()
		}
	}
	return nil
}

func (s *dtlsSession) LocalAddr() net.Addr { return s.ep.pp.rtp.LocalAddr() }
func (s *dtlsSession) SetDeadline(t time.Time) error {
	return s.SetReadDeadline(t)
}
func (s *dtlsSession) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		s.deadline.Store(0)
	} else {
		s.deadline.Store(t.UnixNano())
	}
	return nil
}
func (s *dtlsSession) SetWriteDeadline(time.Time) error { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "dtls: read timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// start runs the handshake in the given role on its own goroutine (owned
// by the engine) and keys the endpoint when it completes.
func (e *Engine) startDTLS(s *dtlsSession, client bool) {
	if !s.started.CompareAndSwap(false, true) {
		return
	}
	ep := s.ep
	opts := []dtls.Option{
		dtls.WithCertificates(e.id.cert),
		dtls.WithSRTPProtectionProfiles(dtlsProfiles...),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("dtls: peer sent no certificate")
			}
			if got := certFingerprint(raw[0]); !strings.EqualFold(got, s.peerFP) {
				// Counted here: pion returns from the handshake only
				// when its context ends.
				s.refused.Store(true)
				ep.c.dtlsFailures.Add(1)
				return fmt.Errorf("dtls: peer certificate %s does not match a=fingerprint %s", got, s.peerFP)
			}
			return nil
		}),
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		var conn *dtls.Conn
		var err error
		if client {
			dst, ok := s.peerAddr()
			if !ok {
				ep.c.dtlsFailures.Add(1)
				e.log.Warn("dtls: no peer address to connect to", "local", ep.local.String())
				return
			}
			conn, err = dtls.ClientWithOptions(s, net.UDPAddrFromAddrPort(dst), clientOpts(opts)...)
		} else {
			// The server answers whoever sends the ClientHello.
			var r dtlsRecord
			select {
			case r = <-s.in:
			case <-s.done:
				return
			case <-time.After(dtlsHandshakeTimeout):
				ep.c.dtlsFailures.Add(1)
				return
			}
			s.first = &r
			conn, err = dtls.ServerWithOptions(s, net.UDPAddrFromAddrPort(r.src), serverOpts(opts)...)
		}
		if err != nil {
			e.log.Warn("dtls: set-up failed", "err", err)
			return
		}
		s.conn.Store(conn)
		ctx, cancel := context.WithTimeout(context.Background(), dtlsHandshakeTimeout)
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		err = conn.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if !s.refused.Load() {
				ep.c.dtlsFailures.Add(1)
			}
			e.log.Info("dtls: handshake failed", "err", err, "local", ep.local.String())
			return
		}
		if err := keyFromDTLS(ep, conn, client); err != nil {
			ep.c.dtlsFailures.Add(1)
			e.log.Info("dtls: no SRTP keys", "err", err)
			return
		}
		ep.c.dtlsDone.Add(1)
		<-s.done
	}()
}

// peerAddr is where the client sends its ClientHello. Without ICE it is
// the address of the peer's SDP. With ICE the SDP address may be a
// placeholder (c=0.0.0.0, port 9: a trickle or ICE-lite-facing offer or
// answer) and the right one is the address the peer's connectivity checks
// come from, so the client waits (up to dtlsHandshakeTimeout) until a
// check has given the endpoint consent and a latched address.
func (s *dtlsSession) peerAddr() (netip.AddrPort, bool) {
	ep := s.ep
	deadline := time.Now().Add(dtlsHandshakeTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		dst := ep.rtpDest()
		if ep.ice.Load() == nil {
			return dst, usable(dst)
		}
		if usable(dst) && ep.hasConsent(monoNow()) {
			return dst, true
		}
		if time.Now().After(deadline) {
			return netip.AddrPort{}, false
		}
		select {
		case <-s.done:
			return netip.AddrPort{}, false
		case <-tick.C:
		}
	}
}

// keyFromDTLS derives the endpoint's SRTP ciphers from a finished handshake.
func keyFromDTLS(ep *endpoint, conn *dtls.Conn, client bool) error {
	prof, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return errors.New("no SRTP profile negotiated")
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return errors.New("no connection state")
	}
	cfg := srtp.Config{Profile: srtp.ProtectionProfile(prof)}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, client); err != nil {
		return err
	}
	s := suite{profile: cfg.Profile}
	rx, err := newCipher(cryptoAttr{suite: s, key: append(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt...)}, true)
	if err != nil {
		return err
	}
	tx, err := newCipher(cryptoAttr{suite: s, key: append(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt...)}, false)
	if err != nil {
		return err
	}
	ep.rx.Store(rx)
	ep.tx.Store(tx)
	return nil
}

func clientOpts(opts []dtls.Option) []dtls.ClientOption {
	out := make([]dtls.ClientOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

func serverOpts(opts []dtls.Option) []dtls.ServerOption {
	out := make([]dtls.ServerOption, 0, len(opts)+1)
	for _, o := range opts {
		out = append(out, o)
	}
	return append(out, dtls.WithClientAuth(dtls.RequireAnyClientCert))
}
