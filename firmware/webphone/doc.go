// Package webphone is the browser phone sbcd serves on its admin listener
// at /phone/: a page that registers over SIP over WebSocket, calls,
// answers, holds, mutes, sends DTMF and shows the call state and audio
// levels. Its SIP stack is JsSIP, pinned in package-lock.json and bundled
// into assets/jssip.min.js by `make webphone` (the bundle is committed, so
// building sbcd needs no npm). The page takes fresh TURN credentials from
// the admin API when the user gives it an API token.
package webphone
