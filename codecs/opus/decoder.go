//go:build cgo

package opus

import (
	"fmt"

	libopus "github.com/hraban/opus"
)

// Decoder decodes Opus packets into PCM at its configured rate. It is not
// safe for concurrent use.
type Decoder struct {
	dec  *libopus.Decoder
	cfg  DecoderConfig
	unit int // samples per channel in 2.5 ms, the Opus time quantum
}

// NewDecoder returns a decoder configured by cfg.
func NewDecoder(cfg DecoderConfig) (*Decoder, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = DefaultSampleRate
	}
	if cfg.Channels == 0 {
		cfg.Channels = 1
	}
	if err := checkRate(cfg.SampleRate); err != nil {
		return nil, err
	}
	if err := checkChannels(cfg.Channels); err != nil {
		return nil, err
	}
	dec, err := libopus.NewDecoder(cfg.SampleRate, cfg.Channels)
	if err != nil {
		return nil, wrapLib(err)
	}
	return &Decoder{dec: dec, cfg: cfg, unit: cfg.SampleRate / 400}, nil
}

// Config returns the configuration in use, defaults filled in.
func (d *Decoder) Config() DecoderConfig { return d.cfg }

// Decode decodes pkt into pcm and returns the samples per channel written
// (interleaved when stereo). pcm must hold the packet's whole duration;
// 120 ms (SampleRate*3/25 samples per channel) always suffices. A
// malformed packet gives ErrInvalidPacket and leaves the decoder usable.
func (d *Decoder) Decode(pkt []byte, pcm []int16) (int, error) {
	n, err := PacketSamples(pkt, d.cfg.SampleRate)
	if err != nil {
		return 0, err
	}
	if n*d.cfg.Channels > len(pcm) {
		return 0, fmt.Errorf("%w: packet of %d samples, buffer of %d", ErrBufferTooSmall, n, len(pcm)/d.cfg.Channels)
	}
	got, err := d.dec.Decode(pkt, pcm[:len(pcm):len(pcm)])
	if err != nil {
		return 0, wrapLib(err)
	}
	return got, nil
}

// lostFrame checks a buffer that stands for a lost frame: a whole number
// of 2.5 ms units, at most 120 ms.
func (d *Decoder) lostFrame(pcm []int16) (int, error) {
	ch := d.cfg.Channels
	n := len(pcm) / ch
	if n == 0 || len(pcm)%ch != 0 || n%d.unit != 0 || n > 48*d.unit {
		return 0, fmt.Errorf("%w: %d samples is not a frame of 2.5 ms steps up to 120 ms at %d Hz", ErrFrameSize, len(pcm), d.cfg.SampleRate)
	}
	return n, nil
}

// DecodeFEC rebuilds the frame lost just before next from the FEC data
// that next carries, writing exactly len(pcm) samples (the lost frame's
// duration, usually the same as next's). Afterwards decode next itself
// with Decode. When next carries no FEC data, libopus conceals the loss as
// PLC would.
func (d *Decoder) DecodeFEC(next []byte, pcm []int16) (int, error) {
	n, err := d.lostFrame(pcm)
	if err != nil {
		return 0, err
	}
	if _, err := PacketSamples(next, d.cfg.SampleRate); err != nil {
		return 0, err
	}
	if err := d.dec.DecodeFEC(next, pcm[:len(pcm):len(pcm)]); err != nil {
		return 0, wrapLib(err)
	}
	return n, nil
}

// PLC conceals one lost frame from the decoder's history, writing exactly
// len(pcm) samples (the lost frame's duration).
func (d *Decoder) PLC(pcm []int16) (int, error) {
	n, err := d.lostFrame(pcm)
	if err != nil {
		return 0, err
	}
	if err := d.dec.DecodePLC(pcm[:len(pcm):len(pcm)]); err != nil {
		return 0, wrapLib(err)
	}
	return n, nil
}

// LastPacketSamples returns the duration, in samples per channel, of the
// last packet decoded or concealed.
func (d *Decoder) LastPacketSamples() int {
	n, err := d.dec.LastPacketDuration()
	if err != nil {
		return 0
	}
	return n
}
