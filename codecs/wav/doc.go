// Package wav reads and writes RIFF/WAVE audio files.
//
// Reader understands 16-bit and 8-bit PCM, G.711 A-law (format 6) and
// µ-law (format 7), each also inside WAVE_FORMAT_EXTENSIBLE, mono or
// multi-channel at any rate. It skips chunks it does not know, decodes
// every encoding to interleaved 16-bit linear PCM, and reports malformed
// or truncated files with ErrInvalid, ErrUnsupported or ErrTruncated
// instead of guessing. A data chunk whose size was never patched (0 or
// 0xFFFFFFFF, as left by an interrupted recording) is read to the end.
//
// Writer writes 16-bit PCM for recordings: it streams samples to an
// io.WriteSeeker and patches the RIFF and data sizes on Flush and Close.
//
// Reader.Read and Writer.Write reuse an internal buffer and do not
// allocate.
package wav
