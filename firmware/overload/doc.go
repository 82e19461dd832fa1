// Package overload tells when sbcd is shedding load and when it stops.
//
// sbcd sheds load in two places: admission control refuses new calls at a
// concurrent-call or call-rate limit (503 with Retry-After), and the guard's
// rate limits drop messages of a flood before they are parsed. Both are
// counted; a [Detector] turns those cumulative counts into episodes with
// hysteresis: an episode starts when the refusals of one sampling interval
// reach Raise per second, and ends only when they have stayed below Clear
// per second for ClearAfter. A burst therefore gives one notification and
// one clear, not a storm of them. A [Monitor] samples the counts on a
// ticker and reports each start and end (sbcd sends them as the
// OPENBORDER-MIB obOverload and obOverloadCleared notifications).
package overload
