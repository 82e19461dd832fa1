package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client talks to sbcd's admin API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(addr, token string, insecure bool) *client {
	base := addr
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // operator's explicit choice
	}
	return &client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 15 * time.Second, Transport: tr}}
}

func pathEscape(s string) string { return url.PathEscape(s) }

// reply is an API answer: its JSON body or an error.
type reply struct {
	body []byte
	err  error
}

func (c *client) get(path string) reply { return c.do("GET", path, nil) }

func (c *client) do(method, path string, body []byte) reply {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return reply{err: fmt.Errorf("sbcd not reachable: %w", err)}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return reply{err: err}
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Reason   string   `json:"reason"`
			Problems []string `json:"problems"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Reason != "" {
			msg := fmt.Sprintf("%s: %s", res.Status, e.Reason)
			for _, p := range e.Problems {
				msg += "\n  " + p
			}
			return reply{body: raw, err: apiError(msg)}
		}
		return reply{body: raw, err: apiError(res.Status)}
	}
	return reply{body: raw}
}

type apiError string

func (e apiError) Error() string { return string(e) }

func (c *client) health(w io.Writer) error {
	res, err := c.http.Get(c.base + "/healthz")
	if err != nil {
		return fmt.Errorf("sbcd not reachable: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(w, res.Body)
	if res.StatusCode != http.StatusOK {
		return apiError(res.Status)
	}
	return nil
}
