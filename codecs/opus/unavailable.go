//go:build !cgo

package opus

// Without cgo there is no libopus: the types exist so that callers build,
// and constructors report ErrUnavailable. PacketSamples still works.

// Encoder is unavailable in builds without cgo.
type Encoder struct{ cfg EncoderConfig }

// NewEncoder validates cfg and returns ErrUnavailable.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	if err := cfg.withDefaults().validate(); err != nil {
		return nil, err
	}
	return nil, ErrUnavailable
}

// Config returns the configuration.
func (e *Encoder) Config() EncoderConfig { return e.cfg }

// FrameSamples returns 0.
func (e *Encoder) FrameSamples() int { return 0 }

// Encode returns ErrUnavailable.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) { return 0, ErrUnavailable }

// SetBitrate returns ErrUnavailable.
func (e *Encoder) SetBitrate(bps int) error { return ErrUnavailable }

// SetPacketLossPercent returns ErrUnavailable.
func (e *Encoder) SetPacketLossPercent(p int) error { return ErrUnavailable }

// InDTX returns false.
func (e *Encoder) InDTX() bool { return false }

// Reset returns ErrUnavailable.
func (e *Encoder) Reset() error { return ErrUnavailable }

// Decoder is unavailable in builds without cgo.
type Decoder struct{ cfg DecoderConfig }

// NewDecoder returns ErrUnavailable.
func NewDecoder(cfg DecoderConfig) (*Decoder, error) { return nil, ErrUnavailable }

// Config returns the configuration.
func (d *Decoder) Config() DecoderConfig { return d.cfg }

// Decode returns ErrUnavailable.
func (d *Decoder) Decode(pkt []byte, pcm []int16) (int, error) { return 0, ErrUnavailable }

// DecodeFEC returns ErrUnavailable.
func (d *Decoder) DecodeFEC(next []byte, pcm []int16) (int, error) { return 0, ErrUnavailable }

// PLC returns ErrUnavailable.
func (d *Decoder) PLC(pcm []int16) (int, error) { return 0, ErrUnavailable }

// LastPacketSamples returns 0.
func (d *Decoder) LastPacketSamples() int { return 0 }
