package rtpengine

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/srtp/v3"
)

// demuxPeer is a test peer that, like sbcd, carries DTLS and SRTP on one
// socket: DTLS records go to the DTLS client, everything else to media.
type demuxPeer struct {
	*peer
	dtlsIn  chan []byte
	mediaIn chan []byte
	done    chan struct{}
}

func newDemuxPeer(t *testing.T) *demuxPeer {
	p := &demuxPeer{peer: newPeer(t), dtlsIn: make(chan []byte, 32), mediaIn: make(chan []byte, 32), done: make(chan struct{})}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := p.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				close(p.done)
				return
			}
			b := bytes.Clone(buf[:n])
			if b[0] >= 20 && b[0] <= 63 {
				p.dtlsIn <- b
			} else {
				p.mediaIn <- b
			}
		}
	}()
	return p
}

// dtlsPC adapts the peer to net.PacketConn for pion/dtls.
type dtlsPC struct {
	p        *demuxPeer
	to       netip.AddrPort
	deadline atomic.Int64
}

func (c *dtlsPC) ReadFrom(b []byte) (int, net.Addr, error) {
	var timeout <-chan time.Time
	if d := c.deadline.Load(); d != 0 {
		t := time.NewTimer(time.Until(time.Unix(0, d)))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case r := <-c.p.dtlsIn:
		return copy(b, r), net.UDPAddrFromAddrPort(c.to), nil
	case <-c.p.done:
		return 0, nil, net.ErrClosed
	case <-timeout:
		return 0, nil, timeoutError{}
	}
}
func (c *dtlsPC) WriteTo(b []byte, _ net.Addr) (int, error) {
	return c.p.conn.WriteToUDPAddrPort(b, c.to)
}
func (c *dtlsPC) Close() error                     { return nil }
func (c *dtlsPC) LocalAddr() net.Addr              { return c.p.conn.LocalAddr() }
func (c *dtlsPC) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *dtlsPC) SetWriteDeadline(time.Time) error { return nil }
func (c *dtlsPC) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(t.UnixNano())
	}
	return nil
}
func (p *demuxPeer) media(d time.Duration) ([]byte, bool) {
	select {
	case b := <-p.mediaIn:
		return b, true
	case <-time.After(d):
		return nil, false
	}
}

func webrtcSDP(port uint16, fingerprint string) []byte {
	lines := []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		"a=fingerprint:sha-256 " + fingerprint,
		"m=audio " + strconv.Itoa(int(port)) + " UDP/TLS/RTP/SAVPF 0", "a=rtpmap:0 PCMU/8000", "a=sendrecv",
		"a=setup:actpass", "a=rtcp-mux"}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// A DTLS-SRTP leg (a browser) and a plain RTP leg: sbcd is the DTLS server
// on the media socket, checks the browser's certificate against its
// a=fingerprint, and relays SRTP <-> RTP with the exported keys.
func TestDTLSToPlainRelay(t *testing.T) {
	e := newTestEngine(t, 42200, netip.Addr{}, nil)
	a, b := newDemuxPeer(t), newPeer(t)
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	off, err := e.Offer(ctx, OfferRequest{CallID: "dtls", FromTag: "a", SDP: webrtcSDP(a.addr.Port(), certFingerprint(cert.Certificate[0])),
		Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/AVP"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(off), "fingerprint") || !strings.Contains(string(off), "RTP/AVP") {
		t.Fatalf("offer to the plain side:\n%s", off)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "dtls", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ans), "UDP/TLS/RTP/SAVPF") || !strings.Contains(string(ans), "a=setup:passive") {
		t.Fatalf("answer to the browser:\n%s", ans)
	}
	ourFP := fingerprintValue(sdpLine(ans, "fingerprint"))
	sbcA, sbcB := lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])

	// Before the handshake nothing passes in clear towards the browser.
	b.send(rtpPacket(0, 1, 160, 0x77, 160), sbcB)
	if m, ok := a.media(150 * time.Millisecond); ok {
		t.Fatalf("plain media reached the DTLS leg before keys: %x", m[:12])
	}

	cfg := dtlsClientKeys(ctx, t, a, sbcA, cert, ourFP)
	out, _ := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile)
	in, _ := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile)

	// SRTP from the browser arrives plain at B once keys exist.
	pkt := rtpPacket(0, 10, 1600, 0x1234, 160)
	enc, _ := out.EncryptRTP(nil, pkt, nil)
	deadline := time.Now().Add(2 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		a.send(enc, sbcA)
		if g, _, ok := b.recv(100 * time.Millisecond); ok {
			got = g
			break
		}
		pkt[3]++
		enc, _ = out.EncryptRTP(nil, pkt, nil)
	}
	if !bytes.Equal(got, pkt) {
		t.Fatalf("B got %x, want the decrypted packet", got)
	}
	// Plain from B arrives as SRTP the browser decrypts.
	back := rtpPacket(0, 20, 3200, 0x4321, 160)
	b.send(back, sbcB)
	m, ok := a.media(2 * time.Second)
	if !ok {
		t.Fatal("nothing reached the browser")
	}
	dec, err := in.DecryptRTP(nil, m, nil)
	if err != nil || !bytes.Equal(dec, back) {
		t.Fatalf("browser cannot decrypt: %v", err)
	}
}

// A certificate that does not match the SDP fingerprint gets no keys.
func TestDTLSFingerprintMismatchRefused(t *testing.T) {
	e := newTestEngine(t, 42240, netip.Addr{}, nil)
	a, b := newDemuxPeer(t), newPeer(t)
	cert, _ := selfsign.GenerateSelfSigned()
	other, _ := selfsign.GenerateSelfSigned()
	ctx := context.Background()
	_, err := e.Offer(ctx, OfferRequest{CallID: "bad", FromTag: "a", SDP: webrtcSDP(a.addr.Port(), certFingerprint(other.Certificate[0])),
		Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/AVP"}})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "bad", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv")})
	if err != nil {
		t.Fatal(err)
	}
	sbcA := lo(sdpMediaPorts(t, ans)[0])
	client, err := dtls.ClientWithOptions(&dtlsPC{p: a, to: sbcA}, net.UDPAddrFromAddrPort(sbcA),
		dtls.WithCertificates(cert), dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithInsecureSkipVerify(true))
	if err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.HandshakeContext(hctx); err == nil {
		t.Error("the handshake succeeded with a certificate that does not match the fingerprint")
	} else {
		t.Logf("client: %v", err)
	}
	c, _ := e.lookup("bad")
	c.mu.Lock()
	ep := c.mono["a"].eps[0]
	c.mu.Unlock()
	// sbcd saw the handshake and refused it.
	waitUntil(t, func() bool { return ep.c.dtlsFailures.Load() > 0 })
	if ep.rx.Load() != nil || ep.tx.Load() != nil {
		t.Fatal("keys derived from a certificate that does not match the fingerprint")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dtlsClientKeys runs a DTLS-SRTP client handshake from peer a to
// sbcd's media address sbcA with cert, checks that sbcd's certificate
// matches the fingerprint ourFP it announced, and returns the SRTP keys.
func dtlsClientKeys(ctx context.Context, t *testing.T, a *demuxPeer, sbcA netip.AddrPort, cert tls.Certificate, ourFP string) srtp.Config {
	t.Helper()
	client, err := dtls.ClientWithOptions(&dtlsPC{p: a, to: sbcA}, net.UDPAddrFromAddrPort(sbcA),
		dtls.WithCertificates(cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			if got := certFingerprint(raw[0]); got != ourFP {
				t.Errorf("sbcd's certificate %s does not match its a=fingerprint %s", got, ourFP)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.HandshakeContext(hctx); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	state, _ := client.ConnectionState()
	cfg := srtp.Config{Profile: srtp.ProtectionProfileAes128CmHmacSha1_80}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, true); err != nil {
		t.Fatal(err)
	}
	return cfg
}
