package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// tortureDir finds the RFC 4475 / RFC 5118 torture messages: SIP_TORTURE_DIR,
// else a sibling "shared/sip-torture" of a directory above the working
// directory. Missing, the test skips (fails under CI=true).
func tortureDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SIP_TORTURE_DIR"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; ; {
		cand := filepath.Join(filepath.Dir(d), "shared", "sip-torture")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	if InCI() {
		t.Fatal("SIP torture messages not found: set SIP_TORTURE_DIR or put them in ../shared/sip-torture")
	}
	t.Skip("SIP torture messages not found (SIP_TORTURE_DIR)")
	return ""
}

// tortureCase is one line of a manifest.tsv.
type tortureCase struct {
	dir, name, accept, flags string
}

func readManifests(t *testing.T, root string) []tortureCase {
	t.Helper()
	var out []tortureCase
	for _, sub := range []string{"rfc4475", "rfc5118"} {
		f, err := os.Open(filepath.Join(root, sub, "manifest.tsv"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			col := strings.Split(line, "\t")
			if len(col) < 5 {
				t.Fatalf("%s: bad manifest line %q", sub, line)
			}
			c := tortureCase{dir: filepath.Join(root, sub), name: col[0], accept: col[4]}
			if len(col) > 5 {
				c.flags = col[5]
			}
			out = append(out, c)
		}
		f.Close()
	}
	return out
}

// acceptFor returns the accept expression for a transport.
func acceptFor(expr, transport string) string {
	if !strings.Contains(expr, ":") || !strings.Contains(expr, "udp:") && !strings.Contains(expr, "tcp:") {
		return expr
	}
	for _, part := range strings.Split(expr, ";") {
		if k, v, ok := strings.Cut(part, ":"); ok && k == transport {
			return v
		}
	}
	return "any"
}

// accepts evaluates an accept expression against the statuses received.
func accepts(expr string, got []int) bool {
	final := 0
	for _, s := range got {
		if s >= 200 {
			final = s
			break
		}
	}
	for _, term := range strings.Split(expr, "|") {
		neg := strings.HasPrefix(term, "!")
		term = strings.TrimPrefix(term, "!")
		match := func(s int) bool {
			if strings.HasSuffix(term, "xx") {
				return strconv.Itoa(s)[:1] == term[:1]
			}
			n, _ := strconv.Atoi(term)
			return s == n
		}
		switch {
		case term == "any":
			return true
		case term == "none":
			if len(got) == 0 {
				return true
			}
		case term == "resp":
			if len(got) > 0 {
				return true
			}
		case term == "final":
			if final != 0 {
				return true
			}
		case neg:
			// Any response other than that: a final answer that differs,
			// or only provisional ones (the request was taken on).
			if len(got) > 0 && (final == 0 || !match(final)) {
				return true
			}
		default:
			if final != 0 && match(final) {
				return true
			}
			for _, s := range got {
				if s < 200 && match(s) {
					return true
				}
			}
		}
	}
	return false
}

var (
	viaRE    = regexp.MustCompile(`(?im)^(via|v)(\s*:\s*SIP\s*/\s*2\.0\s*/\s*)([A-Za-z]+)(\s+)([^;,\s]+)`)
	callIDRE = regexp.MustCompile(`(?im)^(call-id|i)([ \t]*:[ \t]*)(\S+)`)
	branchRE = regexp.MustCompile(`(?i)(branch=)(z9hG4bK[^;,\s]+)`)
)

// prepare rewrites a torture message for sending: the top Via's sent-by
// points at the test socket (unless via=raw), and Call-ID and branch are
// made unique per run (per the randomize flag).
func prepare(raw []byte, c tortureCase, transport, self, run string) []byte {
	msg := raw
	if !strings.Contains(c.flags, "via=raw") {
		done := false
		msg = viaRE.ReplaceAllFunc(msg, func(m []byte) []byte {
			if done {
				return m
			}
			done = true
			sub := viaRE.FindSubmatch(m)
			return []byte(string(sub[1]) + string(sub[2]) + strings.ToUpper(transport) + string(sub[4]) + self)
		})
	}
	rnd := "all"
	for _, f := range strings.Fields(strings.ReplaceAll(c.flags, ",", " ")) {
		if v, ok := strings.CutPrefix(f, "randomize="); ok {
			rnd = v
		}
	}
	if rnd == "all" || rnd == "callid" {
		msg = callIDRE.ReplaceAll(msg, []byte("${1}${2}"+run+"-${3}"))
	}
	if rnd == "all" {
		msg = branchRE.ReplaceAll(msg, []byte("${1}${2}"+run))
	}
	return msg
}

// statuses reads SIP responses from r until wait passes (or a final one
// arrives when stopAtFinal).
func collect(read func([]byte) (int, error), setDeadline func(time.Time) error, wait time.Duration) []int {
	var got []int
	deadline := time.Now().Add(wait)
	buf := make([]byte, 65536)
	var pending []byte
	for time.Now().Before(deadline) {
		_ = setDeadline(deadline)
		n, err := read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.Index(pending, []byte("SIP/2.0 "))
				if i < 0 || len(pending) < i+11 {
					break
				}
				s, _ := strconv.Atoi(string(pending[i+8 : i+11]))
				got = append(got, s)
				pending = pending[i+11:]
				if s >= 200 {
					return got
				}
			}
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			break
		}
	}
	return got
}

func TestSecurityTortureMessages(t *testing.T) {
	root := tortureDir(t)
	cases := readManifests(t, root)
	const net = 30
	topo := Topology{Net: net}
	target := topo.AccessSIP()
	e := newEnv(t, net, func(c *policy.Config) {
		// One source sends every message: scanner heuristics would
		// (rightly) block it for the many distinct users.
		c.Security.Scanner.Disabled = true
		c.Realms[0].Listeners = append(c.Realms[0].Listeners, policy.ListenerConfig{Transport: "tcp", Address: target})
	})
	callerIP := e.topo.CallerIP(0)
	stop := answerAll(t, e.topo.Gateway(0))
	defer stop()
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for _, tr := range []string{"udp", "tcp"} {
		for i, c := range cases {
			if strings.Contains(c.flags, "transports=") && !strings.Contains(c.flags, tr) {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(c.dir, c.name+".dat"))
			if err != nil {
				t.Fatal(err)
			}
			expr := acceptFor(c.accept, tr)
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				wait := 6 * time.Second
				if expr == "none" || expr == "any" {
					wait = 700 * time.Millisecond
				}
				got, err := sendTorture(tr, callerIP, target, raw, c, fmt.Sprintf("%s%d%s", run, i, tr), wait)
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s/%s: %v", tr, c.name, err))
					mu.Unlock()
					return
				}
				if !accepts(expr, got) {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s/%s: got %v, manifest accepts %q", tr, c.name, got, expr))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		// Whatever it got, sbcd must still answer a plain request.
		if got, err := sendTorture(tr, callerIP, target, []byte(optionsPing(tr)), tortureCase{}, run+"ping"+tr, 3*time.Second); err != nil || !accepts("final", got) {
			t.Fatalf("%s: sbcd does not answer OPTIONS after the torture messages: %v %v", tr, got, err)
		}
	}
	for _, f := range failures {
		t.Error(f)
	}
}

func optionsPing(tr string) string {
	return "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/" + strings.ToUpper(tr) + " 127.0.0.1:1;branch=z9hG4bKping\r\n" +
		"Max-Forwards: 70\r\nTo: <sip:ping@127.0.0.1>\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\nCall-ID: ping\r\n" +
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
}

// sendTorture sends one message from a fresh socket of callerIP and
// collects the statuses answered within wait.
func sendTorture(tr, callerIP, target string, raw []byte, c tortureCase, run string, wait time.Duration) ([]int, error) {
	switch tr {
	case "udp":
		conn, err := net.ListenPacket("udp", callerIP+":0")
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		msg := prepare(raw, c, tr, conn.LocalAddr().String(), run)
		dst, _ := net.ResolveUDPAddr("udp", target)
		if _, err := conn.WriteTo(msg, dst); err != nil {
			return nil, err
		}
		return collect(func(b []byte) (int, error) { n, _, err := conn.ReadFrom(b); return n, err }, conn.SetReadDeadline, wait), nil
	default:
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(callerIP)}, Timeout: 2 * time.Second}
		conn, err := d.Dial("tcp", target)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		msg := prepare(raw, c, tr, conn.LocalAddr().String(), run)
		if _, err := conn.Write(msg); err != nil {
			return nil, err
		}
		return collect(conn.Read, conn.SetReadDeadline, wait), nil
	}
}

// answerAll runs a minimal UAS on addr that answers every request but ACK
// statelessly: INVITE with 486, anything else with 200.
func answerAll(t *testing.T, addr string) func() {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := ParseMessage(string(buf[:n]))
			if err != nil || !m.IsRequest() || m.Method() == "ACK" {
				continue
			}
			code, reason := 200, "OK"
			if m.Method() == "INVITE" {
				code, reason = 486, "Busy Here"
			}
			var b strings.Builder
			fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
			for _, v := range m.Headers("Via") {
				fmt.Fprintf(&b, "Via: %s\r\n", v)
			}
			to := m.Header("To")
			if m.ToTag() == "" {
				to += ";tag=uas1"
			}
			fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
				m.Header("From"), to, m.CallID(), m.Header("CSeq"))
			_, _ = pc.WriteTo([]byte(b.String()), from)
		}
	}()
	return func() { pc.Close(); <-done }
}
