package rtpengine

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/dtmf"
	"github.com/openborder/openborder/codecs/rfc4733"
	"github.com/openborder/openborder/codecs/tones"
)

// benchDSP builds the DSP of one direction with the given modes, both
// peers offering PCMU and telephone-event 101.
func benchDSP(b *testing.B, in, out string, suppress bool) *dsp {
	e := &Engine{}
	c := &call{id: "bench", dtmfSuppress: suppress}
	m, o := &monologue{tag: "a", dtmf: in}, &monologue{tag: "b", dtmf: out}
	m.other, o.other = o, m
	names := map[string]string{"0": "pcmu", "101": "telephone-event"}
	d := e.newDSP(c, m, &endpoint{peerNames: names}, &endpoint{peerNames: names})
	if d.in != in || d.out != out {
		b.Fatalf("modes %s/%s, want %s/%s", d.in, d.out, in, out)
	}
	return d
}

// pcmuPackets renders pcm into 20 ms PCMU RTP packets.
func pcmuPackets(pcm []int16) [][]byte {
	var out [][]byte
	for i := 0; i+160 <= len(pcm); i += 160 {
		p := rtpPacket(0, uint16(i/160), uint32(i), 0x77, 160)
		codecs.UlawEncodeFrame(p[12:], pcm[i:i+160])
		out = append(out, p)
	}
	return out
}

func keysPCM(b *testing.B, seconds int) []int16 {
	g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{})
	if err != nil {
		b.Fatal(err)
	}
	_ = g.Play("1234567890*#ABCD1234567890*#ABCD")
	pcm := make([]int16, seconds*8000)
	g.Read(pcm)
	return pcm
}

// BenchmarkDSP is the DTMF processing of one 20 ms PCMU packet on the
// relay path, per mode: the cost a stream adds per packet.
func BenchmarkDSP(b *testing.B) {
	run := func(b *testing.B, d *dsp, pkts [][]byte, each ...func()) {
		buf := make([]byte, readBufSize)
		var h rtpHeader
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p := pkts[i%len(pkts)]
			i++
			n := copy(buf, p)
			binary.BigEndian.PutUint16(buf[2:], uint16(i))
			binary.BigEndian.PutUint32(buf[4:], uint32(i)*160)
			if demux(buf[:n], &h) != kindRTP {
				b.Fatal("not RTP")
			}
			d.packet(buf[:n], &h, int64(i)*int64(20*time.Millisecond))
			for _, f := range each {
				f()
			}
		}
	}
	silence := pcmuPackets(make([]int16, 8000))
	digits := pcmuPackets(keysPCM(b, 4))
	b.Run("rfc4733-audio-passthrough", func(b *testing.B) {
		run(b, benchDSP(b, DTMFRFC4733, DTMFRFC4733, false), silence)
	})
	b.Run("inband-detect-digits", func(b *testing.B) {
		run(b, benchDSP(b, DTMFInband, DTMFInfo, false), digits)
	})
	b.Run("inband-detect-silence", func(b *testing.B) {
		run(b, benchDSP(b, DTMFInband, DTMFInfo, false), silence)
	})
	b.Run("inband-suppress-digits", func(b *testing.B) {
		run(b, benchDSP(b, DTMFInband, DTMFInfo, true), digits)
	})
	b.Run("inband-to-rfc4733", func(b *testing.B) {
		run(b, benchDSP(b, DTMFInband, DTMFRFC4733, false), digits)
	})
	b.Run("tone-generate", func(b *testing.B) {
		d := benchDSP(b, DTMFInfo, DTMFInband, false)
		g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{Level: dtmfLevel, Twist: dtmfTwist, On: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		_ = g.Play("5")
		d.gen, d.genLeft = g, 1<<62
		run(b, d, silence, func() {
			if g.Done() { // a minute of tone played: again
				_ = g.Play("5")
			}
		})
	})
	b.Run("rfc4733-to-tone", func(b *testing.B) {
		d := benchDSP(b, DTMFRFC4733, DTMFInband, false)
		var h rtpHeader
		audio := silence[0]
		buf := make([]byte, readBufSize)
		ev := rtpPacket(101, 0, 0, 0x77, 4)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			var n int
			if i%10 == 0 { // an event of 9 packets every 10
				n = copy(buf, audio)
			} else {
				n = copy(buf, ev)
				_ = rfc4733.Event{Code: 5, Volume: 10, Duration: uint16(160 * (i % 10))}.Put(buf[12:])
				binary.BigEndian.PutUint32(buf[4:], uint32(i/10)*1600)
			}
			binary.BigEndian.PutUint16(buf[2:], uint16(i))
			if demux(buf[:n], &h) != kindRTP {
				b.Fatal("not RTP")
			}
			d.packet(buf[:n], &h, int64(i)*int64(20*time.Millisecond))
		}
	})
}

// BenchmarkPlayFrame is one 20 ms frame of local ringback: tone
// generation and PCMU encoding (the player's work per packet).
func BenchmarkPlayFrame(b *testing.B) {
	for _, country := range []string{"US", "UK", "IN"} {
		b.Run(country, func(b *testing.B) {
			tn, err := tones.Lookup(country, tones.Ringback)
			if err != nil {
				b.Fatal(err)
			}
			g, err := tones.NewGenerator(tn, 8000)
			if err != nil {
				b.Fatal(err)
			}
			var pcm [160]int16
			var out [160]byte
			b.ReportAllocs()
			for b.Loop() {
				g.Read(pcm[:])
				codecs.UlawEncodeFrame(out[:], pcm[:])
			}
		})
	}
}
