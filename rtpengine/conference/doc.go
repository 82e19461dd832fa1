// Package conference mixes the audio of N participants: the conference
// bridge behind sbcd's conference rooms.
//
// A Bridge holds rooms by name; a room is created by its first Join and
// removed when its last participant leaves. Each room has one goroutine,
// its mixing clock: every 20 ms it takes one frame from each
// participant's input, sums them, and sends each participant the sum of
// everyone but itself (the N-1 mix), encoded in that participant's own
// codec and packet time with its own RTP sequence, timestamp and SSRC.
//
// Participants speak PCMU, PCMA, G.722 or Opus. Everything is decoded to
// and mixed at one internal rate, 16 kHz linear PCM (Rate): G.722 is
// 16 kHz natively, libopus decodes and encodes 16 kHz directly, and only
// G.711 goes through a 2:1 resampler. Mixing at 48 kHz would triple the
// mixing and resampling work for a band (above 8 kHz) that none of the
// telephone codecs carries and that speech barely uses.
//
// Input is jitter-buffered per participant (packets reordered by
// sequence number, a configurable number held before playout starts,
// losses concealed, drift trimmed). Sums are taken in 32 bits and
// saturated to 16 bits, so loud talkers clip rather than wrap.
// A participant with nothing in its buffer costs no decoding; muted
// participants are still read (their buffer does not grow) but not
// mixed. Nothing on the packet path or the mixing clock allocates.
//
// The package opens no sockets: Push takes each received RTP packet and
// ParticipantConfig.Output receives each packet to send.
package conference
