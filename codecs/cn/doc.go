// Package cn implements comfort noise (RFC 3389, after ITU-T G.711
// Appendix II): the CN payload, a generator that plays noise at the
// signalled level with the signalled spectral shape, and an estimator that
// derives the payload from a frame of background noise.
//
// Conventions. The noise level is carried as −dBov, 0..127, where 0 dBov
// is the power of a full-scale square wave (mean square 32767²), so a
// full-scale sine is −3 dBov. The spectral shape is an all-pole model
// 1/A(z), A(z) = 1 + a₁z⁻¹ + … + aₚz⁻ᵖ, sent as reflection coefficients
// k₁..kₚ (the Levinson-Durbin/step-up recursion: aᵢ = kᵢ, aⱼ += kᵢ·aᵢ₋ⱼ),
// each quantised to one byte q = round(128·k) + 127, k = (q − 127)/128,
// q in 0..254.
//
// The package is a leaf (standard library only); per-frame calls do not
// allocate.
package cn
