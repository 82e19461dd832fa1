// Package plc conceals lost frames of narrowband or wideband PCM, in the
// manner of ITU-T G.711 Appendix I.
//
// The Concealer keeps the last 48.75 ms of audio. When a frame is lost it
// estimates the pitch period (normalised autocorrelation, 5 to 15 ms),
// smooths the join with an overlap-add over a quarter of the period, and
// replays the last period; after 10 ms it widens the replay to two, then
// three periods so the sound is less buzzy, and fades it out by 20 % per
// 10 ms so that after 60 ms of loss the output is silent. When audio
// resumes, the first received samples are cross-faded with the
// continuing concealment (4 ms longer per 10 ms of loss, at most 10 ms).
//
// The overlap-add at the start of a loss rewrites audio that has not been
// played yet, so the output runs a quarter of the longest pitch period
// (3.75 ms) behind the input. The Concealer does not allocate after
// construction. The package is a leaf: standard library only.
package plc
