package cn

import (
	"fmt"
	"math"
)

// MaxOrder is the highest model order kept. Longer payloads are accepted
// and their higher-order coefficients ignored, as RFC 3389 allows.
const MaxOrder = 16

// MaxLevel is the quietest level, 127 → −127 dBov.
const MaxLevel = 127

// Payload is a comfort noise description.
type Payload struct {
	// Level is the noise level as −dBov, 0..127.
	Level uint8
	// K holds the reflection coefficients k₁..k_Order, each in (−1, 1).
	K [MaxOrder]float64
	// Order is how many coefficients are used (0: white noise).
	Order int
}

// Parse decodes a CN payload. The unused top bit of the level byte is
// ignored, as are coefficients beyond MaxOrder.
func Parse(b []byte) (Payload, error) {
	if len(b) == 0 {
		return Payload{}, ErrEmpty
	}
	p := Payload{Level: b[0] & 0x7F}
	coeffs := b[1:]
	if len(coeffs) > MaxOrder {
		coeffs = coeffs[:MaxOrder]
	}
	for i, q := range coeffs {
		p.K[i] = dequantise(q)
	}
	p.Order = len(coeffs)
	return p, nil
}

func dequantise(q byte) float64 {
	if q > 254 {
		q = 254 // 255 would be k = 1, an unstable filter
	}
	return (float64(q) - 127) / 128
}

func quantise(k float64) byte {
	q := math.Round(k*128) + 127
	return byte(max(0, min(254, q)))
}

// Validate reports whether p can be sent.
func (p *Payload) Validate() error {
	if p.Level > MaxLevel {
		return fmt.Errorf("%w: level %d above %d", ErrParams, p.Level, MaxLevel)
	}
	if p.Order < 0 || p.Order > MaxOrder {
		return fmt.Errorf("%w: order %d outside 0..%d", ErrParams, p.Order, MaxOrder)
	}
	for i, k := range p.K[:p.Order] {
		if !(k > -1 && k < 1) {
			return fmt.Errorf("%w: k%d = %v outside (-1, 1)", ErrParams, i+1, k)
		}
	}
	return nil
}

// Size returns the encoded length: 1 + Order.
func (p *Payload) Size() int { return 1 + p.Order }

// Append appends the encoded payload to dst.
func (p *Payload) Append(dst []byte) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	dst = append(dst, p.Level)
	for _, k := range p.K[:p.Order] {
		dst = append(dst, quantise(k))
	}
	return dst, nil
}

// Put writes the encoded payload into dst and returns its length.
func (p *Payload) Put(dst []byte) (int, error) {
	if len(dst) < p.Size() {
		return 0, fmt.Errorf("%w: %d bytes, need %d", ErrBufferTooSmall, len(dst), p.Size())
	}
	b, err := p.Append(dst[:0])
	return len(b), err
}

// Quantised returns p as a receiver will see it: the coefficients rounded
// to their one-byte codes.
func (p Payload) Quantised() Payload {
	for i := range p.K[:p.Order] {
		p.K[i] = dequantise(quantise(p.K[i]))
	}
	return p
}

// fullScale2 is the mean square of 0 dBov (a full-scale square wave).
const fullScale2 = 32767.0 * 32767.0

// LevelRMS returns the RMS amplitude (16-bit units) of a −dBov level.
func LevelRMS(level uint8) float64 {
	return math.Sqrt(fullScale2) * math.Pow(10, -float64(level)/20)
}

// levelOf returns the −dBov level of a mean square, rounded and clamped.
func levelOf(meanSquare float64) uint8 {
	if meanSquare <= 0 {
		return MaxLevel
	}
	db := -10 * math.Log10(meanSquare/fullScale2)
	return uint8(max(0, min(MaxLevel, math.Round(db))))
}
