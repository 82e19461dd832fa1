// Package cdr holds sbcd's call detail record model and its durable file
// sinks.
//
// A [Record] describes one call attempt: the parties before and after
// normalisation, the realms, trunk and gateway, the times of the call, why
// and by whom it ended, the codecs and media statistics of both legs. The
// signalling plane hands one Record per attempt to a [Sink].
//
// [Writer] is the file sink. It appends each record to a CSV file, a JSON
// lines file, or both, rotates the files by size and by time, and returns
// from [Writer.Write] only after the record has been written and the file
// synchronised to disk. Concurrent writers are grouped into one write and one
// fsync per file (group commit), so durability costs one fsync per batch, not
// one per record.
//
// [ReadFile], [ReadCSV] and [ReadJSONL] parse those files back into records.
// They tolerate a torn final line — the trace of a crash in the middle of a
// write whose caller had not yet been told it succeeded — and report it in
// [ReadResult.Torn]; anything else that does not parse is an error.
//
// RADIUS accounting (RFC 2866) lives in the subpackage cdr/radius.
//
// The package is a leaf: it imports the standard library only.
package cdr
