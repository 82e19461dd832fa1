// Package record writes the media of one call to files: a stereo WAV (one
// leg per channel, 8 kHz, time-aligned, gaps filled with silence, decoded
// from whatever codec each leg uses) and/or a PCAP of the RTP received
// from each leg, plus a JSON metadata file beside them.
//
// The media path only copies packets into a bounded queue (Packet never
// blocks; a full queue drops the packet and counts it); one writer
// goroutine per recording decodes and writes. Files are written under a
// temporary name and renamed into place when the recording stops, so a
// reader never sees a half-written recording.
package record
