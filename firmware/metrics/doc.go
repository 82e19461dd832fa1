// Package metrics exposes sbcd to Prometheus: a private registry with the
// signalling plane's counters (fed through sbc.Observer), the media
// plane's snapshot (rtpengine.Metrics, read at scrape time), per-trunk
// ASR/ACD/NER over a sliding window, configuration reloads, and the Go
// runtime and process collectors.
//
// No label carries a per-call value (Call-ID, number, address): labels are
// realms, trunks, pools, methods from a fixed list, status classes and
// reasons from fixed lists, so the series count is bounded by the policy.
package metrics
