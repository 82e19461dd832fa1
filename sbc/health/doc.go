// Package health keeps what routing needs to know about trunks that only
// running calls and probes can tell: whether each gateway answers SIP
// OPTIONS (Monitor, a per-gateway up/down state machine with thresholds)
// and how well each trunk has carried calls lately (Quality, a sliding
// window of MOS, answer-seizure ratio and post-dial delay with hysteresis).
//
// The package sends nothing itself: the B2BUA hands the Monitor a Prober
// that sends OPTIONS from the trunk realm's own listener.
package health
