package cdr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config. A zero field takes the default listed here.
const (
	DefaultName            = "cdr"
	DefaultMaxSize         = 64 << 20
	DefaultRotateInterval  = 24 * time.Hour
	DefaultMaxBatch        = 1024
	DefaultRADIUSTimeout   = 2 * time.Second
	DefaultRADIUSRetries   = 2
	DefaultSpoolMaxBytes   = 64 << 20
	DefaultQueueSize       = 1024
	DefaultRetryInterval   = 10 * time.Second
	DefaultNASIdentifier   = "sbcd"
	minRotateInterval      = time.Second
	maxRADIUSServers       = 16
	maxRADIUSSecretLength  = 128
	maxRADIUSAttributeText = 253
)

// Config configures the CDR sinks. The zero value writes no files and sends
// no accounting.
type Config struct {
	Files  FileConfig
	RADIUS RADIUSConfig
}

// FileConfig configures the CSV and JSON lines files written by [Writer].
type FileConfig struct {
	// Dir is the directory of the files; it is created if missing. Empty
	// disables the file sink.
	Dir string
	// Name is the base name of the files: Name.csv and Name.jsonl. Default
	// "cdr".
	Name string
	// Formats lists the formats written, "csv" and/or "jsonl". Default
	// ["csv"].
	Formats []Format
	// MaxSize rotates a file once it holds this many bytes (a file exceeds
	// it by at most one batch). Default 64 MiB; negative disables rotation
	// by size.
	MaxSize int64
	// RotateInterval rotates the files at every multiple of this interval
	// since the Unix epoch, in UTC: 1h rotates hourly, 24h daily at
	// midnight UTC. Default 24h; negative disables rotation by time.
	// At least 1s.
	RotateInterval time.Duration
	// MaxDelay is how long a batch waits for more records before it is
	// written. Default 0: no wait; batches still form from the records that
	// arrive while the previous batch is being synchronised.
	MaxDelay time.Duration
	// MaxBatch is the most records written with one fsync. Default 1024.
	MaxBatch int
}

// RADIUSConfig configures RADIUS accounting (package cdr/radius).
type RADIUSConfig struct {
	// Servers are tried in order; the client stays on the server that last
	// answered and moves to the next one when it stops answering. Empty
	// disables RADIUS accounting.
	Servers []RADIUSServer
	// Timeout is how long to wait for each answer. Default 2s.
	Timeout time.Duration
	// Retries is how many times a request is sent again to the same
	// server before the next server is tried. Default 2; negative means
	// none.
	Retries int
	// QueueSize is the number of accounting requests held in memory before
	// new ones go to the spool. Default 1024.
	QueueSize int
	// SpoolDir holds requests that could not be delivered (no server
	// answered, or the queue was full) until a server answers again.
	// Required with Servers.
	SpoolDir string
	// SpoolMaxBytes caps the spool; requests beyond it are dropped and
	// counted. Default 64 MiB.
	SpoolMaxBytes int64
	// RetryInterval is how long to wait before trying the spool again
	// after no server answered. Default 10s.
	RetryInterval time.Duration
	// InterimInterval sends an Interim-Update for every answered call at
	// this period. Default 0: no interim updates.
	InterimInterval time.Duration
	// NASIdentifier is sent as NAS-Identifier. Default "sbcd".
	NASIdentifier string
	// NASIPAddress, an IPv4 address, is sent as NAS-IP-Address when set.
	NASIPAddress string
}

// RADIUSServer is one accounting server.
type RADIUSServer struct {
	// Address is host:port of the server, usually port 1813.
	Address string
	// Secret is the shared secret. Required.
	Secret string
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Files = c.Files.WithDefaults()
	c.RADIUS = c.RADIUS.WithDefaults()
	return c
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c FileConfig) WithDefaults() FileConfig {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.Formats) == 0 {
		c.Formats = []Format{FormatCSV}
	} else {
		c.Formats = append([]Format(nil), c.Formats...)
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.RotateInterval == 0 {
		c.RotateInterval = DefaultRotateInterval
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c RADIUSConfig) WithDefaults() RADIUSConfig {
	c.Servers = append([]RADIUSServer(nil), c.Servers...)
	if c.Timeout == 0 {
		c.Timeout = DefaultRADIUSTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRADIUSRetries
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.NASIdentifier == "" {
		c.NASIdentifier = DefaultNASIdentifier
	}
	return c
}

// Validate reports every problem of c (after defaults), each wrapping
// [ErrInvalidConfig] and naming the field, joined with errors.Join.
func (c Config) Validate() error {
	return errors.Join(c.Files.Validate(), c.RADIUS.Validate())
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// Validate reports every problem of c (after defaults).
func (c FileConfig) Validate() error {
	if c.Dir == "" {
		return nil
	}
	c = c.WithDefaults()
	var errs []error
	if c.Name == "." || c.Name == ".." || strings.ContainsAny(c.Name, "/\\\x00") {
		errs = append(errs, invalid("files.name", "%q is not a plain file name", c.Name))
	}
	seen := map[Format]bool{}
	for i, f := range c.Formats {
		if f != FormatCSV && f != FormatJSONL {
			errs = append(errs, invalid(fmt.Sprintf("files.formats[%d]", i), "%q is not csv or jsonl", f))
		}
		if seen[f] {
			errs = append(errs, invalid(fmt.Sprintf("files.formats[%d]", i), "%q given twice", f))
		}
		seen[f] = true
	}
	if c.RotateInterval > 0 && c.RotateInterval < minRotateInterval {
		errs = append(errs, invalid("files.rotate_interval", "%s is shorter than %s", c.RotateInterval, minRotateInterval))
	}
	if c.MaxDelay < 0 || c.MaxDelay > time.Second {
		errs = append(errs, invalid("files.max_delay", "%s is not between 0 and 1s", c.MaxDelay))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, invalid("files.max_batch", "%d is not positive", c.MaxBatch))
	}
	return errors.Join(errs...)
}

// Validate reports every problem of c (after defaults).
func (c RADIUSConfig) Validate() error {
	if len(c.Servers) == 0 {
		return nil
	}
	c = c.WithDefaults()
	var errs []error
	if len(c.Servers) > maxRADIUSServers {
		errs = append(errs, invalid("radius.servers", "%d servers, at most %d", len(c.Servers), maxRADIUSServers))
	}
	for i, s := range c.Servers {
		field := fmt.Sprintf("radius.servers[%d]", i)
		host, port, err := net.SplitHostPort(s.Address)
		if err != nil || host == "" {
			errs = append(errs, invalid(field+".address", "%q is not host:port", s.Address))
		} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			errs = append(errs, invalid(field+".address", "port %q is not 1 to 65535", port))
		}
		if s.Secret == "" {
			errs = append(errs, invalid(field+".secret", "required"))
		} else if len(s.Secret) > maxRADIUSSecretLength {
			errs = append(errs, invalid(field+".secret", "longer than %d bytes", maxRADIUSSecretLength))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, invalid("radius.timeout", "%s is negative", c.Timeout))
	}
	if c.Retries > 10 {
		errs = append(errs, invalid("radius.retries", "%d is more than 10", c.Retries))
	}
	if c.QueueSize < 1 {
		errs = append(errs, invalid("radius.queue_size", "%d is not positive", c.QueueSize))
	}
	if c.SpoolDir == "" {
		errs = append(errs, invalid("radius.spool_dir", "required with servers"))
	}
	if c.SpoolMaxBytes < 0 {
		errs = append(errs, invalid("radius.spool_max_bytes", "%d is negative", c.SpoolMaxBytes))
	}
	if c.RetryInterval < 0 {
		errs = append(errs, invalid("radius.retry_interval", "%s is negative", c.RetryInterval))
	}
	if c.InterimInterval < 0 || (c.InterimInterval > 0 && c.InterimInterval < time.Second) {
		errs = append(errs, invalid("radius.interim_interval", "%s is not 0 or at least 1s", c.InterimInterval))
	}
	if len(c.NASIdentifier) > maxRADIUSAttributeText {
		errs = append(errs, invalid("radius.nas_identifier", "longer than %d bytes", maxRADIUSAttributeText))
	}
	if c.NASIPAddress != "" {
		if a, err := netip.ParseAddr(c.NASIPAddress); err != nil || !a.Is4() {
			errs = append(errs, invalid("radius.nas_ip_address", "%q is not an IPv4 address", c.NASIPAddress))
		}
	}
	return errors.Join(errs...)
}
