package conference

import "math"

// Tones played by a room: to everyone when someone joins or leaves, to
// one participant when it is muted or unmuted. Each is a short sequence
// of sine segments at Rate with 5 ms raised-cosine ramps, -16 dBm0.
const (
	beepNone = iota
	beepJoin
	beepLeave
	beepMute
	beepUnmute
)

// toneLevel is the tones' peak amplitude: -16 dBm0 (G.711 full scale is
// +3.17 dBm0 at 32767).
var toneLevel = 32767 * math.Pow(10, (-16-3.17)/20)

type segment struct {
	hz float64 // 0: silence
	ms int
}

var tonePCM = [...][]int16{
	beepJoin:   synth(segment{600, 100}, segment{0, 30}, segment{900, 120}),
	beepLeave:  synth(segment{900, 100}, segment{0, 30}, segment{600, 120}),
	beepMute:   synth(segment{400, 180}),
	beepUnmute: synth(segment{800, 80}, segment{0, 40}, segment{800, 80}),
}

// synth renders segments at Rate.
func synth(segs ...segment) []int16 {
	var out []int16
	ramp := Rate / 200
	for _, s := range segs {
		n := Rate * s.ms / 1000
		for i := range n {
			v := 0.0
			if s.hz > 0 {
				g := 1.0
				if i < ramp {
					g = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(ramp))
				} else if n-1-i < ramp {
					g = 0.5 - 0.5*math.Cos(math.Pi*float64(n-1-i)/float64(ramp))
				}
				v = g * toneLevel * math.Sin(2*math.Pi*s.hz*float64(i)/Rate)
			}
			out = append(out, int16(math.Round(v)))
		}
	}
	return out
}

// player plays one tone frame by frame.
type player struct {
	pcm []int16
	pos int
}

func (p *player) start(kind int) { p.pcm, p.pos = tonePCM[kind], 0 }

// next returns the tone's next Frame samples (nil when none is playing).
func (p *player) next() []int16 {
	if p.pos >= len(p.pcm) {
		p.pcm = nil
		return nil
	}
	f := p.pcm[p.pos:min(p.pos+Frame, len(p.pcm))]
	p.pos += Frame
	return f
}
