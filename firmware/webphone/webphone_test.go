package webphone

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler("/phone/", Config{WebSocketURL: "ws://127.0.0.1:8088", Domain: "example.com",
		TURNCredentials: "/api/v1/turn/credentials"}))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	tests := []struct {
		path, ctype, contains string
		status                int
	}{
		{"/phone/", "text/html", `<script src="phone.js">`, 200},
		{"/phone/phone.js", "javascript", "window.phone = phone", 200},
		{"/phone/jssip.min.js", "javascript", "JsSIP", 200},
		{"/phone/config.json", "application/json", `"websocket_url":"ws://127.0.0.1:8088"`, 200},
		{"/phone/nothing.js", "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := get(tt.path)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if !strings.Contains(res.Header.Get("Content-Type"), tt.ctype) || !strings.Contains(body, tt.contains) {
				t.Errorf("type %q, body lacks %q", res.Header.Get("Content-Type"), tt.contains)
			}
		})
	}
	res, body := get("/phone/config.json")
	var c Config
	if err := json.Unmarshal([]byte(body), &c); err != nil || c.Domain != "example.com" || c.TURNCredentials == "" {
		t.Errorf("config %q: %+v %v", body, c, err)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("config.json is cacheable")
	}
	res, _ = get("/phone/")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q", csp)
	}
}
