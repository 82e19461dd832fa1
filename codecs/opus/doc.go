// Package opus wraps the Opus codec (RFC 6716, libopus through cgo) for
// VoIP use in the media plane.
//
// An Encoder turns fixed-size frames of 16-bit PCM (8, 16 or 48 kHz, mono
// or stereo, 10/20/40/60 ms) into Opus packets; a Decoder turns packets back
// into PCM at its own rate, whatever rate the far end encoded at. Opus on
// the wire always uses a 48 kHz RTP clock (RFC 7587), independent of the
// PCM rate used here.
//
// Loss handling is explicit: Decoder.DecodeFEC rebuilds a lost frame from
// the in-band FEC data carried by the packet that follows it (the encoder
// must have FEC enabled and a non-zero expected loss), and Decoder.PLC
// conceals a lost frame from the decoder's history alone.
//
// Every per-frame call works on caller-owned buffers and does not allocate.
// PacketSamples parses a packet's framing (RFC 6716 section 3) in pure Go
// so a caller can check a packet before decoding it.
//
// The package needs cgo and libopus (Debian libopus-dev). Built with
// CGO_ENABLED=0 it still compiles, but NewEncoder and NewDecoder return
// ErrUnavailable, so the rest of the product builds without cgo.
//
// Measured with libopus 1.3.1 (see the tests): a 1 kHz sine at -10 dBFS
// survives an encode/decode round trip (20 ms frames, 32 kbit/s,
// complexity 10) with an SNR of 21.0 dB at 8 kHz, 21.1 dB at 16 kHz and
// 16.5 dB at 48 kHz once the 6.5 ms codec delay is aligned, level within
// 1 dB; the tests assert 18, 18 and 14 dB. A frame lost and rebuilt with
// DecodeFEC is 1.7 to 12.7 dB closer to the loss-free decode than PLC.
package opus
