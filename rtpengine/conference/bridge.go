package conference

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxParticipants = 20
	DefaultMaxRooms        = 100
	DefaultDepth           = 2
	DefaultOpusComplexity  = 3
	DefaultOpusBitrate     = 24000
)

// Config configures a Bridge. Zero values mean the defaults.
type Config struct {
	// MaxParticipants is the most participants one room takes; Join
	// beyond it fails with ErrFull. Default 20.
	MaxParticipants int
	// MaxRooms is the most rooms open at once; a Join that would open
	// another fails with ErrTooManyRooms. Default 100.
	MaxRooms int
	// JoinTone and LeaveTone play a short two-note tone to the whole room
	// when a participant joins (rising) or leaves (falling). Default off.
	JoinTone, LeaveTone bool
	// MuteDigits is the two-key DTMF code (RFC 4733 events) that toggles
	// a participant's mute, e.g. "*6". Default "": no DTMF mute.
	MuteDigits string
	// Depth is how many packets a participant's input buffer holds before
	// playout starts, 1 to 8. Default 2.
	Depth int
	// OpusComplexity (1-10; -1 selects 0) and OpusBitrate (bit/s)
	// configure the Opus encoders. Defaults 3 and 24000.
	OpusComplexity, OpusBitrate int
	// Logger receives room and participant events. Default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxParticipants == 0 {
		c.MaxParticipants = DefaultMaxParticipants
	}
	if c.MaxRooms == 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.OpusComplexity == 0 {
		c.OpusComplexity = DefaultOpusComplexity
	}
	if c.OpusBitrate == 0 {
		c.OpusBitrate = DefaultOpusBitrate
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.MaxParticipants < 2 || c.MaxRooms < 1:
		return c, fmt.Errorf("%w: max participants %d (at least 2), max rooms %d (at least 1)", ErrConfig, c.MaxParticipants, c.MaxRooms)
	case c.Depth < 1 || c.Depth > 8:
		return c, fmt.Errorf("%w: depth %d (1 to 8)", ErrConfig, c.Depth)
	case c.MuteDigits != "" && !validMuteDigits(c.MuteDigits):
		return c, fmt.Errorf("%w: mute digits %q (two of 0-9, *, #, A-D)", ErrConfig, c.MuteDigits)
	case c.OpusComplexity < -1 || c.OpusComplexity > 10 || c.OpusBitrate < 6000 || c.OpusBitrate > 510000:
		return c, fmt.Errorf("%w: opus complexity -1..10 and bitrate 6000..510000", ErrConfig)
	}
	return c, nil
}

func validMuteDigits(s string) bool {
	if len(s) != 2 {
		return false
	}
	for _, k := range []byte(s) {
		if !strings.ContainsRune("0123456789*#ABCD", rune(k)) {
			return false
		}
	}
	return true
}

// Bridge holds the conference rooms. Its methods are safe for concurrent use.
type Bridge struct {
	cfg atomic.Pointer[Config]
	log *slog.Logger

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool

	joins, refusedFull, refusedRooms atomic.Uint64
}

// BridgeStats counts a Bridge's rooms and joins.
type BridgeStats struct {
	// Rooms open and Participants in them now.
	Rooms, Participants int
	// Joins counts participants admitted; RefusedFull joins refused by
	// a full room (ErrFull), RefusedRooms those that would have opened a
	// room beyond MaxRooms (ErrTooManyRooms).
	Joins, RefusedFull, RefusedRooms uint64
}

// Stats returns the bridge's counts.
func (b *Bridge) Stats() BridgeStats {
	rooms, parts := b.Counts()
	return BridgeStats{Rooms: rooms, Participants: parts, Joins: b.joins.Load(),
		RefusedFull: b.refusedFull.Load(), RefusedRooms: b.refusedRooms.Load()}
}

// NewBridge validates cfg and returns an empty Bridge.
func NewBridge(cfg Config) (*Bridge, error) {
	b := &Bridge{rooms: map[string]*room{}}
	if err := b.SetConfig(cfg); err != nil {
		return nil, err
	}
	b.log = b.cfg.Load().Logger.With("component", "conference")
	return b, nil
}

// SetConfig replaces the configuration (a policy reload). Rooms and
// participants already there keep running; limits, tones and codec
// settings apply to joins from now on.
func (b *Bridge) SetConfig(cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	b.cfg.Store(&cfg)
	return nil
}

// Join adds a participant to the named room, opening the room (and
// starting its mixing clock) if it is the first.
func (b *Bridge) Join(name string, pc ParticipantConfig) (*Participant, error) {
	cfg := b.cfg.Load()
	p, err := newParticipant(pc, cfg)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	r := b.rooms[name]
	if r == nil {
		if len(b.rooms) >= cfg.MaxRooms {
			b.refusedRooms.Add(1)
			return nil, fmt.Errorf("%w: %d rooms open", ErrTooManyRooms, len(b.rooms))
		}
		r = newRoom(name)
		b.rooms[name] = r
		go r.run()
		b.log.Info("conference room opened", "room", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.parts) >= cfg.MaxParticipants {
		b.refusedFull.Add(1)
		return nil, fmt.Errorf("%w: room %q has %d participants", ErrFull, name, len(r.parts))
	}
	if slices.ContainsFunc(r.parts, func(x *Participant) bool { return x.cfg.ID == pc.ID }) {
		return nil, fmt.Errorf("%w: %q is already in room %q", ErrConfig, pc.ID, name)
	}
	p.room = r
	r.parts = append(r.parts, p)
	b.joins.Add(1)
	if cfg.JoinTone {
		r.bell.start(beepJoin)
	}
	b.log.Info("conference joined", "room", name, "participant", p.cfg.ID, "codec", p.cfg.Codec, "participants", len(r.parts))
	return p, nil
}

// Leave removes a participant from its room; the room closes (its clock
// stops) when it was the last. After Leave returns, p's Output is not
// called again. Leave is idempotent.
func (b *Bridge) Leave(p *Participant) {
	if p == nil || p.room == nil {
		return
	}
	cfg := b.cfg.Load()
	r := p.room
	b.mu.Lock()
	r.mu.Lock()
	i := slices.Index(r.parts, p)
	if i < 0 {
		r.mu.Unlock()
		b.mu.Unlock()
		return
	}
	r.parts = slices.Delete(r.parts, i, i+1)
	left := len(r.parts)
	if cfg.LeaveTone && left > 0 {
		r.bell.start(beepLeave)
	}
	r.mu.Unlock()
	if left == 0 && b.rooms[r.name] == r {
		delete(b.rooms, r.name)
		close(r.quit)
	}
	b.mu.Unlock()
	b.log.Info("conference left", "room", r.name, "participant", p.cfg.ID, "participants", left)
	if left == 0 {
		<-r.done
		b.log.Info("conference room closed", "room", r.name)
	}
}

// Close stops every room. Participants' Outputs are not called after it
// returns; Join fails with ErrClosed. Close is idempotent.
func (b *Bridge) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	rooms := make([]*room, 0, len(b.rooms))
	for _, r := range b.rooms {
		rooms = append(rooms, r)
		close(r.quit)
	}
	b.rooms = map[string]*room{}
	b.mu.Unlock()
	for _, r := range rooms {
		<-r.done
	}
}

// RoomInfo describes an open room.
type RoomInfo struct {
	Name         string            `json:"name"`
	Created      time.Time         `json:"created"`
	Participants []ParticipantInfo `json:"participants"`
	// Ticks counts mixing steps, Overruns those that took longer than
	// 20 ms; MaxTick is the longest step.
	Ticks    uint64        `json:"ticks"`
	Overruns uint64        `json:"overruns"`
	MaxTick  time.Duration `json:"max_tick_ns"`
}

// ParticipantInfo describes one participant of a room.
type ParticipantInfo struct {
	ID      string           `json:"id"`
	Codec   string           `json:"codec"`
	Ptime   time.Duration    `json:"ptime_ns"`
	Joined  time.Time        `json:"joined"`
	Muted   bool             `json:"muted"`
	Talking bool             `json:"talking"`
	Stats   ParticipantStats `json:"stats"`
}

func (r *room) info() RoomInfo {
	r.mu.Lock()
	parts := slices.Clone(r.parts)
	r.mu.Unlock()
	ri := RoomInfo{Name: r.name, Created: r.created, Ticks: r.ticks.Load(), Overruns: r.overruns.Load(),
		MaxTick: time.Duration(r.maxTick.Load()), Participants: make([]ParticipantInfo, 0, len(parts))}
	for _, p := range parts {
		ri.Participants = append(ri.Participants, ParticipantInfo{ID: p.cfg.ID, Codec: p.cfg.Codec, Ptime: p.cfg.Ptime,
			Joined: p.joined, Muted: p.Muted(), Talking: p.talking.Load(), Stats: p.Stats()})
	}
	return ri
}

// Rooms describes the open rooms, sorted by name.
func (b *Bridge) Rooms() []RoomInfo {
	b.mu.Lock()
	rooms := make([]*room, 0, len(b.rooms))
	for _, r := range b.rooms {
		rooms = append(rooms, r)
	}
	b.mu.Unlock()
	slices.SortFunc(rooms, func(x, y *room) int { return strings.Compare(x.name, y.name) })
	out := make([]RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, r.info())
	}
	return out
}

// Room describes one room.
func (b *Bridge) Room(name string) (RoomInfo, error) {
	b.mu.Lock()
	r := b.rooms[name]
	b.mu.Unlock()
	if r == nil {
		return RoomInfo{}, fmt.Errorf("%w: room %q", ErrNotFound, name)
	}
	return r.info(), nil
}

// SetMuted mutes or unmutes participant id of a room.
func (b *Bridge) SetMuted(name, id string, muted bool) error {
	b.mu.Lock()
	r := b.rooms[name]
	b.mu.Unlock()
	if r == nil {
		return fmt.Errorf("%w: room %q", ErrNotFound, name)
	}
	r.mu.Lock()
	i := slices.IndexFunc(r.parts, func(p *Participant) bool { return p.cfg.ID == id })
	var p *Participant
	if i >= 0 {
		p = r.parts[i]
	}
	r.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%w: participant %q in room %q", ErrNotFound, id, name)
	}
	p.SetMuted(muted)
	return nil
}

// Counts returns the rooms open and the participants in them.
func (b *Bridge) Counts() (rooms, participants int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.rooms {
		r.mu.Lock()
		participants += len(r.parts)
		r.mu.Unlock()
	}
	return len(b.rooms), participants
}
