package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/rtpengine/ng"
	"github.com/openborder/openborder/sbc"
)

// newMedia picks where the B2BUA anchors media: the in-process engine, or
// the remote media nodes of media.nodes (built-in services stay local).
func newMedia(pol *policy.Set, engine *rtpengine.Engine, log *slog.Logger) (sbc.Media, func(), error) {
	nodes := pol.Config().Media.Nodes
	if len(nodes) == 0 {
		return newMediaAdapter(engine, engine), func() {}, nil
	}
	rm, err := newRemoteMedia(nodes, engine, log.With("component", "media-nodes"))
	if err != nil {
		return nil, nil, err
	}
	log.Info("media anchored on remote nodes", "nodes", len(nodes))
	return newMediaAdapter(rm, engine), rm.Close, nil
}

// serveMediaNode runs sbcd as a media node: the realms' media pools driven
// through the ng control socket by a signalling sbcd (media.nodes) or any
// ng client, until SIGTERM/SIGINT. SIP listeners are not opened.
func serveMediaNode(path string, pol *policy.Set, log *slog.Logger) error {
	addr := pol.Config().Media.NG
	if addr == "" {
		return errors.New("media-only mode needs media.ng, the control socket to serve")
	}
	raiseFileLimit(pol, log)
	ecfg := engineConfig(pol)
	ecfg.Logger = log.With("component", "media")
	var engine *rtpengine.Engine
	ready := make(chan struct{})
	ecfg.OnTimeout = func(id string) {
		// no B2BUA here: the node releases the call's ports itself; the
		// signalling side sees the call gone at its next command
		<-ready
		_, _ = engine.Delete(id, "")
	}
	engine, err := rtpengine.New(ecfg)
	if err != nil {
		return fmt.Errorf("media engine: %w", err)
	}
	close(ready)
	defer engine.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("ng control socket: %w", err)
	}
	srv := ng.NewServer(engine, log.With("component", "ng"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = srv.Serve(ctx, pc) })
	defer srv.Close()
	log.Info("sbcd ready", "mode", "media-node", "config", path, "ng", addr, "hash", pol.Hash())

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			log.Info("media node ignores SIGHUP: port pools change at restart")
			continue
		}
		log.Info("sbcd media node stopped", "signal", sig.String())
		return nil
	}
	return nil
}
