// Package cdr will hold sbcd's call detail record model and its durable
// sinks (CSV/JSONL files with rotation, RADIUS accounting). It is a leaf
// package (standard library only).
package cdr
