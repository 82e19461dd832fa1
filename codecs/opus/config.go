package opus

import (
	"fmt"
	"time"
)

// Application selects the libopus tuning.
type Application int

const (
	// VoIP favours speech intelligibility (OPUS_APPLICATION_VOIP). Default.
	VoIP Application = iota
	// Audio favours faithfulness to non-voice signals (OPUS_APPLICATION_AUDIO).
	Audio
	// LowDelay disables the speech modes for the lowest delay
	// (OPUS_APPLICATION_RESTRICTED_LOWDELAY).
	LowDelay
)

// String names the application.
func (a Application) String() string {
	switch a {
	case VoIP:
		return "voip"
	case Audio:
		return "audio"
	case LowDelay:
		return "lowdelay"
	}
	return fmt.Sprintf("application(%d)", int(a))
}

// Defaults of EncoderConfig.
const (
	DefaultSampleRate    = 48000
	DefaultFrameDuration = 20 * time.Millisecond
	DefaultComplexity    = 5
	DefaultFECLoss       = 10
)

// MaxPacketBytes is a packet buffer size that always suffices for one
// frame (RFC 6716 allows 1275 bytes per frame, three frames of 20 ms in
// 60 ms need at most 3×1275 + framing).
const MaxPacketBytes = 4000

// ComplexityFastest selects libopus complexity 0 (the zero value of
// EncoderConfig.Complexity means DefaultComplexity).
const ComplexityFastest = -1

// EncoderConfig configures an Encoder. The zero value is a valid 48 kHz
// mono VoIP encoder with 20 ms frames.
type EncoderConfig struct {
	// SampleRate of the input PCM in Hz: 8000, 12000, 16000, 24000 or
	// 48000. Default 48000.
	SampleRate int
	// Channels is 1 (mono) or 2 (interleaved stereo). Default 1.
	Channels int
	// FrameDuration is 10, 20, 40 or 60 ms. Default 20 ms.
	FrameDuration time.Duration
	// Application tunes the encoder. Default VoIP.
	Application Application
	// Bitrate in bit/s, 6000 to 510000. Default 0: libopus chooses from
	// the rate and channel count.
	Bitrate int
	// Complexity 1 to 10; ComplexityFastest selects 0. Default 0, which
	// means DefaultComplexity (5).
	Complexity int
	// FEC enables in-band forward error correction (LBRR). Default off.
	FEC bool
	// PacketLossPercent is the expected loss, 0 to 100; it sizes the FEC
	// data. Default 0, which with FEC on means DefaultFECLoss (10).
	PacketLossPercent int
	// DTX enables discontinuous transmission: during silence the encoder
	// emits tiny packets (one or two bytes) about every 400 ms and
	// nothing worth sending in between. Default off.
	DTX bool
	// MaxBandwidthHz caps the coded audio bandwidth: 4000, 6000, 8000,
	// 12000 or 20000. Default 0: no cap.
	MaxBandwidthHz int
}

func checkRate(rate int) error {
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
		return nil
	}
	return fmt.Errorf("%w: sample rate %d Hz (want 8000, 12000, 16000, 24000 or 48000)", ErrConfig, rate)
}

func checkChannels(ch int) error {
	if ch != 1 && ch != 2 {
		return fmt.Errorf("%w: %d channels (want 1 or 2)", ErrConfig, ch)
	}
	return nil
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c EncoderConfig) withDefaults() EncoderConfig {
	if c.SampleRate == 0 {
		c.SampleRate = DefaultSampleRate
	}
	if c.Channels == 0 {
		c.Channels = 1
	}
	if c.FrameDuration == 0 {
		c.FrameDuration = DefaultFrameDuration
	}
	if c.Complexity == 0 {
		c.Complexity = DefaultComplexity
	}
	if c.FEC && c.PacketLossPercent == 0 {
		c.PacketLossPercent = DefaultFECLoss
	}
	return c
}

// validate checks a config that has its defaults filled in.
func (c EncoderConfig) validate() error {
	if err := checkRate(c.SampleRate); err != nil {
		return err
	}
	if err := checkChannels(c.Channels); err != nil {
		return err
	}
	switch c.FrameDuration {
	case 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond:
	default:
		return fmt.Errorf("%w: frame duration %v (want 10, 20, 40 or 60 ms)", ErrConfig, c.FrameDuration)
	}
	if c.Application < VoIP || c.Application > LowDelay {
		return fmt.Errorf("%w: %v", ErrConfig, c.Application)
	}
	if c.Bitrate != 0 && (c.Bitrate < 6000 || c.Bitrate > 510000) {
		return fmt.Errorf("%w: bitrate %d bit/s (want 6000 to 510000)", ErrConfig, c.Bitrate)
	}
	if c.Complexity != ComplexityFastest && (c.Complexity < 1 || c.Complexity > 10) {
		return fmt.Errorf("%w: complexity %d (want 1 to 10 or ComplexityFastest)", ErrConfig, c.Complexity)
	}
	if c.PacketLossPercent < 0 || c.PacketLossPercent > 100 {
		return fmt.Errorf("%w: packet loss %d%% (want 0 to 100)", ErrConfig, c.PacketLossPercent)
	}
	switch c.MaxBandwidthHz {
	case 0, 4000, 6000, 8000, 12000, 20000:
	default:
		return fmt.Errorf("%w: max bandwidth %d Hz (want 4000, 6000, 8000, 12000 or 20000)", ErrConfig, c.MaxBandwidthHz)
	}
	return nil
}

// DecoderConfig configures a Decoder. The zero value decodes to 48 kHz mono.
type DecoderConfig struct {
	// SampleRate of the output PCM in Hz: 8000, 12000, 16000, 24000 or
	// 48000. Default 48000.
	SampleRate int
	// Channels is 1 or 2 (interleaved). Default 1.
	Channels int
}
