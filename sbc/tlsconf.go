package sbc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/openborder/openborder/policy"
)

// certCheckInterval is how often, at most, a handshake looks at whether
// the certificate files changed.
const certCheckInterval = time.Second

// certReloader serves a listener's certificate and key and loads them
// again when either file changes, without a restart: handshakes after the
// change present the new certificate. A pair that fails to load is logged
// and the previous one stays in use.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(file string) (fileStamp, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads the pair; the caller holds mu or owns c.
func (c *certReloader) load() error {
	sc, err := stampOf(c.certFile)
	if err != nil {
		return err
	}
	sk, err := stampOf(c.keyFile)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return err
	}
	c.cert, c.stamp = &cert, [2]fileStamp{sc, sk}
	return nil
}

// get returns the current certificate, reloading it when its files changed.
func (c *certReloader) get() (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.checked) < certCheckInterval {
		return c.cert, nil
	}
	c.checked = now
	sc, err1 := stampOf(c.certFile)
	sk, err2 := stampOf(c.keyFile)
	if err := errors.Join(err1, err2); err != nil || [2]fileStamp{sc, sk} == c.stamp {
		return c.cert, nil
	}
	old := c.cert
	if err := c.load(); err != nil {
		c.cert = old
		c.log.Warn("TLS certificate changed but cannot be loaded; keeping the previous one", "cert_file", c.certFile, "err", err)
		return c.cert, nil
	}
	c.log.Info("TLS certificate reloaded", "cert_file", c.certFile, "not_after", c.cert.Leaf.NotAfter)
	return c.cert, nil
}

// certFor returns the realm's reloading certificate of a file pair.
func (r *realm) certFor(certFile, keyFile string) (*certReloader, error) {
	k := [2]string{certFile, keyFile}
	if cr := r.certs[k]; cr != nil {
		return cr, nil
	}
	cr, err := newCertReloader(certFile, keyFile, r.log)
	if err != nil {
		return nil, err
	}
	r.certs[k] = cr
	return cr, nil
}

// caPools caches the CA bundles trunks name, reloading a bundle when its file changes.
type caPools struct {
	mu sync.Mutex
	m  map[string]caEntry
}

type caEntry struct {
	stamp fileStamp
	pool  *x509.CertPool
}

func (p *caPools) get(file string) (*x509.CertPool, error) {
	st, err := stampOf(file)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.m[file]; ok && e.stamp == st {
		return e.pool, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	if p.m == nil {
		p.m = make(map[string]caEntry)
	}
	p.m[file] = caEntry{stamp: st, pool: pool}
	return pool, nil
}

// trunkTLS finds the trunk of this realm with a gateway at ip.
func (r *realm) trunkTLS(ip netip.Addr) *policy.Trunk {
	return r.b.pol.Load().TrunkByAddr(r.name, netip.AddrPortFrom(ip.Unmap(), 0))
}

// serverTLS is the configuration of the realm's TLS listeners: TLS 1.2 or
// 1.3, the reloading certificate, and a client certificate required from
// the gateways of trunks with tls.require_client_cert (verified against
// the trunk's ca_file), decided per connection from its source address.
func (r *realm) serverTLS(cr *certReloader) *tls.Config {
	base := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cr.get() },
	}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		ap, err := netip.ParseAddrPort(hello.Conn.RemoteAddr().String())
		if err != nil {
			return nil, nil
		}
		t := r.trunkTLS(ap.Addr())
		if t == nil || !t.TLS.RequireClientCert {
			return nil, nil
		}
		pool, err := r.b.cas.get(t.TLS.CAFile)
		if err != nil {
			r.log.Warn("trunk CA file unusable; refusing its TLS connection", "trunk", t.Name, "err", err)
			return nil, fmt.Errorf("trunk %s: %w", t.Name, err)
		}
		c := base.Clone()
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = pool
		return c, nil
	}
	return cfg
}

// clientTLS is the configuration of connections sbcd opens to gateways:
// it presents the realm's certificate when a gateway asks for one (cr may
// be nil: none), and verifies the gateway's certificate against its
// trunk's ca_file when the trunk names one (sipgo dials with the
// gateway's IP as server name, so the certificate must name that IP).
func (r *realm) clientTLS(cr *certReloader) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cr == nil {
				return &tls.Certificate{}, nil
			}
			return cr.get()
		},
		// Verification is per trunk, in VerifyConnection.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			ip, err := netip.ParseAddr(cs.ServerName)
			if err != nil {
				return nil
			}
			t := r.trunkTLS(ip)
			if t == nil || t.TLS.CAFile == "" {
				return nil
			}
			pool, err := r.b.cas.get(t.TLS.CAFile)
			if err != nil {
				return fmt.Errorf("trunk %s: %w", t.Name, err)
			}
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("trunk %s: gateway presented no certificate", t.Name)
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: cs.ServerName})
			if err != nil {
				return fmt.Errorf("trunk %s: gateway certificate: %w", t.Name, err)
			}
			return nil
		},
	}
}
