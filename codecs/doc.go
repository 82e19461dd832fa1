// Package codecs holds the audio codecs and signal tools of the media plane.
//
// It is a leaf package: it imports the standard library only and knows
// nothing about RTP, SDP or sockets. Today it provides G.711 µ-law and
// A-law (ITU-T G.711, table driven, bit-exact with the segment formulas)
// and a sine tone generator. Opus, G.722, telephone-event, resampling,
// tone detection and WAV I/O are planned additions.
//
// All per-frame functions work on caller-owned buffers and do not allocate.
package codecs
