package rtpengine

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/openborder/openborder/rtpengine/record"
)

// RecordingConfig configures call recording. Zero values mean the defaults.
type RecordingConfig struct {
	// Dir is where recordings are written. Default "": recording is
	// unavailable (StartRecording fails, Flags.Record is ignored).
	Dir string
	// WAV and PCAP select the files written; neither set means WAV only.
	WAV, PCAP bool
	// Queue bounds each recording's packet queue (record.DefaultQueue).
	Queue int
}

// ErrRecording reports a recording request that cannot be met (no
// directory configured, already recording, not recording).
var ErrRecording = errors.New("rtpengine: recording")

// RecordOptions are the details of one recording request.
type RecordOptions struct {
	// Labels describe the parties per leg tag (e.g. "A" -> {"from":
	// "sip:alice@..."}); they go into the metadata file.
	Labels map[string]map[string]string
}

// callRec is a call's recording: wanted (requested, not started until
// both legs have media) and/or running.
type callRec struct {
	opts RecordOptions
	r    *record.Recorder
}

// recordTap is what an endpoint's reader needs to record a packet.
type recordTap struct {
	r  *record.Recorder
	ch int
}

// StartRecording starts recording a call (both legs, into
// RecordingConfig.Dir). If a leg has no media yet the recording starts
// with the answer.
func (e *Engine) StartRecording(callID string, o RecordOptions) error {
	if e.cfg.Recording.Dir == "" {
		return fmt.Errorf("%w: no recording directory configured", ErrRecording)
	}
	c, err := e.lockCall(callID, false)
	if err != nil {
		return err
	}
	e.kernelYield(c)
	defer c.mu.Unlock()
	if c.rec != nil {
		return fmt.Errorf("%w: call %q is already being recorded", ErrRecording, callID)
	}
	c.rec = &callRec{opts: o}
	return e.refreshRecording(c)
}

// StopRecording stops a call's recording, completes its files and
// returns their metadata.
func (e *Engine) StopRecording(callID string) (record.Metadata, error) {
	c, err := e.lockCall(callID, false)
	if err != nil {
		return record.Metadata{}, err
	}
	e.kernelYield(c)
	cr := c.rec
	c.rec = nil
	if cr != nil {
		clearRecTaps(c)
	}
	c.mu.Unlock()
	if cr == nil {
		return record.Metadata{}, fmt.Errorf("%w: call %q is not being recorded", ErrRecording, callID)
	}
	if cr.r == nil {
		return record.Metadata{}, fmt.Errorf("%w: call %q had no media to record yet", ErrRecording, callID)
	}
	return cr.r.Stop()
}

// Recording reports whether a call is being recorded.
func (e *Engine) Recording(callID string) (bool, error) {
	c, err := e.lockCall(callID, false)
	if err != nil {
		return false, err
	}
	defer c.mu.Unlock()
	return c.rec != nil, nil
}

func clearRecTaps(c *call) {
	for _, m := range c.order {
		for _, ep := range m.eps {
			if ep != nil {
				ep.rec.Store(nil)
			}
		}
	}
}

// stopRecordingAsync finishes a deleted call's recording off the caller's
// path. Called with c.mu held.
func (e *Engine) stopRecordingAsync(c *call) {
	cr := c.rec
	c.rec = nil
	if cr == nil || cr.r == nil {
		return
	}
	clearRecTaps(c)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		meta, err := cr.r.Stop()
		if err != nil {
			e.log.Error("recording", "call_id", c.id, "err", err)
			return
		}
		e.log.Info("recording written", "call_id", c.id, "files", meta.Files, "seconds", meta.Seconds, "dropped", meta.Dropped)
	}()
}

// firstAudio returns a monologue's first live audio endpoint.
func firstAudio(m *monologue) *endpoint {
	for _, ep := range m.eps {
		if ep != nil && ep.media == "audio" {
			return ep
		}
	}
	return nil
}

// refreshRecording starts a wanted recording once both legs have audio
// and points the legs' audio endpoints at it (channel 0 = the first
// participant, normally the caller). Called with c.mu held after every
// offer and answer.
func (e *Engine) refreshRecording(c *call) error {
	cr := c.rec
	if cr == nil || len(c.order) < 2 {
		return nil
	}
	eps := [2]*endpoint{firstAudio(c.order[0]), firstAudio(c.order[1])}
	if eps[0] == nil || eps[1] == nil || eps[1].sigRTP.Load() == nil {
		return nil // not answered yet
	}
	if cr.r == nil {
		parties := make([]record.Party, 2)
		for i, ep := range eps {
			m := c.order[i]
			parties[i] = record.Party{Leg: m.tag, Channel: i, Interface: m.pool.cfg.Name,
				Address: ep.rtpDest().String(), Labels: cr.opts.Labels[m.tag]}
		}
		rc := e.cfg.Recording
		r, err := record.Start(record.Config{Dir: rc.Dir, CallID: c.id, Parties: parties,
			WAV: rc.WAV || !rc.PCAP, PCAP: rc.PCAP, Queue: rc.Queue, Logger: e.log})
		if err != nil {
			c.rec = nil
			return fmt.Errorf("%w: %w", ErrRecording, err)
		}
		cr.r = r
		c.recPath = r.Path()
		e.log.Info("recording started", "call_id", c.id)
	}
	for i, ep := range eps {
		pts := make(record.PayloadTypes, len(ep.peerNames))
		for f, name := range ep.peerNames {
			if pt, err := strconv.Atoi(f); err == nil && pt >= 0 && pt < 128 {
				pts[uint8(pt)] = name
			}
		}
		cr.r.SetPayloadTypes(i, pts)
		ep.rec.Store(&recordTap{r: cr.r, ch: i})
	}
	return nil
}

// packet is the media path's side of recording: a copy into the
// recording's bounded queue (never blocks).
func (t *recordTap) packet(b []byte, src, local netip.AddrPort) {
	t.r.Packet(t.ch, b, src, local, time.Now())
}
