package webphone

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed assets/index.html assets/phone.js assets/jssip.min.js
var assets embed.FS

// Config is what the page is told about this sbcd.
type Config struct {
	// WebSocketURL is the SIP over WebSocket address phones connect to
	// (ws://host:port or wss://host:port). Empty: the user types one.
	WebSocketURL string `json:"websocket_url"`
	// Domain is the SIP domain users register in (the host part of their
	// address of record).
	Domain string `json:"domain"`
	// TURNCredentials is the admin API path that hands out TURN
	// credentials; empty when TURN is off.
	TURNCredentials string `json:"turn_credentials,omitempty"`
}

// Handler serves the phone under prefix (e.g. "/phone/"): the page, its
// script, the JsSIP bundle and config.json.
func Handler(prefix string, cfg Config) http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "web phone assets missing: "+err.Error(), http.StatusInternalServerError)
		})
	}
	files := http.FileServerFS(sub)
	conf, _ := json.Marshal(cfg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(conf)
	})
	mux.Handle("GET "+prefix, http.StripPrefix(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Media and WebSocket connections go to sbcd's own realm
		// addresses, which the operator may put anywhere.
		w.Header().Set("Content-Security-Policy",
			"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})))
	return mux
}
