// Package g722 implements the ITU-T G.722 wideband speech codec at
// 64 kbit/s (mode 1): sub-band ADPCM with a 24-tap quadrature mirror
// filter, in the fixed-point arithmetic of the recommendation.
//
// An Encoder turns 16 kHz 16-bit PCM into one byte per two samples (6 bits
// of lower sub-band ADPCM and 2 bits of upper sub-band ADPCM); a Decoder
// does the reverse. Both are bit-exact with the ITU reference algorithm:
// the tests compare them against golden files made with spandsp, whose
// G.722 passes the ITU test vectors (see testdata/gen/README.md).
//
// RTP clock-rate quirk: G.722 is 16 kHz audio, but RFC 3551 registers
// static payload type 9 with an RTP clock rate of 8000 Hz (an error kept
// for compatibility), so SDP says "a=rtpmap:9 G722/8000" and the RTP
// timestamp advances by 160 per 20 ms frame while a 20 ms frame carries
// 320 samples (160 bytes). Use RTPClockRate for timestamps and SampleRate
// for audio.
//
// Encode and Decode work on caller-owned buffers, keep state across calls
// (frame boundaries are seamless) and do not allocate.
package g722
