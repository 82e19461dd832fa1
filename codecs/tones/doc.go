// Package tones holds the call-progress tones of several countries and a
// cadenced generator that plays them.
//
// The tables give, for US, UK, DE, FR and IN, the dial, ringback, busy,
// congestion (reorder) and call-waiting tones: their frequencies (single,
// dual such as the UK's 400+450 Hz ringing tone, or amplitude modulated
// such as India's 400×25 Hz), levels in dBm0 and on/off cadences, from
// ITU-T E.180 Supplement 2 and the national specifications it lists.
//
// Generator renders a tone at 8, 16 or 48 kHz into caller buffers, frame
// by frame, with phase and cadence carried across calls and no
// allocation. The package is a leaf: standard library only.
package tones
