//go:build linux && cgo

// Command webrtcload measures sbcd as a WebRTC gateway: -calls concurrent
// calls from Go WebRTC peers (pion/webrtc: ICE, DTLS-SRTP, Opus only, SIP
// over WebSocket) to a SIP endpoint that takes only PCMU over plain RTP,
// so sbcd terminates DTLS-SRTP and transcodes every call.
//
//	go run ./test/webrtcload -calls 50 -duration 20s [-sbcd BIN]
//
// Calls are set up -setup at a time; the DTLS handshake rate is the
// number of handshakes over the span from the first one starting to the
// last one done. Then for -duration both sides send 20 ms frames (a
// pre-encoded Opus tone from the browsers, PCMU from the SIP side). It
// prints one key=value line: calls connected, per direction frames sent
// and received (loss) and late frames (arriving more than 40 ms after the
// previous one), DTLS handshakes per second and their median duration,
// sbcd's CPU (utime+stime from /proc over the send window) and the
// one-minute load average.
//
// sbcd (built from ./cmd/sbcd unless -sbcd names a binary) listens on
// 127.105.9.1; the SIP endpoint and the peers use 127.105.9.2 and
// 127.0.0.1. Every loop is bounded by -calls and -duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/test/audiocheck"

	"github.com/openborder/openborder/test/procstat"
)

const (
	sbcIP   = "127.105.9.1"
	peerIP  = "127.105.9.2"
	wsAddr  = sbcIP + ":28088"
	uasAddr = peerIP + ":25090"
)

const policyYAML = `log: {level: warn}
admin: {address: ` + sbcIP + `:28080}
realms:
  - name: access
    listeners:
      - {transport: udp, address: ` + sbcIP + `:25060}
      - transport: ws
        address: ` + wsAddr + `
        websocket: {max_connections: 5000}
    media: {address: ` + sbcIP + `, port_min: 30000, port_max: 33999, srtp: webrtc}
  - name: core
    listeners:
      - {transport: udp, address: ` + sbcIP + `:25080}
    media: {address: ` + sbcIP + `, port_min: 34000, port_max: 37999, srtp: none, codecs: [PCMU]}
trunks:
  - name: pbx
    realm: core
    gateways: [{address: ` + uasAddr + `}]
    codecs: [PCMU]
    limits: {max_calls: 10000}
routes:
  - {name: out, match: {source_realm: access}, trunks: [pbx]}
`

// verbose prints the first call's answer and transport statistics.
var verbose bool

func main() {
	calls := flag.Int("calls", 50, "concurrent WebRTC <-> SIP calls")
	setup := flag.Int("setup", 10, "calls set up at a time")
	dur := flag.Duration("duration", 20*time.Second, "send window")
	bin := flag.String("sbcd", "", "sbcd binary (default: build ./cmd/sbcd)")
	flag.BoolVar(&verbose, "v", false, "print the first call's SDP answer and ICE/DTLS statistics")
	flag.Parse()
	if err := run(*calls, *setup, *dur, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "webrtcload:", err)
		os.Exit(1)
	}
}

// stream counts one direction of one call.
type stream struct {
	received, late atomic.Uint64
	last           atomic.Int64 // arrival of the previous packet, Unix ns
}

func (s *stream) got(now int64) {
	if prev := s.last.Swap(now); prev != 0 && now-prev > int64(40*time.Millisecond) {
		s.late.Add(1)
	}
	s.received.Add(1)
}

type call struct {
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticSample
	ws        net.Conn
	toBrowser stream // PCMU -> Opus, counted at the browser
	dtlsStart time.Time
	dtlsDone  chan time.Time
	callID    string
	byeMsg    string
	byeSent   bool
}

func run(n, setup int, dur time.Duration, bin string) error {
	if n < 1 || n > 2000 || setup < 1 || dur <= 0 || dur > 10*time.Minute {
		return errors.New("calls 1-2000, setup ≥ 1, duration up to 10m")
	}
	dir, err := os.MkdirTemp("", "webrtcload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "sbcd")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/sbcd").CombinedOutput(); err != nil {
			return fmt.Errorf("build sbcd: %w\n%s", err, out)
		}
	}
	cfg := filepath.Join(dir, "sbcd.yaml")
	if err := os.WriteFile(cfg, []byte(policyYAML), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()

	uas, err := newUAS()
	if err != nil {
		return err
	}
	defer uas.close()
	if err := waitListening(wsAddr, 10*time.Second); err != nil {
		return err
	}

	// One second of a pre-encoded Opus tone (the browsers' microphones)
	// and of PCMU (the SIP side), looped: the load does no codec work.
	enc, err := opus.NewEncoder(opus.EncoderConfig{})
	if err != nil {
		return err
	}
	var opusFrames, ulawFrames [50][]byte
	for f := range 50 {
		buf := make([]byte, 1500)
		k, err := enc.Encode(audiocheck.Sine(48000, f*960, 960, 440, 8000), buf)
		if err != nil {
			return err
		}
		opusFrames[f] = buf[:k]
		u := make([]byte, 160)
		codecs.UlawEncodeFrame(u, audiocheck.Sine(8000, f*160, 160, 1000, 8000))
		ulawFrames[f] = u
	}

	api := newAPI()
	cs := make([]*call, n)
	setupStart := time.Now()
	sem := make(chan struct{}, setup)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cs[i], errs[i] = dial(api, i)
		})
	}
	wg.Wait()
	setupTime := time.Since(setupStart)
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.hangup()
			}
		}
	}()
	connected := 0
	var first, last time.Time
	var hs []time.Duration
	for i, c := range cs {
		if errs[i] != nil {
			if connected == 0 && i == n-1 {
				return errs[i]
			}
			fmt.Fprintf(os.Stderr, "call %d: %v\n", i, errs[i])
			continue
		}
		select {
		case done := <-c.dtlsDone:
			connected++
			if first.IsZero() || c.dtlsStart.Before(first) {
				first = c.dtlsStart
			}
			if done.After(last) {
				last = done
			}
			hs = append(hs, done.Sub(c.dtlsStart))
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "call %d: DTLS not connected\n", i)
		}
	}
	if connected == 0 {
		return errors.New("no call connected")
	}
	slices.Sort(hs)

	// Warm up half a second, then count over the window.
	stop := make(chan struct{})
	var sentB, sentS atomic.Uint64
	var senders sync.WaitGroup
	senders.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			for _, c := range cs {
				if c != nil && c.track != nil {
					if c.track.WriteSample(media.Sample{Data: opusFrames[k%50], Duration: 20 * time.Millisecond}) == nil {
						sentB.Add(1)
					}
				}
			}
			sentS.Add(uint64(uas.send(ulawFrames[k%50])))
		}
	})
	time.Sleep(500 * time.Millisecond)
	reset := func() {
		sentB.Store(0)
		sentS.Store(0)
		uas.reset()
		for _, c := range cs {
			if c != nil {
				c.toBrowser.received.Store(0)
				c.toBrowser.late.Store(0)
			}
		}
	}
	reset()
	cpu0, err := procstat.ProcessCPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	time.Sleep(dur)
	cpu1, _ := procstat.ProcessCPU(cmd.Process.Pid)
	close(stop)
	senders.Wait()
	time.Sleep(300 * time.Millisecond) // in flight
	var recvB, lateB uint64
	for _, c := range cs {
		if c != nil {
			recvB += c.toBrowser.received.Load()
			lateB += c.toBrowser.late.Load()
		}
	}
	recvS, lateS := uas.counts()
	if verbose && cs[0] != nil {
		for _, st := range cs[0].pc.GetStats() {
			switch v := st.(type) {
			case webrtc.TransportStats:
				fmt.Fprintf(os.Stderr, "transport: %+v\n", v)
			case webrtc.ICECandidatePairStats:
				fmt.Fprintf(os.Stderr, "pair: %+v\n", v)
			}
		}
	}
	loss := func(sent, recv uint64) float64 {
		if sent == 0 || recv >= sent {
			return 0
		}
		return float64(sent-recv) / float64(sent)
	}
	cpu := cpu1 - cpu0
	fmt.Printf("calls=%d connected=%d setup_s=%.2f dtls_handshakes_per_s=%.1f dtls_handshake_p50_ms=%.1f "+
		"browser_to_sip_sent=%d sip_received=%d sip_loss=%.5f sip_late=%d "+
		"sip_to_browser_sent=%d browser_received=%d browser_loss=%.5f browser_late=%d "+
		"sbcd_cpu_s=%.2f sbcd_cpu_pct=%.1f cpu_per_call_pct=%.3f loadavg=%s\n",
		n, connected, setupTime.Seconds(), float64(connected)/last.Sub(first).Seconds(),
		float64(hs[len(hs)/2].Microseconds())/1000,
		sentB.Load(), recvS, loss(sentB.Load(), recvS), lateS,
		sentS.Load(), recvB, loss(sentS.Load(), recvB), lateB,
		cpu.Seconds(), 100*cpu.Seconds()/dur.Seconds(), 100*cpu.Seconds()/dur.Seconds()/float64(connected), loadavg())
	return nil
}

func newAPI() *webrtc.API {
	m := &webrtc.MediaEngine{}
	_ = m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111}, webrtc.RTPCodecTypeAudio)
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

// dial makes call i: a peer connection offering Opus only, INVITE over
// its own WebSocket, the answer applied, ACK sent.
func dial(api *webrtc.API, i int) (*call, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &call{pc: pc, dtlsDone: make(chan time.Time, 1), callID: fmt.Sprintf("wl%d-%d@webrtcload", i, time.Now().UnixNano())}
	c.track, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "load")
	if err != nil {
		pc.Close()
		return nil, err
	}
	if _, err := pc.AddTrack(c.track); err != nil {
		pc.Close()
		return nil, err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		var p rtp.Packet
		buf := make([]byte, 1500)
		for {
			k, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			if p.Unmarshal(buf[:k]) == nil {
				c.toBrowser.got(time.Now().UnixNano())
			}
		}
	})
	var once sync.Once
	pc.SCTP().Transport().OnStateChange(func(s webrtc.DTLSTransportState) {
		switch s {
		case webrtc.DTLSTransportStateConnecting:
			c.dtlsStart = time.Now()
		case webrtc.DTLSTransportStateConnected:
			once.Do(func() { c.dtlsDone <- time.Now() })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, err
	}
	<-gathered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, "ws://"+wsAddr)
	if err != nil {
		pc.Close()
		return nil, err
	}
	c.ws = conn
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	sdp := pc.LocalDescription().SDP
	inv := fmt.Sprintf("INVITE sip:1234@%[1]s SIP/2.0\r\nVia: SIP/2.0/WS load.invalid;branch=z9hG4bK%[2]d\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:load%[2]d@%[1]s>;tag=f%[2]d\r\nTo: <sip:1234@%[1]s>\r\nCall-ID: %[3]s\r\n"+
		"CSeq: 1 INVITE\r\nContact: <sip:load%[2]d@load.invalid;transport=ws>\r\nContent-Type: application/sdp\r\n"+
		"Content-Length: %[4]d\r\n\r\n%[5]s", sbcIP, i, c.callID, len(sdp), sdp)
	if err := writeText(conn, inv); err != nil {
		c.hangup()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var res *sip.Response
	for res == nil {
		f, err := ws.ReadFrame(r)
		if err != nil {
			c.hangup()
			return nil, fmt.Errorf("waiting for the answer: %w", err)
		}
		if f.Header.OpCode == ws.OpPing {
			_ = ws.WriteFrame(conn, ws.MaskFrameInPlace(ws.NewPongFrame(f.Payload)))
			continue
		}
		m, err := sip.ParseMessage(f.Payload)
		if err != nil {
			continue
		}
		if rs, ok := m.(*sip.Response); ok && rs.StatusCode >= 200 {
			res = rs
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	if res.StatusCode != 200 {
		c.hangup()
		return nil, fmt.Errorf("INVITE answered %d", res.StatusCode)
	}
	target := "sip:1234@" + sbcIP
	if ct := res.Contact(); ct != nil {
		target = ct.Address.String()
	}
	to := res.To().Value()
	ack := fmt.Sprintf("ACK %[1]s SIP/2.0\r\nVia: SIP/2.0/WS load.invalid;branch=z9hG4bKa%[2]d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:load%[2]d@%[3]s>;tag=f%[2]d\r\nTo: %[4]s\r\nCall-ID: %[5]s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		target, i, sbcIP, to, c.callID)
	if err := writeText(conn, ack); err != nil {
		c.hangup()
		return nil, err
	}
	if verbose && i == 0 {
		fmt.Fprintf(os.Stderr, "answer:\n%s\n", res.Body())
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(res.Body())}); err != nil {
		c.hangup()
		return nil, fmt.Errorf("answer: %w", err)
	}
	bye := fmt.Sprintf("BYE %[1]s SIP/2.0\r\nVia: SIP/2.0/WS load.invalid;branch=z9hG4bKb%[2]d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:load%[2]d@%[3]s>;tag=f%[2]d\r\nTo: %[4]s\r\nCall-ID: %[5]s\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
		target, i, sbcIP, to, c.callID)
	// Keep answering keep-alive Pings; remember the BYE for the hangup.
	go func() {
		for {
			f, err := ws.ReadFrame(r)
			if err != nil {
				return
			}
			if f.Header.OpCode == ws.OpPing {
				_ = ws.WriteFrame(conn, ws.MaskFrameInPlace(ws.NewPongFrame(f.Payload)))
			}
		}
	}()
	c.byeMsg = bye
	return c, nil
}

func writeText(conn net.Conn, s string) error {
	return ws.WriteFrame(conn, ws.MaskFrameInPlace(ws.NewTextFrame([]byte(s))))
}

func (c *call) hangup() {
	if c.ws != nil && c.byeMsg != "" && !c.byeSent {
		c.byeSent = true
		_ = writeText(c.ws, c.byeMsg)
		time.Sleep(5 * time.Millisecond)
	}
	if c.pc != nil {
		_ = c.pc.Close()
	}
	if c.ws != nil {
		_ = c.ws.Close()
	}
}

func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("sbcd not listening on %s", addr)
}

// loadavg is the one-minute load average at the end of the run.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
