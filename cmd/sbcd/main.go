// Command sbcd is the OpenBorder session border controller daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/openborder/openborder/firmware/metrics"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/rtpengine/ng"
	"github.com/openborder/openborder/sbc"
	"github.com/openborder/openborder/sbc/guard"
	"github.com/openborder/openborder/sbc/health"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// callsGauge reads the B2BUA once it exists (metrics are built first).
type callsGauge struct{ b **sbc.B2BUA }

func (g callsGauge) ActiveCalls() int {
	if *g.b == nil {
		return 0
	}
	return (*g.b).ActiveCalls()
}

func (g callsGauge) Registrations() int {
	if *g.b == nil {
		return 0
	}
	return (*g.b).Registrations()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sbcd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "configs/default.yaml", "policy file (YAML)")
	check := fs.Bool("check", false, "validate the policy file, print every problem and exit")
	logFormat := fs.String("log-format", "", "text or json (overrides the policy)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides the policy)")
	mediaOnly := fs.Bool("media-only", false, "run as a media node: the realms' media pools and the ng socket, no SIP")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pol, err := policy.Load(*cfgPath)
	if *check {
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK (%d realms, %d trunks)\n", *cfgPath, len(pol.Realms()), len(pol.Trunks()))
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	format, level := pol.Config().Log.Format, pol.Config().Log.Level
	if *logFormat != "" {
		format = *logFormat
	}
	if *logLevel != "" {
		level = *logLevel
	}
	log, _, err := newLogger(stderr, format, level)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// Before the media engine sizes its workers by it.
	log.Info("go processors", "procs", rtpengine.SpareProc(), "cpus", runtime.NumCPU())
	serveFn := serve
	if *mediaOnly {
		serveFn = serveMediaNode
	}
	if err := serveFn(*cfgPath, pol, log); err != nil {
		log.Error("sbcd stopped", "err", err)
		return 1
	}
	return 0
}

// serve wires the planes together and runs until SIGTERM/SIGINT.
func serve(path string, pol *policy.Set, log *slog.Logger) error {
	raiseFileLimit(pol, log)
	var b2bua *sbc.B2BUA
	var once sync.Once
	ready := make(chan struct{})
	caps, err := newCaptureSink(pol.Config().Capture, log.With("component", "capture"))
	if err != nil {
		return err
	}
	ecfg := engineConfig(pol)
	if caps != nil && (caps.tap != nil || caps.hep != nil) {
		ecfg.Tap = caps
		// RTCP of every call goes to the HEP collector
		ecfg.TapRTCP = caps.hep != nil
	}
	ecfg.Logger = log.With("component", "media")
	ecfg.OnTimeout = func(id string) {
		<-ready
		b2bua.Hangup(id, "media_timeout")
	}
	ecfg.OnDigit = func(d rtpengine.Digit) {
		<-ready
		onDigit(b2bua, d)
	}
	engine, err := rtpengine.New(ecfg)
	if err != nil {
		return fmt.Errorf("media engine: %w", err)
	}
	defer engine.Close()
	reloadConferences = applyConferences(engine, log)
	if caps != nil {
		// Closed after the B2BUA, before the engine: running captures end
		// with every packet they were given.
		defer caps.Close()
		caps.engine = engine
	}

	mreg := metrics.New(metrics.Config{Calls: callsGauge{&b2bua}, Media: engine, Version: version})
	mreg.ConfigLoaded(pol.Hash(), false)
	obs := observers{mreg}
	cdrs, err := newCDRSink(pol.Config().CDR, log.With("component", "cdr"))
	if err != nil {
		return err
	}
	if caps != nil {
		obs = append(obs, caps)
	}
	if cdrs != nil {
		// Closed after the B2BUA (defers run in reverse): the last
		// calls' records are flushed.
		defer cdrs.Close()
		obs = append(obs, cdrs)
	}
	media, closeMedia, err := newMedia(pol, engine, log)
	if err != nil {
		return err
	}
	defer closeMedia()
	trunks := &trunkNotifier{}
	traps := newSecurityTraps(mreg.WatchFraud())
	grd := guard.New(pol, guard.Options{Logger: log.With("component", "guard"), OnBlock: traps.onBlock})
	mreg.WatchGuard(grd)
	ovl, err := newOverloadWatch(pol.Config().SNMP.Overload, mreg, grd, log.With("component", "overload"))
	if err != nil {
		return err
	}
	b2bua, err = sbc.New(sbc.Config{Policy: pol, Media: media, Observer: obs, Logger: log.With("component", "sbc"), Guard: grd,
		OnGatewayChange: func(ch health.Change) { mreg.GatewayChanged(ch); trunks.changed(ch) },
		OnFraudBlock:    traps.onFraudBlock})
	if err != nil {
		return err
	}
	trunks.b.Store(b2bua)
	ovl.b.Store(b2bua)
	mreg.WatchGateways(b2bua.GatewayHealth)
	mreg.WatchOutbound(b2bua.OutboundRegistrations)
	once.Do(func() { close(ready) })
	if err := b2bua.Start(); err != nil {
		return err
	}
	defer b2bua.Close()
	tsrv, err := startTURN(pol, log)
	if err != nil {
		return err
	}
	if tsrv != nil {
		defer tsrv.Close()
	}
	if err := mreg.Register(webrtcCollector{b: b2bua, turn: tsrv}); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if caps != nil {
		if err := mreg.Register(captureCollector{caps}); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	rules := startCaptureRules(caps, pol.Config().Capture.Rules, b2bua.Calls, log.With("component", "capture"))
	defer rules.Close()
	if rules != nil {
		reloadCaptureRules = func(p *policy.Set) { rules.apply(p.Config().Capture.Rules) }
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	trapCtx, stopTraps := context.WithCancel(ctx)
	wg.Go(func() { traps.run(trapCtx) })
	wg.Go(func() { ovl.run(trapCtx) })
	defer stopTraps()
	if addr := pol.Config().Media.NG; addr != "" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("ng control socket: %w", err)
		}
		srv := ng.NewServer(engine, log.With("component", "ng"))
		wg.Go(func() { _ = srv.Serve(ctx, pc) })
		defer srv.Close()
	}
	agent, err := startSNMP(pol.Config().SNMP.AgentX, &snmpSource{b: b2bua, e: engine, m: mreg, ovl: ovl, started: time.Now()}, log)
	if err != nil {
		return fmt.Errorf("snmp: %w", err)
	}
	if agent != nil {
		defer agent.Close()
		reloadFailed = func(msg string) { notifyReloadFailed(agent, msg) }
		trunks.agent.Store(agent)
		traps.agent.Store(agent)
		ovl.agent.Store(agent)
	}
	if addr := pol.Config().Admin.Address; addr != "" {
		stop, err := serveAdmin(addr, &adminBackend{path: path, b: b2bua, e: engine, m: mreg, caps: caps, log: log, started: time.Now()}, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	log.Info("sbcd ready", "config", path, "hash", pol.Hash())

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			_, _ = reload(path, b2bua, mreg, log)
			continue
		}
		deadline := b2bua.Policy().Config().SIP.DrainTimeout
		if deadline <= 0 {
			deadline = 30 * time.Second
		}
		dctx, dcancel := context.WithTimeout(context.Background(), deadline+10*time.Second)
		b2bua.Drain(dctx, deadline)
		dcancel()
		log.Info("sbcd stopped", "signal", sig.String())
		return nil
	}
	return nil
}

// reloadMu serialises reloads from SIGHUP and from the admin API.
var reloadMu sync.Mutex

// reloadFailed is told about refused reloads (the SNMP notification).
var reloadFailed = func(string) {}

// reload is the one reload entry point: the new policy is parsed, validated
// and compiled whole, then swapped; a bad file leaves the old one running.
func reload(path string, b *sbc.B2BUA, m *metrics.Registry, log *slog.Logger) (string, error) {
	reloadMu.Lock()
	defer reloadMu.Unlock()
	start := time.Now()
	pol, err := policy.Load(path)
	if err != nil {
		var errs policy.Errors
		m.ConfigReloadFailed()
		lastReload.set(false, err.Error())
		reloadFailed(err.Error())
		if errors.As(err, &errs) {
			log.Error("policy reload failed", "err", err.Error(), "problems", len(errs))
			return "", err
		}
		log.Error("policy reload failed", "err", err.Error())
		return "", err
	}
	b.Reload(pol)
	reloadConferences(pol)
	reloadCaptureRules(pol)
	m.ConfigLoaded(pol.Hash(), true)
	lastReload.set(true, "")
	log.Info("policy reloaded", "hash", pol.Hash(), "took_ms", time.Since(start).Milliseconds())
	return pol.Hash(), nil
}
