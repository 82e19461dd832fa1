package record

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/codecs/wav"
)

// Defaults of Config.
const (
	DefaultQueue = 4096
	// Rate is the sample rate of the WAV files.
	Rate = 8000
	// window is how far behind the newest packet the WAV is written out;
	// packets later than that lose their early samples.
	window = Rate // 1 s
	maxPkt = 2048
)

// Party describes one leg of the recorded call.
type Party struct {
	// Leg is the leg's name (its SIP tag in the engine, e.g. "A").
	Leg string `json:"leg"`
	// Channel is the WAV channel carrying what this leg sent (0 left, 1 right).
	Channel int `json:"channel"`
	// Interface is the media interface (realm) of the leg.
	Interface string `json:"interface,omitempty"`
	// Address is the leg's media peer address.
	Address string `json:"address,omitempty"`
	// Labels carry what the signalling knows (from/to URIs, realm, trunk).
	Labels map[string]string `json:"labels,omitempty"`
}

// Metadata is the JSON file written beside a recording.
type Metadata struct {
	CallID  string    `json:"call_id"`
	Parties []Party   `json:"parties"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Files are the recording's files (base names, in the same directory).
	Files []string `json:"files"`
	// Seconds is the WAV's duration.
	Seconds float64 `json:"seconds"`
	// Packets counts packets recorded per channel; Dropped those lost to
	// a full queue; Undecodable those whose codec is not known.
	Packets     [2]uint64 `json:"packets"`
	Dropped     uint64    `json:"dropped"`
	Undecodable uint64    `json:"undecodable"`
}

// Config configures one recording.
type Config struct {
	// Dir is the directory the files go to. Required.
	Dir string
	// CallID names the recording (and its files). Required.
	CallID string
	// Parties describe the legs (channel 0 and 1).
	Parties []Party
	// WAV and PCAP select the outputs (at least one).
	WAV, PCAP bool
	// Queue bounds the packets waiting for the writer. Default DefaultQueue.
	Queue int
	// Logger receives the writer's errors. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// pkt is one queued packet or codec change.
type pkt struct {
	ch       int
	at       time.Time
	src, dst netip.AddrPort
	n        int
	buf      *[maxPkt]byte
	codecs   *PayloadTypes // non-nil: new payload types for ch
}

// PayloadTypes maps a channel's RTP payload types to codec names as SDP
// gives them (pcmu, pcma, g722, opus decode; telephone-event, cn and
// unknown names are skipped).
type PayloadTypes map[uint8]string

// Recorder records one call. Packet and SetCodec may be called from any
// goroutine; Stop once.
type Recorder struct {
	cfg     Config
	log     *slog.Logger
	q       chan pkt
	bufs    sync.Pool
	dropped atomic.Uint64
	done    chan struct{}
	stopped atomic.Bool
	mu      sync.Mutex // orders Packet's send against Stop's close

	start time.Time
	base  string // file base path without extension
	meta  Metadata
	err   error
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Start opens the recording's temporary files and starts its writer.
func Start(cfg Config) (*Recorder, error) {
	if cfg.Dir == "" || cfg.CallID == "" {
		return nil, fmt.Errorf("%w: directory and call ID are required", ErrConfig)
	}
	if !cfg.WAV && !cfg.PCAP {
		return nil, fmt.Errorf("%w: neither WAV nor PCAP selected", ErrConfig)
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Queue < 1 || len(cfg.Parties) > 2 {
		return nil, fmt.Errorf("%w: queue %d, %d parties", ErrConfig, cfg.Queue, len(cfg.Parties))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Recorder{cfg: cfg, log: cfg.Logger, q: make(chan pkt, cfg.Queue), done: make(chan struct{}), start: cfg.Now()}
	r.bufs.New = func() any { return new([maxPkt]byte) }
	name := strings.Trim(unsafeName.ReplaceAllString(cfg.CallID, "_"), "._")
	if len(name) > 80 {
		name = name[:80]
	}
	r.base = filepath.Join(cfg.Dir, name+"-"+r.start.UTC().Format("20060102T150405.000Z"))
	r.meta = Metadata{CallID: cfg.CallID, Parties: cfg.Parties, Start: r.start}
	w, err := r.open()
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(r.done)
		w.run(r)
	}()
	return r, nil
}

// Path is the recording's main file once it is stopped: the WAV, or the
// PCAP when only that is written.
func (r *Recorder) Path() string {
	if r.cfg.WAV {
		return r.base + ".wav"
	}
	return r.base + ".pcap"
}

// SetPayloadTypes tells the writer how to decode channel ch from now on.
func (r *Recorder) SetPayloadTypes(ch int, pts PayloadTypes) {
	if ch < 0 || ch > 1 {
		return
	}
	r.enqueue(pkt{ch: ch, codecs: &pts}, true)
}

// Packet queues a copy of an RTP packet received from the leg of channel
// ch (src its sender, dst our address). It never blocks: when the queue
// is full the packet is dropped and counted.
func (r *Recorder) Packet(ch int, b []byte, src, dst netip.AddrPort, at time.Time) {
	if len(b) > maxPkt || ch < 0 || ch > 1 {
		r.dropped.Add(1)
		return
	}
	buf := r.bufs.Get().(*[maxPkt]byte)
	n := copy(buf[:], b)
	if !r.enqueue(pkt{ch: ch, at: at, src: src, dst: dst, n: n, buf: buf}, false) {
		r.bufs.Put(buf)
	}
}

func (r *Recorder) enqueue(p pkt, block bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped.Load() {
		return false
	}
	if block {
		r.q <- p
		return true
	}
	select {
	case r.q <- p:
		return true
	default:
		r.dropped.Add(1)
		return false
	}
}

// Dropped returns the packets dropped so far.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Stop ends the recording: the writer drains its queue, the files are
// completed and renamed into place, and the metadata is written. It
// returns the metadata (with the files' base names).
func (r *Recorder) Stop() (Metadata, error) {
	r.mu.Lock()
	if r.stopped.Swap(true) {
		r.mu.Unlock()
		<-r.done
		return r.meta, ErrClosed
	}
	close(r.q)
	r.mu.Unlock()
	<-r.done
	return r.meta, r.err
}

// writer owns the files and decoding state (one goroutine).
type writer struct {
	wavF, pcapF *os.File
	wav         *wav.Writer
	pcap        *bufio.Writer
	ch          [2]channel
	pend        [][2]int16 // samples from index base on
	base        int64
	newest      int64
	frames      int64
	undecodable uint64
}

func (r *Recorder) tmp(ext string) string { return tmpName(r.base + ext) }

func tmpName(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
}

// open creates the temporary files.
func (r *Recorder) open() (*writer, error) {
	w := &writer{}
	if r.cfg.WAV {
		f, err := os.OpenFile(r.tmp(".wav"), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o640)
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		ww, err := wav.NewWriter(f, Rate, 2)
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			return nil, fmt.Errorf("record: %w", err)
		}
		w.wavF, w.wav = f, ww
	}
	if r.cfg.PCAP {
		f, err := os.OpenFile(r.tmp(".pcap"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if err != nil {
			if w.wavF != nil {
				_ = w.wavF.Close()
				_ = os.Remove(w.wavF.Name())
			}
			return nil, fmt.Errorf("record: %w", err)
		}
		w.pcapF, w.pcap = f, bufio.NewWriter(f)
		writePcapHeader(w.pcap)
	}
	return w, nil
}

func (w *writer) run(r *Recorder) {
	var errs []error
	for p := range r.q {
		if p.codecs != nil {
			w.ch[p.ch].setPayloadTypes(*p.codecs)
			continue
		}
		b := p.buf[:p.n]
		r.meta.Packets[p.ch]++
		if w.pcap != nil {
			writePcapPacket(w.pcap, p.at, p.src, p.dst, b)
		}
		if w.wav != nil {
			pos := int64(p.at.Sub(r.start) * Rate / time.Second)
			w.put(p.ch, b, pos)
		}
		r.bufs.Put(p.buf)
	}
	if w.wav != nil {
		w.flush(w.base + int64(len(w.pend)))
		if err := w.wav.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := w.wavF.Close(); err != nil {
			errs = append(errs, err)
		}
		r.meta.Seconds = float64(w.frames) / Rate
	}
	if w.pcap != nil {
		if err := w.pcap.Flush(); err != nil {
			errs = append(errs, err)
		}
		if err := w.pcapF.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	r.meta.End = r.cfg.Now()
	r.meta.Dropped = r.dropped.Load()
	r.meta.Undecodable = w.undecodable
	for _, ext := range []string{".wav", ".pcap"} {
		if (ext == ".wav" && w.wav == nil) || (ext == ".pcap" && w.pcap == nil) {
			continue
		}
		if err := os.Rename(r.tmp(ext), r.base+ext); err != nil {
			errs = append(errs, err)
			continue
		}
		r.meta.Files = append(r.meta.Files, filepath.Base(r.base+ext))
	}
	r.meta.Files = append(r.meta.Files, filepath.Base(r.base+".json"))
	if err := writeJSON(r.base+".json", &r.meta); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		r.err = fmt.Errorf("record %s: %w", r.cfg.CallID, errs[0])
		r.log.Error("recording incomplete", "call_id", r.cfg.CallID, "err", r.err)
	}
}

// writeJSON writes v to path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := tmpName(path)
	if err := os.WriteFile(tmp, append(b, '\n'), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// put decodes one packet of channel ch arriving at sample position pos
// and mixes it into the pending stereo buffer.
func (w *writer) put(ch int, b []byte, pos int64) {
	c := &w.ch[ch]
	pcm, at, ok := c.decode(b, pos)
	if !ok {
		if c.unknown {
			w.undecodable++
		}
		return
	}
	if pos > w.newest {
		w.newest = pos
	}
	for i, s := range pcm {
		idx := at + int64(i) - w.base
		if idx < 0 {
			continue // older than what is written out already
		}
		for int64(len(w.pend)) <= idx {
			w.pend = append(w.pend, [2]int16{})
		}
		w.pend[idx][ch] = s
	}
	w.flush(w.newest - window)
}

// flush writes out the pending samples before absolute index upto.
func (w *writer) flush(upto int64) {
	n := upto - w.base
	if n <= 0 {
		return
	}
	if n > int64(len(w.pend)) {
		// Nothing was received for a while: write silence up to upto.
		for int64(len(w.pend)) < n {
			w.pend = append(w.pend, [2]int16{})
		}
	}
	var frame [2]int16
	buf := make([]int16, 0, 2*min(n, 4096))
	for i := int64(0); i < n; i++ {
		frame = w.pend[i]
		buf = append(buf, frame[0], frame[1])
		if len(buf) == cap(buf) {
			_, _ = w.wav.Write(buf)
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		_, _ = w.wav.Write(buf)
	}
	w.frames += n
	w.pend = append(w.pend[:0], w.pend[n:]...)
	w.base = upto
}
