// Package transcode converts one RTP stream from one audio codec to
// another: a reorder (jitter) buffer on the decode side, decode, packet
// loss concealment, resample, repacketise to the outgoing ptime, encode,
// and a fresh RTP header (own SSRC, sequence numbers, timestamps and
// marker bits). RFC 4733 telephone-events pass through, re-mapped to the
// other leg's payload type and timestamp space.
//
// A Pipeline owns no socket and no goroutine: the media engine hands it
// each received RTP packet (HandleRTP) and it calls its Output function
// with each packet to send. It is not safe for concurrent use; one
// goroutine drives one pipeline.
//
// Supported codecs: PCMU, PCMA (8 kHz), G.722 (16 kHz audio, 8 kHz RTP
// clock) and Opus (48 kHz RTP clock; decoded and encoded at the PCM rate of
// the other side, 8 or 16 kHz, so Opus <-> G.711 needs no resampler).
package transcode
