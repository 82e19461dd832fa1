package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/rtpengine/ng"
	"github.com/openborder/openborder/sbc"
)

// nodePing is how often each media node is pinged; a node that misses a
// ping takes no new calls until it answers again.
const nodePing = 2 * time.Second

// mediaNode is one remote media node.
type mediaNode struct {
	addr string
	c    *ng.Client
	up   atomic.Bool
}

// remoteMedia anchors relayed calls on remote media nodes over the ng
// protocol. A call stays on the node that took its first offer; new calls
// go to the node its Call-ID hashes to, or the next live one. The built-in
// services stay in-process (local).
type remoteMedia struct {
	nodes []*mediaNode
	local mediaAdapter
	log   *slog.Logger
	calls sync.Map // call ID -> *mediaNode

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ sbc.Media = (*remoteMedia)(nil)

func newRemoteMedia(addrs []string, local mediaAdapter, log *slog.Logger) (*remoteMedia, error) {
	m := &remoteMedia{local: local, log: log, stop: make(chan struct{})}
	for _, a := range addrs {
		c, err := ng.Dial(a, ng.ClientConfig{})
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("media node: %w", err)
		}
		n := &mediaNode{addr: a, c: c}
		n.up.Store(true) // optimistic until the first ping says otherwise
		m.nodes = append(m.nodes, n)
	}
	for _, n := range m.nodes {
		m.wg.Go(func() { m.watch(n) })
	}
	return m, nil
}

// watch pings one node until Close, logging each change of state.
func (m *remoteMedia) watch(n *mediaNode) {
	t := time.NewTicker(nodePing)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), nodePing)
		err := n.c.Ping(ctx)
		cancel()
		if was := n.up.Swap(err == nil); was != (err == nil) {
			if err != nil {
				m.log.Warn("media node down", "node", n.addr, "err", err)
			} else {
				m.log.Info("media node up", "node", n.addr)
			}
		}
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
	}
}

// Close stops the pings and the clients.
func (m *remoteMedia) Close() {
	select {
	case <-m.stop:
		return
	default:
		close(m.stop)
	}
	m.wg.Wait()
	for _, n := range m.nodes {
		_ = n.c.Close()
	}
}

// candidates lists the nodes to try for a new call: the one its ID hashes
// to first, then the others in order; live nodes before dead ones.
func (m *remoteMedia) candidates(call string) []*mediaNode {
	h := fnv.New32a()
	h.Write([]byte(call))
	start := int(h.Sum32() % uint32(len(m.nodes)))
	out := make([]*mediaNode, 0, len(m.nodes))
	var down []*mediaNode
	for i := range m.nodes {
		n := m.nodes[(start+i)%len(m.nodes)]
		if n.up.Load() {
			out = append(out, n)
		} else {
			down = append(down, n)
		}
	}
	return append(out, down...)
}

func (m *remoteMedia) Offer(ctx context.Context, call string, from sbc.Side, sdp []byte, p sbc.MediaProfile) ([]byte, error) {
	to := from.Other()
	d := sdpCommand("offer", call, legTag[from], legTag[to], sdp, p.Realm[from], p.Realm[to])
	if tp := transportFor(p.SRTP[to]); tp != "" {
		d.Set("transport-protocol", ng.Str(tp))
	}
	if cs := p.Codecs[to]; len(cs) > 0 {
		codec := ng.NewDict(1)
		codec.Set("except", strList(cs))
		d.Set("codec", codec)
	}
	if v, ok := m.calls.Load(call); ok {
		// a re-offer stays on the call's node
		return replySDP(v.(*mediaNode).c.Do(ctx, d))
	}
	var last error
	for _, n := range m.candidates(call) {
		out, err := replySDP(n.c.Do(ctx, d))
		if err == nil {
			m.calls.Store(call, n)
			return out, nil
		}
		last = err
		if !errors.Is(err, ng.ErrNoReply) {
			break // the node answered: another would refuse the same way
		}
		n.up.Store(false)
	}
	return nil, last
}

func (m *remoteMedia) Answer(ctx context.Context, call string, from sbc.Side, sdp []byte, p sbc.MediaProfile) ([]byte, error) {
	v, ok := m.calls.Load(call)
	if !ok {
		return nil, fmt.Errorf("%w: answer for call %s that no media node anchored", sbc.ErrMediaSDP, call)
	}
	offerer := from.Other()
	d := sdpCommand("answer", call, legTag[offerer], legTag[from], sdp, p.Realm[offerer], p.Realm[from])
	return replySDP(v.(*mediaNode).c.Do(ctx, d))
}

func (m *remoteMedia) Serve(ctx context.Context, call, service string, sdp []byte, realm string) ([]byte, error) {
	return m.local.Serve(ctx, call, service, sdp, realm)
}

func (m *remoteMedia) Delete(call string) sbc.MediaStats {
	v, ok := m.calls.LoadAndDelete(call)
	if !ok {
		return m.local.Delete(call) // a service call, or never anchored
	}
	n := v.(*mediaNode)
	d := ng.NewDict(2)
	d.Set("command", ng.Str("delete"))
	d.Set("call-id", ng.Str(call))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	reply, err := n.c.Do(ctx, d)
	if err != nil {
		m.log.Warn("media node delete failed", "node", n.addr, "call", call, "err", err)
		return sbc.MediaStats{}
	}
	return remoteStats(reply)
}

func sdpCommand(command, call, fromTag, toTag string, sdp []byte, fromIfc, toIfc string) ng.Value {
	d := ng.NewDict(8)
	d.Set("command", ng.Str(command))
	d.Set("call-id", ng.Str(call))
	d.Set("from-tag", ng.Str(fromTag))
	d.Set("to-tag", ng.Str(toTag))
	d.Set("sdp", ng.Bytes(sdp))
	if fromIfc != "" && toIfc != "" {
		d.Set("direction", ng.List(ng.Str(fromIfc), ng.Str(toIfc)))
	}
	d.Set("replace", ng.List(ng.Str("origin"), ng.Str("session-connection")))
	return d
}

func strList(ss []string) ng.Value {
	l := ng.List()
	for _, s := range ss {
		l.List = append(l.List, ng.Str(s))
	}
	return l
}

// replySDP takes the SDP of an offer or answer reply and maps failures onto
// the errors the B2BUA understands: a node that refuses the SDP is 488, no
// node answering or a node out of ports is 503.
func replySDP(v ng.Value, err error) ([]byte, error) {
	if err != nil {
		if errors.Is(err, ng.ErrRefused) && strings.Contains(strings.ToLower(err.Error()), "sdp") {
			return nil, fmt.Errorf("%w: %w", sbc.ErrMediaSDP, err)
		}
		return nil, fmt.Errorf("%w: %w", sbc.ErrMediaCapacity, err)
	}
	sdp, ok := v.Get("sdp")
	if !ok || sdp.Kind != ng.KindString || len(sdp.Str) == 0 {
		return nil, fmt.Errorf("%w: %w: reply without sdp", sbc.ErrMediaCapacity, ng.ErrBadReply)
	}
	return sdp.Str, nil
}

// remoteStats reads a delete reply (rtpengine's shape: tags -> medias ->
// streams -> stats) into the B2BUA's media statistics.
func remoteStats(v ng.Value) sbc.MediaStats {
	var out sbc.MediaStats
	tags, _ := v.Get("tags")
	for _, e := range tags.Dict {
		side := sbc.SideA
		if string(e.Key) == legTag[sbc.SideB] {
			side = sbc.SideB
		}
		medias, _ := e.Value.Get("medias")
		for _, md := range medias.List {
			streams, _ := md.Get("streams")
			for _, st := range streams.List {
				s, _ := st.Get("stats")
				out.RTPIn[side] += uint64(nonNeg(s, "packets"))
				out.BytesIn[side] += uint64(nonNeg(s, "bytes"))
				out.Lost[side] += uint64(nonNeg(s, "lost"))
				out.Jitter[side] = max(out.Jitter[side], time.Duration(nonNeg(s, "jitter"))*time.Millisecond)
			}
		}
	}
	if mos, ok := v.Get("MOS"); ok && mos.Kind == ng.KindInt && mos.Int > 0 {
		out.MOS = float64(mos.Int) / 10
	}
	return out
}

func nonNeg(d ng.Value, key string) int64 {
	v, ok := d.Get(key)
	if !ok || v.Kind != ng.KindInt || v.Int < 0 {
		return 0
	}
	return v.Int
}
