package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/firmware/metrics"
	"github.com/openborder/openborder/firmware/webphone"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
)

// adminBackend is what the admin API sees of the daemon.
type adminBackend struct {
	path    string
	b       *sbc.B2BUA
	e       *rtpengine.Engine
	m       *metrics.Registry
	caps    *captureSink
	log     *slog.Logger
	started time.Time
}

var _ admin.Backend = (*adminBackend)(nil)

func (a *adminBackend) Tokens() []admin.Token {
	cfg := a.b.Policy().Config().Admin
	out := make([]admin.Token, 0, len(cfg.Tokens))
	for _, t := range cfg.Tokens {
		tok := admin.Token{Name: t.Name, Role: admin.Role(t.Role)}
		// Validation guarantees 64 hex digits.
		if b, err := hex.DecodeString(t.SHA256); err == nil && len(b) == 32 {
			copy(tok.SHA256[:], b)
			out = append(out, tok)
		}
	}
	return out
}

func (a *adminBackend) Status(context.Context) admin.Status {
	pol := a.b.Policy()
	st := admin.Status{
		Version: version, Started: a.started.UTC(), UptimeSeconds: int64(time.Since(a.started).Seconds()),
		PolicyHash: pol.Hash(), PolicyFile: a.path, Draining: a.b.Draining(),
		ActiveCalls: a.b.ActiveCalls(), Registrations: a.b.Registrations(), MediaStreams: a.e.Metrics().Streams,
	}
	for _, r := range pol.Realms() {
		st.Realms = append(st.Realms, r.Name)
	}
	return st
}

func (a *adminBackend) Calls(ctx context.Context) any {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return a.b.Calls(ctx)
}

// callDetail is one call with its media statistics.
type callDetail struct {
	sbc.CallInfo
	Media *rtpengine.CallStats `json:"media,omitempty"`
}

func (a *adminBackend) Call(ctx context.Context, id string) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ci, ok := a.b.Call(ctx, id)
	if !ok {
		return nil, fmt.Errorf("call %q: %w", id, admin.ErrNotFound)
	}
	d := callDetail{CallInfo: ci}
	if st, err := a.e.Query(id); err == nil {
		d.Media = &st
	}
	return d, nil
}

func (a *adminBackend) Hangup(_ context.Context, id string) error {
	if !a.b.HangupCall(id) {
		return fmt.Errorf("call %q: %w", id, admin.ErrNotFound)
	}
	return nil
}

func (a *adminBackend) Registrations(context.Context) any { return a.b.RegistrationList() }

func (a *adminBackend) Trunks(ctx context.Context) []admin.Trunk {
	active := map[string]int{}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	for _, c := range a.b.Calls(cctx) {
		for _, l := range c.Legs {
			if l.Trunk != "" {
				active[l.Trunk]++
			}
		}
	}
	cancel()
	var out []admin.Trunk
	for _, t := range a.b.Policy().Trunks() {
		at := admin.Trunk{Name: t.Name, Realm: t.Realm.Name, ActiveCalls: active[t.Name]}
		gatewayHealth(a.b, t, &at)
		out = append(out, at)
	}
	return out
}

func (a *adminBackend) Policy(context.Context) ([]byte, error) { return a.b.Policy().Source(), nil }

func (a *adminBackend) Validate(_ context.Context, doc []byte) error {
	_, err := policy.Parse("policy.yaml", doc)
	return policyProblems(err)
}

func (a *adminBackend) Reload(context.Context) (string, error) {
	hash, err := reload(a.path, a.b, a.m, a.log)
	return hash, policyProblems(err)
}

// policyProblems turns policy errors into the API's 422 form.
func policyProblems(err error) error {
	if err == nil {
		return nil
	}
	var errs policy.Errors
	if errors.As(err, &errs) {
		p := make(admin.Problems, len(errs))
		for i, e := range errs {
			p[i] = e.Error()
		}
		return p
	}
	return fmt.Errorf("%w: %w", admin.ErrInvalid, err)
}

func (a *adminBackend) Summary(context.Context) admin.Summary {
	s := admin.Summary{ActiveCalls: a.b.ActiveCalls(), CallsByResult: map[string]uint64{},
		Rejections: map[string]uint64{}, PortsInUse: map[string]int{}}
	fams, _ := a.m.Gatherer().Gather()
	for _, f := range fams {
		var into map[string]uint64
		var label string
		switch f.GetName() {
		case "openborder_calls_total":
			into, label = s.CallsByResult, "outcome"
		case "openborder_sip_rejections_total":
			into, label = s.Rejections, "reason"
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					into[lp.GetValue()] += uint64(m.GetCounter().GetValue())
				}
			}
		}
	}
	mm := a.e.Metrics()
	s.MediaPackets, s.MediaLost = mm.Traffic.PacketsIn, mm.Traffic.Lost
	for _, p := range mm.Pools {
		s.PortsInUse[p.Name] = p.InUse
	}
	return s
}

// serveAdmin starts the management listener: the admin API, /healthz,
// /metrics and pprof.
func serveAdmin(addr string, a *adminBackend, log *slog.Logger) (func(), error) {
	cfg := a.b.Policy().Config().Admin
	var audit *os.File
	if cfg.AuditLog != "" {
		f, err := os.OpenFile(cfg.AuditLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("admin audit log: %w", err)
		}
		audit = f
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if audit != nil {
			audit.Close()
		}
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin listener: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	acfg := admin.Config{Backend: a, Logger: log.With("component", "admin")}
	if audit != nil {
		acfg.Audit = audit
	}
	api := admin.New(acfg)
	addCaptureRoutes(api, a.caps, a.b)
	addRecordingRoutes(api, a)
	addConferenceRoutes(api, a.e)
	admin.AddBlacklistRoutes(api, a.b.Guard())
	addTURNRoutes(api, a.b)
	addRegistrationRoutes(api, a.b)
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("GET /{$}", admin.StatusPage())
	mux.Handle("GET /phone/", webphone.Handler("/phone/", phoneConfig(a.b.Policy())))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok calls=%d\n", a.b.ActiveCalls())
	})
	mux.Handle("GET /metrics", a.m.Handler())
	// Profiles for operators chasing CPU or memory; the admin listener is
	// a management address, never a realm's.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		if audit != nil {
			audit.Close()
		}
	}, nil
}
