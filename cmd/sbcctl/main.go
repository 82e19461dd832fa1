// Command sbcctl is the operator's command-line tool for sbcd.
//
//	sbcctl check-config FILE        validate a policy file offline
//	sbcctl health                   ask a running sbcd whether it is healthy
//	sbcctl status                   version, uptime, policy, counts
//	sbcctl calls                    calls in progress
//	sbcctl call ID                  one call with both legs and media stats
//	sbcctl hangup ID                end a call (operator)
//	sbcctl registrations            registered contacts
//	sbcctl registrations outbound   sbcd's own registrations with trunks
//	sbcctl trunks                   trunks and gateways with their health
//	sbcctl route explain REALM RURI [from=U] [source=IP:PORT] [time=T] [header=N:V]
//	                                where a call would go, and why (dry run)
//	sbcctl policy show              the running policy
//	sbcctl policy validate FILE     check a file against the running sbcd
//	sbcctl policy reload            reload the policy file (operator)
//	sbcctl summary                  metrics summary
//	sbcctl capture start FILTER [DURATION]   capture calls by call:ID, number:N[*], addr:IP[/bits], realm:NAME or trunk:NAME
//	sbcctl capture list | stop ID | ring     list, stop, or save the ring of recent SIP
//	sbcctl capture get ID FILE      download a capture (PCAPNG)
//	sbcctl capture stats            capture counters (queued, dropped, written)
//	sbcctl record start ID | stop ID  record a call's media (WAV/PCAP), or stop and write the files
//	sbcctl conference list | show ROOM   open conference rooms, or one room's participants
//	sbcctl conference mute ROOM ID | unmute ROOM ID   mute or unmute a participant (operator)
//	sbcctl blacklist list           blocked sources (manual and automatic)
//	sbcctl blacklist add IP [DURATION] | remove IP   block or unblock a source (operator)
//
// API commands take the token from -token-file or $SBCCTL_TOKEN and print
// tables, or the API's JSON with -json.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/openborder/openborder/policy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: sbcctl [flags] COMMAND
commands: check-config FILE | health | status | calls | call ID | hangup ID |
          registrations [outbound] | trunks | policy show | policy validate FILE |
          policy reload | summary | capture start FILTER [DURATION] |
          capture list | capture stop ID | capture ring | capture get ID FILE | capture stats |
          record start ID | record stop ID |
          conference list | conference show ROOM | conference mute ROOM ID | conference unmute ROOM ID |
          blacklist list | blacklist add IP [DURATION] | blacklist remove IP |
          route explain REALM RURI [from=USER] [source=IP:PORT] [time=RFC3339] [header=NAME:VALUE]...
flags:`

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sbcctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("admin", "127.0.0.1:8080", "admin address of sbcd (host:port, or an http(s):// URL)")
	tokenFile := fs.String("token-file", "", "file holding the API token (default: $SBCCTL_TOKEN)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of tables")
	insecure := fs.Bool("insecure", false, "do not verify the admin listener's TLS certificate")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	if cmd == "check-config" {
		if len(rest) != 1 {
			fs.Usage()
			return 2
		}
		set, err := policy.Load(rest[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK (%d realms, %d trunks)\n", rest[0], len(set.Realms()), len(set.Trunks()))
		return 0
	}
	token := strings.TrimSpace(os.Getenv("SBCCTL_TOKEN"))
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(stderr, "token file:", err)
			return 2
		}
		token = strings.TrimSpace(string(b))
	}
	c := newClient(*addr, token, *insecure)
	o := &out{w: stdout, json: *asJSON}
	err := dispatch(c, o, cmd, rest)
	switch e := err.(type) {
	case nil:
		return 0
	case usageError:
		fmt.Fprintln(stderr, e)
		fs.Usage()
		return 2
	default:
		fmt.Fprintln(stderr, "sbcctl:", err)
		return 1
	}
}

type usageError string

func (e usageError) Error() string { return string(e) }

func dispatch(c *client, o *out, cmd string, args []string) error {
	want := func(n int) error {
		if len(args) != n {
			return usageError(fmt.Sprintf("%s takes %d argument(s)", cmd, n))
		}
		return nil
	}
	switch cmd {
	case "health":
		return c.health(o.w)
	case "status":
		return o.show(c.get("/api/v1/status"), showStatus)
	case "calls":
		return o.show(c.get("/api/v1/calls"), showCalls)
	case "call":
		if err := want(1); err != nil {
			return err
		}
		return o.show(c.get("/api/v1/calls/"+pathEscape(args[0])), showCall)
	case "hangup":
		if err := want(1); err != nil {
			return err
		}
		return o.show(c.do("DELETE", "/api/v1/calls/"+pathEscape(args[0]), nil), showResult)
	case "registrations":
		if len(args) == 1 && args[0] == "outbound" {
			return o.show(c.get("/api/v1/registrations/outbound"), showOutbound)
		}
		if err := want(0); err != nil {
			return usageError("registrations takes no argument or outbound")
		}
		return o.show(c.get("/api/v1/registrations"), showRegistrations)
	case "trunks":
		return o.show(c.get("/api/v1/trunks"), showTrunks)
	case "summary":
		return o.show(c.get("/api/v1/metrics/summary"), showSummary)
	case "policy":
		if len(args) == 0 {
			return usageError("policy needs show, validate FILE or reload")
		}
		sub, args := args[0], args[1:]
		switch sub {
		case "show":
			return o.show(c.get("/api/v1/policy"), showPolicy)
		case "validate":
			if len(args) != 1 {
				return usageError("policy validate takes a FILE")
			}
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			return o.show(c.do("POST", "/api/v1/policy/validate", doc), showResult)
		case "reload":
			return o.show(c.do("POST", "/api/v1/policy/reload", nil), showResult)
		}
		return usageError("unknown policy command " + sub)
	case "capture":
		return captureCmd(c, o, args)
	case "record":
		return recordCmd(c, o, args)
	case "conference":
		return conferenceCmd(c, o, args)
	case "route":
		return routeCmd(c, o, args)
	case "blacklist":
		return blacklistCmd(c, o, args)
	case "":
		return usageError("no command")
	}
	return usageError("unknown command " + cmd)
}

func captureCmd(c *client, o *out, args []string) error {
	if len(args) == 0 {
		return usageError("capture needs start, list, stop, ring, get or stats")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "start":
		if len(args) < 1 || len(args) > 2 {
			return usageError("capture start FILTER [DURATION]")
		}
		body := map[string]string{"filter": args[0]}
		if len(args) == 2 {
			body["duration"] = args[1]
		}
		raw, _ := json.Marshal(body)
		return o.show(c.do("POST", "/api/v1/captures", raw), showResult)
	case "list":
		return o.show(c.get("/api/v1/captures"), showCaptures)
	case "stop":
		if len(args) != 1 {
			return usageError("capture stop ID")
		}
		return o.show(c.do("DELETE", "/api/v1/captures/"+pathEscape(args[0]), nil), showResult)
	case "ring":
		return o.show(c.do("POST", "/api/v1/captures/ring", nil), showResult)
	case "stats":
		return o.show(c.get("/api/v1/captures/stats"), showResult)
	case "get":
		if len(args) != 2 {
			return usageError("capture get ID FILE")
		}
		r := c.get("/api/v1/captures/" + pathEscape(args[0]) + "/file")
		if r.err != nil {
			return r.err
		}
		if err := os.WriteFile(args[1], r.body, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(o.w, "%s: %d bytes\n", args[1], len(r.body))
		return nil
	}
	return usageError("unknown capture command " + sub)
}
