// Package kstamp reads the kernel's receive timestamp of a datagram
// (SO_TIMESTAMPNS, delivered as an SCM_TIMESTAMPNS control message) for
// the load tools in test/, which time packets from their arrival in a
// socket rather than from when the tool got round to reading them.
package kstamp
