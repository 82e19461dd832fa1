// Package cac is call admission control: counters of concurrent calls and
// token buckets of new calls per second, kept per key (a trunk, a realm,
// an account), and toll-fraud accounting per account and destination
// prefix (calls per hour, concurrent calls, cost) that blocks an account
// for a while when it breaches a limit.
//
// Both are safe for concurrent use and take one short mutex per decision;
// the B2BUA asks them once per call set-up and tells them when a call is
// answered and when it ends.
package cac
