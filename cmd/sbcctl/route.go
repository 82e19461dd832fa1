package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openborder/openborder/firmware/admin"
)

const routeUsage = "route explain REALM RURI [from=USER] [source=IP:PORT] [time=RFC3339] [header=NAME:VALUE]..."

// routeCmd runs "sbcctl route explain": a dry run of routing.
func routeCmd(c *client, o *out, args []string) error {
	if len(args) < 3 || args[0] != "explain" {
		return usageError(routeUsage)
	}
	req, err := explainRequest(args[1], args[2], args[3:])
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(req)
	return o.show(c.do("POST", "/api/v1/route/explain", raw), showExplanation)
}

// explainRequest builds the API request from the command's arguments.
func explainRequest(realm, ruri string, opts []string) (admin.ExplainRequest, error) {
	req := admin.ExplainRequest{SourceRealm: realm, RURI: ruri}
	if !strings.HasPrefix(ruri, "sip:") && !strings.HasPrefix(ruri, "sips:") {
		req.RURI, req.RURIUser = "", ruri
	}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return req, usageError(fmt.Sprintf("%q is not KEY=VALUE; %s", o, routeUsage))
		}
		switch k {
		case "from":
			req.FromUser = v
		case "source":
			req.SourceAddress = v
		case "time":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return req, usageError(fmt.Sprintf("time %q is not RFC 3339 (2026-11-24T09:30:00+01:00)", v))
			}
			req.Time = &t
		case "header":
			name, val, ok := strings.Cut(v, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return req, usageError(fmt.Sprintf("header %q is not NAME:VALUE", v))
			}
			if req.Headers == nil {
				req.Headers = map[string][]string{}
			}
			name = strings.TrimSpace(name)
			req.Headers[name] = append(req.Headers[name], strings.TrimSpace(val))
		default:
			return req, usageError(fmt.Sprintf("unknown option %q; %s", k, routeUsage))
		}
	}
	return req, nil
}

func showExplanation(w io.Writer, b []byte) error {
	var e admin.Explanation
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	fmt.Fprintf(w, "outcome:\t%s\n", e.Outcome)
	fmt.Fprintf(w, "route:\t%s\n", dash(e.Route))
	if e.SourceTrunk != "" {
		fmt.Fprintf(w, "source trunk:\t%s\n", e.SourceTrunk)
	}
	if e.Strategy != "" {
		fmt.Fprintf(w, "strategy:\t%s\n", e.Strategy)
	}
	fmt.Fprintf(w, "called / calling:\t%s / %s\n", dash(e.CalledUser), dash(e.CallingUser))
	if f := e.Failover; f != nil && e.Route != "" {
		codes := "each trunk's"
		if len(f.Codes) > 0 {
			codes = fmt.Sprint(f.Codes)
		}
		fmt.Fprintf(w, "failover:\tcodes %s, max attempts %d, attempt timeout %dms, setup timeout %dms\n",
			codes, f.MaxAttempts, f.AttemptTimeoutMs, f.SetupTimeoutMs)
	}
	if len(e.Candidates) > 0 {
		fmt.Fprintln(w, "\nTRUNK\tUSABLE\tCOST\tWEIGHT\tQUALITY\tGATEWAYS\tNOTE")
		for _, c := range e.Candidates {
			cost := "-"
			if c.HasCost {
				cost = fmt.Sprintf("%g (%s)", c.Cost, dash(c.Prefix))
			}
			weight := "-"
			if c.Weight > 0 {
				weight = fmt.Sprint(c.Weight)
			}
			q := "-"
			if c.Quality != nil {
				q = fmt.Sprintf("mos %.2f asr %.0f%% n=%d", c.Quality.MOS, c.Quality.ASR, c.Quality.Samples)
				if c.Quality.Degraded {
					q += " degraded"
				}
			}
			var gws []string
			for _, g := range c.Gateways {
				gws = append(gws, g.Address+" "+g.Health)
			}
			fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\t%s\t%s\n", c.Trunk, c.Usable, cost, weight, q, dash(strings.Join(gws, ", ")), dash(c.Note))
		}
	}
	fmt.Fprintln(w, "\nROUTE\tMATCHED\tWHY")
	for _, c := range e.Checked {
		fmt.Fprintf(w, "%s\t%v\t%s\n", c.Route, c.Matched, c.Why)
	}
	return nil
}
