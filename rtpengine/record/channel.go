package record

import (
	"encoding/binary"
	"strings"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/codecs/resample"
)

// channel decodes one leg and places its audio on the timeline.
type channel struct {
	pts     [128]string
	codec   string // the codec decoding now
	unknown bool   // the last packet's payload type is not decodable
	clock   int
	opus    *opus.Decoder
	g722    *g722.Decoder
	down    *resample.Resampler
	pcm     [5760]int16
	wide    [5760]int16

	anchored bool
	ssrc     uint32
	ts0      uint32
	pos0     int64 // sample position of ts0
}

func (c *channel) setPayloadTypes(pts PayloadTypes) {
	c.pts = [128]string{}
	for pt, name := range pts {
		if pt < 128 {
			c.pts[pt] = strings.ToLower(name)
		}
	}
}

// setCodec switches the channel's decoder.
func (c *channel) setCodec(name string) {
	c.codec, c.anchored = name, false
	c.opus, c.g722, c.down = nil, nil, nil
	c.clock = 8000
	switch name {
	case "opus":
		c.clock = 48000
		c.opus, _ = opus.NewDecoder(opus.DecoderConfig{SampleRate: Rate})
	case "g722":
		c.g722 = g722.NewDecoder()
		c.down, _ = resample.New(16000, Rate)
	}
}

// maxSkew is how far a packet's RTP time may drift from its arrival time
// before the channel re-anchors on arrival time (a new source, a jump).
const maxSkew = Rate / 2

// decode returns the packet's audio and its sample position.
func (c *channel) decode(b []byte, arrival int64) ([]int16, int64, bool) {
	c.unknown = false
	if len(b) < 12 || b[0]>>6 != 2 {
		return nil, 0, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 && len(b) >= off+4 {
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		end -= int(b[len(b)-1])
	}
	if off >= end {
		return nil, 0, false
	}
	switch name := c.pts[b[1]&0x7f]; name {
	case "telephone-event", "cn":
		return nil, 0, false
	case "pcmu", "pcma", "g722", "opus":
		if name != c.codec {
			c.setCodec(name)
		}
	default:
		c.unknown = true
		return nil, 0, false
	}
	ts := binary.BigEndian.Uint32(b[4:])
	ssrc := binary.BigEndian.Uint32(b[8:])
	payload := b[off:end]
	pos := c.pos0 + int64(int32(ts-c.ts0))*Rate/int64(c.clock)
	if !c.anchored || ssrc != c.ssrc || pos-arrival > maxSkew || arrival-pos > maxSkew {
		c.anchored, c.ssrc, c.ts0, c.pos0 = true, ssrc, ts, arrival
		pos = arrival
	}
	var n int
	switch c.codec {
	case "pcmu":
		n = codecs.UlawDecodeFrame(c.pcm[:], payload)
	case "pcma":
		n = codecs.AlawDecodeFrame(c.pcm[:], payload)
	case "g722":
		if len(payload)*2 > len(c.wide) || c.down == nil {
			return nil, 0, false
		}
		k, err := c.g722.Decode(c.wide[:], payload)
		if err != nil {
			return nil, 0, false
		}
		if n, err = c.down.Process(c.pcm[:], c.wide[:k]); err != nil {
			return nil, 0, false
		}
	case "opus":
		if c.opus == nil {
			return nil, 0, false
		}
		k, err := c.opus.Decode(payload, c.pcm[:])
		if err != nil {
			return nil, 0, false
		}
		n = k
	default:
		c.unknown = true
		return nil, 0, false
	}
	return c.pcm[:n], pos, true
}
