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

	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/rtpengine/ng"
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
// protocol: a mediaBackend under the same mediaAdapter as the in-process
// engine. A call stays on the node that took its first offer; new calls
// go to the node its Call-ID hashes to, or the next live one. Calls no
// node anchored (the built-in services) are deleted in local.
type remoteMedia struct {
	nodes []*mediaNode
	local *rtpengine.Engine
	log   *slog.Logger
	calls sync.Map // call ID -> *mediaNode

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ mediaBackend = (*remoteMedia)(nil)

func newRemoteMedia(addrs []string, local *rtpengine.Engine, log *slog.Logger) (*remoteMedia, error) {
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

func (m *remoteMedia) Offer(ctx context.Context, r rtpengine.OfferRequest) ([]byte, error) {
	d := ngCommand("offer", r.CallID, r.FromTag, r.ToTag, r.SDP, r.Flags)
	if v, ok := m.calls.Load(r.CallID); ok {
		// a re-offer stays on the call's node
		return replySDP(v.(*mediaNode).c.Do(ctx, d))
	}
	var last error
	for _, n := range m.candidates(r.CallID) {
		out, err := replySDP(n.c.Do(ctx, d))
		if err == nil {
			m.calls.Store(r.CallID, n)
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

func (m *remoteMedia) Answer(ctx context.Context, r rtpengine.AnswerRequest) ([]byte, error) {
	v, ok := m.calls.Load(r.CallID)
	if !ok {
		return nil, fmt.Errorf("%w: answer for call %s that no media node anchored", rtpengine.ErrNotFound, r.CallID)
	}
	return replySDP(v.(*mediaNode).c.Do(ctx, ngCommand("answer", r.CallID, r.FromTag, r.ToTag, r.SDP, r.Flags)))
}

func (m *remoteMedia) Delete(callID, fromTag string) (rtpengine.CallStats, error) {
	v, ok := m.calls.LoadAndDelete(callID)
	if !ok {
		return m.local.Delete(callID, fromTag) // a service call, or never anchored
	}
	n := v.(*mediaNode)
	d := ng.NewDict(3)
	d.Set("command", ng.Str("delete"))
	d.Set("call-id", ng.Str(callID))
	if fromTag != "" {
		d.Set("from-tag", ng.Str(fromTag))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	reply, err := n.c.Do(ctx, d)
	if err != nil {
		m.log.Warn("media node delete failed", "node", n.addr, "call", callID, "err", err)
		return rtpengine.CallStats{}, err
	}
	return remoteStats(callID, reply), nil
}

// ngCommand renders an offer or answer with the engine's flags as the ng
// protocol spells them.
func ngCommand(command, call, fromTag, toTag string, sdp []byte, f rtpengine.Flags) ng.Value {
	d := ng.NewDict(12)
	d.Set("command", ng.Str(command))
	d.Set("call-id", ng.Str(call))
	d.Set("from-tag", ng.Str(fromTag))
	d.Set("to-tag", ng.Str(toTag))
	d.Set("sdp", ng.Bytes(sdp))
	if f.FromInterface != "" && f.ToInterface != "" {
		d.Set("direction", ng.List(ng.Str(f.FromInterface), ng.Str(f.ToInterface)))
	}
	var replace []string
	if f.ReplaceOrigin {
		replace = append(replace, "origin")
	}
	if f.ReplaceSessionConnection {
		replace = append(replace, "session-connection")
	}
	if len(replace) > 0 {
		d.Set("replace", strList(replace))
	}
	if f.TransportProtocol != "" {
		d.Set("transport-protocol", ng.Str(f.TransportProtocol))
	}
	if f.ICE != "" {
		d.Set("ICE", ng.Str(f.ICE))
	}
	if f.RTCPMux != "" {
		d.Set("rtcp-mux", ng.List(ng.Str(f.RTCPMux)))
	}
	if len(f.Codecs) > 0 {
		codec := ng.NewDict(1)
		codec.Set("except", strList(f.Codecs))
		d.Set("codec", codec)
	}
	if f.Record {
		d.Set("record-call", ng.Str("yes"))
	}
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
// the engine's errors, which the adapter maps for the B2BUA: a node that
// refuses the SDP is bad SDP (488), no node answering or a node out of
// ports is no ports (503).
func replySDP(v ng.Value, err error) ([]byte, error) {
	if err != nil {
		if errors.Is(err, ng.ErrRefused) && strings.Contains(strings.ToLower(err.Error()), "sdp") {
			return nil, fmt.Errorf("%w: %w", rtpengine.ErrBadSDP, err)
		}
		return nil, fmt.Errorf("%w: %w", rtpengine.ErrNoPorts, err)
	}
	sdp, ok := v.Get("sdp")
	if !ok || sdp.Kind != ng.KindString || len(sdp.Str) == 0 {
		return nil, fmt.Errorf("%w: %w: reply without sdp", rtpengine.ErrNoPorts, ng.ErrBadReply)
	}
	return sdp.Str, nil
}

// remoteStats reads a delete reply (rtpengine's shape: tags -> medias ->
// streams -> stats) into the engine's call statistics.
func remoteStats(callID string, v ng.Value) rtpengine.CallStats {
	cs := rtpengine.CallStats{CallID: callID}
	tags, _ := v.Get("tags")
	for _, e := range tags.Dict {
		leg := rtpengine.LegStats{Tag: string(e.Key)}
		medias, _ := e.Value.Get("medias")
		for _, md := range medias.List {
			streams, _ := md.Get("streams")
			for _, st := range streams.List {
				s, _ := st.Get("stats")
				leg.Streams = append(leg.Streams, rtpengine.StreamStats{
					Codec:     str(st, "codec"),
					PacketsIn: uint64(nonNeg(s, "packets")),
					BytesIn:   uint64(nonNeg(s, "bytes")),
					Lost:      uint64(nonNeg(s, "lost")),
					Jitter:    time.Duration(nonNeg(s, "jitter")) * time.Millisecond,
				})
			}
		}
		leg.MOS = float64(nonNeg(e.Value, "MOS")) / 10
		cs.Legs = append(cs.Legs, leg)
	}
	cs.MOS = float64(nonNeg(v, "MOS")) / 10
	cs.Transcoded = str(v, "transcoded") == "yes"
	cs.RecordingPath = str(v, "recording")
	return cs
}

// str returns a string entry of a dictionary ("" if absent or not a string).
func str(d ng.Value, key string) string {
	v, ok := d.Get(key)
	if !ok || v.Kind != ng.KindString {
		return ""
	}
	return string(v.Str)
}

func nonNeg(d ng.Value, key string) int64 {
	v, ok := d.Get(key)
	if !ok || v.Kind != ng.KindInt || v.Int < 0 {
		return 0
	}
	return v.Int
}
