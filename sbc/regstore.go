package sbc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// bindingsFile is the snapshot's name inside the state directory.
const bindingsFile = "bindings.json"

// storeDelay lets a burst of REGISTERs share one snapshot.
const storeDelay = 200 * time.Millisecond

// storedBinding is one binding as written to the snapshot.
type storedBinding struct {
	Realm     string    `json:"realm"`
	User      string    `json:"user"`
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	CallID    string    `json:"call_id,omitempty"`
	Expires   time.Time `json:"expires"`
}

// snapshotFile is the document in bindings.json.
type snapshotFile struct {
	Version  int             `json:"version"`
	Written  time.Time       `json:"written"`
	Bindings []storedBinding `json:"bindings"`
}

// bindingStore keeps the registrar's bindings in a JSON snapshot that is
// rewritten (temporary file, fsync, rename) a short delay after a change.
type bindingStore struct {
	path string
	log  *slog.Logger
	kick chan struct{}
}

func newBindingStore(dir string, log *slog.Logger) (*bindingStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	return &bindingStore{path: filepath.Join(dir, bindingsFile), log: log, kick: make(chan struct{}, 1)}, nil
}

// changed schedules a snapshot; it never blocks.
func (s *bindingStore) changed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// load reads the snapshot and returns the bindings still alive at now. A
// missing file is no error.
func (s *bindingStore) load(now time.Time) ([]storedBinding, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bindings: %w", err)
	}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("bindings: %s: %w", s.path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("bindings: %s: version %d: %w", s.path, f.Version, ErrStateVersion)
	}
	out := f.Bindings[:0]
	for _, b := range f.Bindings {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	return out, nil
}

// save writes bindings atomically.
func (s *bindingStore) save(bs []storedBinding) error {
	data, err := json.MarshalIndent(snapshotFile{Version: 1, Written: time.Now().UTC(), Bindings: bs}, "", " ")
	if err != nil {
		return fmt.Errorf("bindings: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), bindingsFile+".*")
	if err != nil {
		return fmt.Errorf("bindings: %w", err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), s.path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("bindings: %w", werr)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// run writes a snapshot storeDelay after each change until done closes,
// then writes a last one if a change is pending.
func (s *bindingStore) run(done <-chan struct{}, snapshot func() []storedBinding) {
	for {
		select {
		case <-done:
			select {
			case <-s.kick:
				s.write(snapshot)
			default:
			}
			return
		case <-s.kick:
		}
		t := time.NewTimer(storeDelay)
		select {
		case <-done:
			t.Stop()
			s.write(snapshot)
			return
		case <-t.C:
		}
		s.write(snapshot)
	}
}

func (s *bindingStore) write(snapshot func() []storedBinding) {
	if err := s.save(snapshot()); err != nil {
		s.log.Error("bindings not saved", "err", err)
	}
}

// snapshot lists the live bindings for the store.
func (r *registrar) snapshot() []storedBinding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := time.Now()
	out := []storedBinding{}
	for key, bs := range r.users {
		realm, user, _ := cutKey(key)
		for _, b := range bs {
			if b.expires.After(now) {
				out = append(out, storedBinding{Realm: realm, User: user, Contact: b.contact.String(),
					Source: b.source, Transport: b.transport, CallID: b.callID, Expires: b.expires.UTC()})
			}
		}
	}
	return out
}

// restore adds stored bindings of known realms; it returns how many it
// took and the first unreadable one's error.
func (r *registrar) restore(bs []storedBinding, known func(realm string) bool) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	var first error
	for _, sb := range bs {
		if !known(sb.Realm) || sb.User == "" {
			continue
		}
		var u sip.Uri
		if err := sip.ParseUri(sb.Contact, &u); err != nil {
			if first == nil {
				first = fmt.Errorf("binding of %s: contact %q: %w", sb.User, sb.Contact, err)
			}
			continue
		}
		key := sb.Realm + "\x00" + sb.User
		if len(r.users[key]) >= maxBindings {
			continue
		}
		r.users[key] = append(r.users[key], binding{contact: u, source: sb.Source, transport: sb.Transport,
			callID: sb.CallID, expires: sb.Expires})
		n++
	}
	return n, first
}

func cutKey(key string) (realm, user string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// openStore loads the bindings kept in the state directory (if one is
// configured) and keeps saving them from now on. It runs before the
// listeners open.
func (b *B2BUA) openStore(pol *policy.Set) error {
	dir := pol.Config().StateDir
	if dir == "" {
		return nil
	}
	log := b.log.With("component", "bindings")
	st, err := newBindingStore(dir, log)
	if err != nil {
		return err
	}
	bs, err := st.load(time.Now())
	if err != nil {
		// A damaged snapshot must not keep sbcd down: phones register again.
		log.Error("stored bindings not loaded", "err", err)
	}
	n, err := b.reg.restore(bs, func(realm string) bool {
		pr := pol.Realm(realm)
		return pr != nil && pr.Registrar
	})
	if err != nil {
		log.Warn("stored binding skipped", "err", err)
	}
	log.Info("bindings restored", "bindings", n, "file", st.path)
	b.reg.changed = st.changed
	done := b.closedCh()
	b.wg.Go(func() { st.run(done, b.reg.snapshot) })
	return nil
}
