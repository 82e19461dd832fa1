package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxNonces bounds how many used nonces are tracked at once.
const DefaultMaxNonces = 1 << 20

const (
	nonceRaw = 16 + 16 // issue time (unix ns), random, truncated HMAC
	nonceLen = (nonceRaw*8 + 5) / 6
)

// Nonces issues nonces and tracks the nonce-counts of those in use. One
// Nonces serves every realm of a process and survives policy reloads, so a
// reload does not invalidate challenges in flight. It is safe for
// concurrent use.
type Nonces struct {
	key [32]byte
	max int
	now func() time.Time

	mu    sync.Mutex
	used  map[string]usedNonce
	prune time.Time
}

type usedNonce struct {
	nc      uint32
	expires time.Time
}

// NewNonces returns a nonce source with a fresh random key. max bounds the
// number of tracked nonces (0: DefaultMaxNonces); now is the clock (nil: time.Now).
func NewNonces(max int, now func() time.Time) *Nonces {
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if now == nil {
		now = time.Now
	}
	n := &Nonces{max: max, now: now, used: make(map[string]usedNonce)}
	if _, err := rand.Read(n.key[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("auth: no randomness: %v", err))
	}
	return n
}

// New issues a nonce stamped with the current time.
func (n *Nonces) New() string {
	var raw [nonceRaw]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(n.now().UnixNano()))
	_, _ = rand.Read(raw[8:16])
	n.sign(raw[:16], raw[16:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (n *Nonces) sign(stamp, dst []byte) {
	m := hmac.New(sha256.New, n.key[:])
	m.Write(stamp)
	var sum [sha256.Size]byte
	copy(dst, m.Sum(sum[:0]))
}

// issued checks that nonce came from this source and returns its issue time.
func (n *Nonces) issued(nonce string) (time.Time, error) {
	if len(nonce) != nonceLen {
		return time.Time{}, ErrNonce
	}
	var raw [nonceRaw]byte
	if k, err := base64.RawURLEncoding.Decode(raw[:], []byte(nonce)); err != nil || k != nonceRaw {
		return time.Time{}, ErrNonce
	}
	var want [16]byte
	n.sign(raw[:16], want[:])
	if !hmac.Equal(want[:], raw[16:]) {
		return time.Time{}, ErrNonce
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))), nil
}

// use records nonce-count nc for a nonce valid until expires. nc 0 (no
// qop) makes the nonce single-use. It fails with ErrReplay when nc is not
// above the last count accepted for the nonce, and with ErrStale when too
// many nonces are in use to track another one.
func (n *Nonces) use(nonce string, nc uint32, expires time.Time) error {
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	u, ok := n.used[nonce]
	if ok && (nc == 0 || nc <= u.nc) {
		return ErrReplay
	}
	if !ok && len(n.used) >= n.max {
		if now.Sub(n.prune) >= time.Second {
			n.prune = now
			for k, v := range n.used {
				if !v.expires.After(now) {
					delete(n.used, k)
				}
			}
		}
		if len(n.used) >= n.max {
			return ErrStale
		}
	}
	if nc == 0 {
		nc = ^uint32(0)
	}
	n.used[nonce] = usedNonce{nc: nc, expires: expires}
	return nil
}

// Tracked is the number of nonces whose counts are tracked.
func (n *Nonces) Tracked() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.used)
}
