//go:build cgo

package opus

import (
	"errors"
	"fmt"

	libopus "github.com/hraban/opus"
)

// Encoder encodes frames of PCM into Opus packets. It is not safe for
// concurrent use.
type Encoder struct {
	enc   *libopus.Encoder
	cfg   EncoderConfig
	frame int // samples per channel per frame
}

// NewEncoder returns an encoder configured by cfg.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	app := libopus.AppVoIP
	switch cfg.Application {
	case Audio:
		app = libopus.AppAudio
	case LowDelay:
		app = libopus.AppRestrictedLowdelay
	}
	enc, err := libopus.NewEncoder(cfg.SampleRate, cfg.Channels, app)
	if err != nil {
		return nil, wrapLib(err)
	}
	e := &Encoder{enc: enc, cfg: cfg, frame: int(int64(cfg.SampleRate) * int64(cfg.FrameDuration) / 1e9)}
	complexity := cfg.Complexity
	if complexity == ComplexityFastest {
		complexity = 0
	}
	steps := []struct {
		what string
		err  error
	}{
		{"complexity", enc.SetComplexity(complexity)},
		{"fec", enc.SetInBandFEC(cfg.FEC)},
		{"packet loss", enc.SetPacketLossPerc(cfg.PacketLossPercent)},
		{"dtx", enc.SetDTX(cfg.DTX)},
	}
	if cfg.Bitrate != 0 {
		steps = append(steps, struct {
			what string
			err  error
		}{"bitrate", enc.SetBitrate(cfg.Bitrate)})
	}
	if cfg.MaxBandwidthHz != 0 {
		bw := map[int]libopus.Bandwidth{
			4000: libopus.Narrowband, 6000: libopus.Mediumband, 8000: libopus.Wideband,
			12000: libopus.SuperWideband, 20000: libopus.Fullband,
		}[cfg.MaxBandwidthHz]
		steps = append(steps, struct {
			what string
			err  error
		}{"max bandwidth", enc.SetMaxBandwidth(bw)})
	}
	for _, s := range steps {
		if s.err != nil {
			return nil, fmt.Errorf("opus: set %s: %w", s.what, wrapLib(s.err))
		}
	}
	return e, nil
}

// Config returns the configuration in use, defaults filled in.
func (e *Encoder) Config() EncoderConfig { return e.cfg }

// FrameSamples returns the samples per channel in one frame; Encode wants
// FrameSamples()*Channels interleaved samples.
func (e *Encoder) FrameSamples() int { return e.frame }

// Encode encodes exactly one frame of interleaved PCM into out and returns
// the packet length. out should hold MaxPacketBytes; a shorter buffer caps
// the packet size. With DTX on, a packet of one or two bytes during
// silence need not be sent.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	if want := e.frame * e.cfg.Channels; len(pcm) != want {
		return 0, fmt.Errorf("%w: %d samples, want %d", ErrFrameSize, len(pcm), want)
	}
	if len(out) < 3 {
		return 0, fmt.Errorf("%w: %d bytes for the packet", ErrBufferTooSmall, len(out))
	}
	n, err := e.enc.Encode(pcm, out[:len(out):len(out)])
	if err != nil {
		return 0, wrapLib(err)
	}
	return n, nil
}

// SetBitrate changes the target bitrate (6000 to 510000 bit/s) between
// frames, e.g. on congestion feedback.
func (e *Encoder) SetBitrate(bps int) error {
	if bps < 6000 || bps > 510000 {
		return fmt.Errorf("%w: bitrate %d bit/s (want 6000 to 510000)", ErrConfig, bps)
	}
	if err := e.enc.SetBitrate(bps); err != nil {
		return wrapLib(err)
	}
	e.cfg.Bitrate = bps
	return nil
}

// SetPacketLossPercent changes the expected loss (0 to 100) that sizes the
// FEC data, e.g. from RTCP receiver reports.
func (e *Encoder) SetPacketLossPercent(p int) error {
	if p < 0 || p > 100 {
		return fmt.Errorf("%w: packet loss %d%% (want 0 to 100)", ErrConfig, p)
	}
	if err := e.enc.SetPacketLossPerc(p); err != nil {
		return wrapLib(err)
	}
	e.cfg.PacketLossPercent = p
	return nil
}

// InDTX reports whether the last frame encoded was silence under DTX.
func (e *Encoder) InDTX() bool {
	in, err := e.enc.InDTX()
	return err == nil && in
}

// Reset returns the encoder to its freshly initialised state, keeping the
// configuration.
func (e *Encoder) Reset() error { return wrapLib(e.enc.Reset()) }

// wrapLib maps a libopus error onto this package's sentinels.
func wrapLib(err error) error {
	if err == nil {
		return nil
	}
	var le libopus.Error
	if errors.As(err, &le) {
		switch le {
		case libopus.ErrInvalidPacket:
			return fmt.Errorf("%w: %w", ErrInvalidPacket, err)
		case libopus.ErrBufferTooSmall:
			return fmt.Errorf("%w: %w", ErrBufferTooSmall, err)
		case libopus.ErrBadArg:
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return fmt.Errorf("%w: %w", ErrCodec, err)
}
