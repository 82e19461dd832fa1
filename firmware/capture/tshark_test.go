package capture

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/test/testenv"
)

// needTshark returns tshark's path (see testenv for a missing tool).
func needTshark(t *testing.T) string { return testenv.RequireTool(t, "tshark") }

// tshark runs tshark on file with args and returns its standard output.
func tshark(t *testing.T, bin, file string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-n", "-r", file}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user profile
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func writeFile(t *testing.T, o WriterOptions, recs []Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "call.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// fields runs tshark with -T fields and returns one slice of fields per
// packet line.
func fields(t *testing.T, bin, file, filter string, extra []string, names ...string) [][]string {
	t.Helper()
	args := append([]string{}, extra...)
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	args = append(args, "-T", "fields", "-E", "separator=|")
	for _, n := range names {
		args = append(args, "-e", n)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(tshark(t, bin, file, args...), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "|"))
		}
	}
	return rows
}

func TestTsharkDecodesCall(t *testing.T) {
	bin := needTshark(t)
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	const rtpPerStream = 50
	call := sipCall(t0, rtpPerStream)
	tcp := tcpExchange(t0.Add(2 * time.Second))
	recs := append(append([]Record{}, call...), tcp...)
	path := writeFile(t, WriterOptions{Comment: "OpenBorder sbcd capture; filter=call:" + callKey}, recs)

	t.Run("sip dialogs over udp", func(t *testing.T) {
		rows := fields(t, bin, path, "sip && udp", nil, "sip.Call-ID", "sip.Method", "sip.Status-Code", "sip.CSeq.method")
		got := map[string][]string{}
		for _, r := range rows {
			got[r[0]] = append(got[r[0]], r[1]+r[2]+"/"+r[3])
		}
		want := "INVITE/INVITE 100/INVITE 180/INVITE 200/INVITE ACK/ACK BYE/BYE 200/BYE"
		for _, id := range []string{callIDA, callIDB} {
			if s := strings.Join(got[id], " "); s != want {
				t.Errorf("Call-ID %s decoded as\n  %s\nwant\n  %s", id, s, want)
			}
		}
		if len(rows) != 14 {
			t.Errorf("%d SIP packets over UDP, want 14", len(rows))
		}
	})

	t.Run("sdp", func(t *testing.T) {
		rows := fields(t, bin, path, "sdp && udp", nil, "sdp.media.port", "sdp.connection_info.address")
		var ports []string
		for _, r := range rows {
			ports = append(ports, r[0]+"@"+r[1])
		}
		want := "40000@127.0.0.10 20002@127.0.0.1 30000@127.0.0.1 20000@127.0.0.1"
		if s := strings.Join(ports, " "); s != want {
			t.Errorf("SDP media %s, want %s", s, want)
		}
	})

	t.Run("rtp streams from sdp", func(t *testing.T) {
		checkStreams(t, tshark(t, bin, path, "-q", "-z", "rtp,streams"), rtpPerStream)
	})

	t.Run("rtcp", func(t *testing.T) {
		rows := fields(t, bin, path, "rtcp.pt == 200", nil, "rtcp.senderssrc", "rtcp.sender.packetcount")
		if len(rows) != 4 {
			t.Fatalf("%d RTCP sender reports, want 4: %v", len(rows), rows)
		}
		for _, r := range rows {
			if r[1] != fmt.Sprint(rtpPerStream/2) {
				t.Errorf("sender report %v: packet count %s, want %d", r, r[1], rtpPerStream/2)
			}
		}
	})

	t.Run("sip over tcp", func(t *testing.T) {
		rows := fields(t, bin, path, "sip && tcp", nil, "sip.Method", "sip.Status-Code", "sip.Call-ID", "tcp.reassembled.length")
		var got []string
		for _, r := range rows {
			got = append(got, r[0]+r[1])
		}
		if s := strings.Join(got, " "); s != "REGISTER 200 INVITE 100" {
			t.Errorf("SIP over TCP decoded as %q", s)
		}
		if len(rows) == 4 && rows[2][3] != fmt.Sprint(len(tcp[2].Payload)) {
			t.Errorf("INVITE reassembled to %q bytes, want %d", rows[2][3], len(tcp[2].Payload))
		}
		if bad := fields(t, bin, path, "tcp.analysis.flags", nil, "frame.number", "_ws.expert.message"); len(bad) != 0 {
			t.Errorf("tshark flags TCP problems: %v", bad)
		}
	})

	t.Run("packet comments", func(t *testing.T) {
		// One packet per record, except TCP segments of a long message.
		var want []string
		for _, rec := range recs {
			c := fmt.Sprintf("realm=%s dir=%s transport=%s kind=%s", rec.Realm, rec.Dir, rec.Transport, rec.Kind)
			if rec.CallKey != "" {
				c += " call=" + rec.CallKey
			}
			segments := 1
			if rec.Transport.stream() {
				segments = (len(rec.Payload) + tcpSegment - 1) / tcpSegment
			}
			for range segments {
				want = append(want, c)
			}
		}
		rows := fields(t, bin, path, "", nil, "frame.comment")
		if len(rows) != len(want) {
			t.Fatalf("%d packets, want %d", len(rows), len(want))
		}
		for i, r := range rows {
			if r[0] != want[i] {
				t.Fatalf("packet %d comment %q, want %q", i+1, r[0], want[i])
			}
		}
	})
}

// checkStreams asserts that tshark's "rtp,streams" report shows the four
// streams of sipCall with n packets each and no loss.
func checkStreams(t *testing.T, report string, n int) {
	t.Helper()
	found := map[string]bool{}
	for _, line := range strings.Split(report, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || !strings.HasPrefix(f[6], "0x") {
			continue
		}
		ssrc := f[6]
		found[ssrc] = true
		if f[7] != "g711U" || f[8] != fmt.Sprint(n) || f[9] != "0" {
			t.Errorf("stream %s: codec %s, %s packets, %s lost; want g711U, %d, 0\n%s", ssrc, f[7], f[8], f[9], n, line)
		}
	}
	for _, ssrc := range []string{"0x11111111", "0x22222222", "0x33333333", "0x44444444"} {
		if !found[ssrc] {
			t.Errorf("stream %s missing from\n%s", ssrc, report)
		}
	}
}

// TestTsharkRTPWithoutSDP writes only the media of the call: tshark finds
// the streams by decode-as or by its RTP heuristic.
func TestTsharkRTPWithoutSDP(t *testing.T) {
	bin := needTshark(t)
	var media []Record
	for _, r := range sipCall(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), 30) {
		if r.Kind == RTP {
			media = append(media, r)
		}
	}
	path := writeFile(t, WriterOptions{}, media)
	t.Run("decode as", func(t *testing.T) {
		checkStreams(t, tshark(t, bin, path, "-d", "udp.port==20000,rtp", "-d", "udp.port==20002,rtp", "-q", "-z", "rtp,streams"), 30)
	})
	t.Run("heuristic", func(t *testing.T) {
		checkStreams(t, tshark(t, bin, path, "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams"), 30)
	})
}

// TestTsharkVariants covers raw IP link type, IPv6, TLS and WebSocket.
func TestTsharkVariants(t *testing.T) {
	bin := needTshark(t)
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	v6 := func(recs []Record) []Record {
		for i := range recs {
			recs[i].Local = netip.AddrPortFrom(netip.MustParseAddr("::1"), recs[i].Local.Port())
			recs[i].Remote = netip.AddrPortFrom(netip.MustParseAddr("fd00::20"), recs[i].Remote.Port())
		}
		return recs
	}
	transport := func(tr Transport, port uint16) func([]Record) []Record {
		return func(recs []Record) []Record {
			for i := range recs {
				recs[i].Transport = tr
				recs[i].Local = netip.AddrPortFrom(recs[i].Local.Addr(), port)
			}
			return recs
		}
	}
	tests := []struct {
		name  string
		opts  WriterOptions
		edit  func([]Record) []Record
		extra []string
	}{
		{"raw ip", WriterOptions{RawIP: true}, func(r []Record) []Record { return r }, nil},
		{"ipv6 over ethernet", WriterOptions{}, v6, nil},
		{"ipv6 raw", WriterOptions{RawIP: true}, v6, nil},
		{"tls on 5061", WriterOptions{}, transport(TLS, 5061), nil},
		{"ws on 8088 with heuristics first", WriterOptions{}, transport(WS, 8088), []string{"-o", "tcp.try_heuristic_first:TRUE"}},
		{"wss on 8089 decoded as sip", WriterOptions{}, transport(WSS, 8089), []string{"-d", "tcp.port==8089,sip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := tt.edit(tcpExchange(t0))
			path := writeFile(t, tt.opts, recs)
			rows := fields(t, bin, path, "sip", tt.extra, "sip.Method", "sip.Status-Code", "ip.src", "ipv6.src")
			var got []string
			for _, r := range rows {
				got = append(got, r[0]+r[1])
			}
			if s := strings.Join(got, " "); s != "REGISTER 200 INVITE 100" {
				t.Fatalf("decoded %q", s)
			}
			wantSrc := recs[0].Remote.Addr().String()
			if rows[0][2] != wantSrc && rows[0][3] != wantSrc {
				t.Errorf("REGISTER from %v, want %s", rows[0][2:], wantSrc)
			}
		})
	}
}
