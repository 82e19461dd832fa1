package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "OpenBorder test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for the IPs (server and client use) signed
// by the CA to certFile and keyFile and returns it as a tls.Certificate.
func (ca *testCA) issue(t *testing.T, serial int64, cn string, certFile, keyFile string, ips ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if certFile != "" {
		// Key first, then certificate, each replaced atomically: a reload
		// in between sees a mismatched pair and keeps the old one.
		for _, f := range []struct {
			name string
			data []byte
		}{{keyFile, keyPEM}, {certFile, certPEM}} {
			tmp := f.name + ".tmp"
			if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, f.name); err != nil {
				t.Fatal(err)
			}
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// tlsOptions opens a TLS connection from local to addr, sends OPTIONS and
// returns the server's certificate and the response's status line.
func tlsOptions(t *testing.T, local, addr string, cfg *tls.Config) (*x509.Certificate, string, error) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 3 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	la := conn.LocalAddr().(*net.TCPAddr)
	msg := fmt.Sprintf("OPTIONS sip:%s;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-tls-%d;rport\r\n"+
		"From: <sip:probe@%s>;tag=t1\r\nTo: <sip:%s>\r\nCall-ID: tls-%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		addr, la, time.Now().UnixNano(), la.IP, addr, time.Now().UnixNano())
	if _, err := conn.Write([]byte(msg)); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return nil, "", err
	}
	return conn.ConnectionState().PeerCertificates[0], strings.TrimSpace(line), nil
}

// TestTLSListenerReloadAndMutualTLS: sipp places a call over TLS; the
// access listener's certificate is replaced on disk and new connections
// get the new one without a restart; on the core listener the trunk's
// gateway must present a client certificate signed by the trunk's CA.
func TestTLSListenerReloadAndMutualTLS(t *testing.T) {
	t.Parallel()
	const net = 39
	topo := Topology{Net: net}
	dir := t.TempDir()
	ca := newTestCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey := filepath.Join(dir, "sbc.pem"), filepath.Join(dir, "sbc.key")
	ca.issue(t, 100, "sbc-1", srvCert, srvKey, topo.AccessIP(), topo.CoreIP())
	gwCert := ca.issue(t, 200, "gateway", "", "", topo.GatewayIP(0))
	accessTLS := fmt.Sprintf("%s:%d", topo.AccessIP(), 5061)
	coreTLS := fmt.Sprintf("%s:%d", topo.CoreIP(), 5081)

	e := newEnv(t, net, func(c *policy.Config) {
		c.Realms[0].Listeners = append(c.Realms[0].Listeners, policy.ListenerConfig{Transport: "tls", Address: accessTLS, CertFile: srvCert, KeyFile: srvKey})
		c.Realms[1].Listeners = append(c.Realms[1].Listeners, policy.ListenerConfig{Transport: "tls", Address: coreTLS, CertFile: srvCert, KeyFile: srvKey})
		c.Trunks[0].TLS = policy.TrunkTLSConfig{CAFile: caFile, RequireClientCert: true}
		c.Trunks[0].Gateways[0].Transport = "tls"
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	t.Run("call to a tls gateway", func(t *testing.T) {
		// The trunk's gateway speaks TLS only, requires sbcd's client
		// certificate and presents its own, which sbcd verifies.
		gw := startTLSGateway(t, topo.Gateway(0), gwCert, roots)
		uac := e.caller("uac", "uac_basic.xml", 0, func(o *SippOpts) { o.Service = "5000" })
		wantExit0(t, uac.Wait(t))
		got := gw.methods()
		if strings.Join(got, ",") != "INVITE,ACK,BYE" {
			t.Fatalf("gateway got %v over TLS, want INVITE, ACK, BYE", got)
		}
		if cn := gw.clientCN(); cn != "sbc-1" {
			t.Fatalf("sbcd presented client certificate %q, want its listener's (sbc-1)", cn)
		}
	})

	t.Run("certificate reload", func(t *testing.T) {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		cert, status, err := tlsOptions(t, topo.CallerIP(1), accessTLS, cfg)
		if err != nil || cert.SerialNumber.Int64() != 100 || !strings.HasPrefix(status, "SIP/2.0 200") {
			t.Fatalf("before reload: serial %v, %q, %v", cert, status, err)
		}
		ca.issue(t, 101, "sbc-2", srvCert, srvKey, topo.AccessIP(), topo.CoreIP())
		deadline := time.Now().Add(5 * time.Second)
		for {
			time.Sleep(300 * time.Millisecond)
			cert, _, err := tlsOptions(t, topo.CallerIP(1), accessTLS, cfg)
			if err == nil && cert.SerialNumber.Int64() == 101 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the new certificate was not served: %v, %v", cert, err)
			}
		}
		// TLS 1.2 still works; older versions are refused.
		if _, _, err := tlsOptions(t, topo.CallerIP(1), accessTLS, &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12}); err != nil {
			t.Fatalf("TLS 1.2: %v", err)
		}
		if _, _, err := tlsOptions(t, topo.CallerIP(1), accessTLS, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
			t.Fatal("TLS 1.1 accepted")
		}
	})

	t.Run("mutual tls", func(t *testing.T) {
		// The trunk's gateway without a client certificate is refused.
		_, _, err := tlsOptions(t, topo.GatewayIP(0), coreTLS, &tls.Config{RootCAs: roots})
		if err == nil {
			t.Fatal("gateway without a client certificate was served")
		}
		// A certificate of another CA is refused too.
		other := newTestCA(t).issue(t, 300, "intruder", "", "", topo.GatewayIP(0))
		if _, _, err := tlsOptions(t, topo.GatewayIP(0), coreTLS, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{other}}); err == nil {
			t.Fatal("gateway with a foreign client certificate was served")
		}
		_, status, err := tlsOptions(t, topo.GatewayIP(0), coreTLS, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{gwCert}})
		if err != nil || !strings.HasPrefix(status, "SIP/2.0 200") {
			t.Fatalf("gateway with its certificate: %q, %v", status, err)
		}
		// Addresses of no trunk need no client certificate.
		if _, status, err := tlsOptions(t, topo.GatewayIP(5), coreTLS, &tls.Config{RootCAs: roots}); err != nil || !strings.HasPrefix(status, "SIP/2.0 200") {
			t.Fatalf("other source: %q, %v", status, err)
		}
	})
}

// tlsGateway is a SIP UAS over TLS that answers every INVITE with 200 and
// every BYE with 200, requiring a client certificate signed by its roots.
type tlsGateway struct {
	mu    sync.Mutex
	got   []string
	peer  string
	conns []net.Conn
}

func startTLSGateway(t *testing.T, addr string, cert tls.Certificate, roots *x509.CertPool) *tlsGateway {
	t.Helper()
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: roots,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	g := &tlsGateway{}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		for _, c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			g.conns = append(g.conns, c)
			g.mu.Unlock()
			wg.Go(func() { g.serve(c.(*tls.Conn)) })
		}
	})
	return g
}

func (g *tlsGateway) serve(c *tls.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Handshake(); err != nil {
		return
	}
	g.mu.Lock()
	g.peer = c.ConnectionState().PeerCertificates[0].Subject.CommonName
	g.mu.Unlock()
	r := bufio.NewReader(c)
	for {
		var head []string
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				if len(head) == 0 {
					continue // keep-alive CRLF
				}
				break
			}
			head = append(head, line)
			if k, v, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(k, "Content-Length") || k == "l") {
				fmt.Sscan(strings.TrimSpace(v), &length)
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		method, _, _ := strings.Cut(head[0], " ")
		if strings.HasPrefix(head[0], "SIP/2.0") {
			continue
		}
		g.mu.Lock()
		g.got = append(g.got, method)
		g.mu.Unlock()
		if method == "ACK" {
			continue
		}
		var hdrs []string
		for _, h := range head[1:] {
			k, _, _ := strings.Cut(h, ":")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "via", "v", "from", "f", "call-id", "i", "cseq":
				hdrs = append(hdrs, h)
			case "to", "t":
				if method == "INVITE" {
					h += ";tag=gw1"
				}
				hdrs = append(hdrs, h)
			}
		}
		sdp := ""
		if method == "INVITE" {
			ip := strings.Split(c.LocalAddr().String(), ":")[0]
			sdp = fmt.Sprintf("v=0\r\no=gw 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n", ip, ip, CalleeMediaPort)
			hdrs = append(hdrs, "Contact: <sip:gw@"+c.LocalAddr().String()+";transport=tls>", "Content-Type: application/sdp")
		}
		res := "SIP/2.0 200 OK\r\n" + strings.Join(hdrs, "\r\n") + fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", len(sdp)) + sdp
		if _, err := c.Write([]byte(res)); err != nil {
			return
		}
	}
}

func (g *tlsGateway) methods() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.got...)
}

func (g *tlsGateway) clientCN() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peer
}
