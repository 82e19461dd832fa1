// Package dtmf detects, generates and suppresses in-band DTMF digits
// (ITU-T Q.23/Q.24) in 16-bit linear PCM at 8 or 16 kHz.
//
// Detector uses Goertzel filters over 20 ms windows that advance 10 ms at
// a time. A window reports a key when one tone of each group stands out
// and passes the checks of ITU-T Q.24 and common practice: frequency
// within tolerance (accept ±1.5 %, reject beyond ±3.5 %; the estimate
// interpolates between Goertzel bins one bin apart), per-tone level (accept
// −25 dBm0, reject −35 dBm0), twist (normal ≤ 8 dB, reverse ≤ 4 dB),
// each tone well above the other tones of its group, the two tones
// carrying most of the window's energy, and no strong second harmonic.
// Two consecutive windows start a digit (so tones shorter than about 25 ms
// are ignored and 40 ms always suffices), two consecutive misses end it
// (a 40 ms pause always separates two digits; a gap under 10 ms is
// bridged). Start and end are reported as events with their sample
// positions. Feed it chunks of any size; it does not allocate.
//
// Generator produces digit sequences with configurable level, twist and
// on/off timing. Suppressor delays the audio by 40 ms and mutes the
// samples that carry detected digits, so in-band tones can be removed from
// relayed audio when the digits travel as RFC 4733 events instead.
//
// The package is a leaf: standard library only.
package dtmf
