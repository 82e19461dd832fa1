package admin

import (
	_ "embed"
	"net/http"
)

//go:embed ui/index.html
var statusPage []byte

// StatusPage serves the small status page (calls, trunks, health). The
// page holds no data: it asks the API with the token the operator types.
func StatusPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'")
		w.Header().Set("X-Frame-Options", "DENY")
		_, _ = w.Write(statusPage)
	})
}
