package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/firmware/snmp"
	"github.com/openborder/openborder/sbc/guard"
)

// blacklistTraps sends obSourceBlacklisted for every source the border
// defence blocks. The guard calls onBlock on a listener's read loop, so
// the trap is queued (and dropped when the queue is full) and sent by run.
type blacklistTraps struct {
	agent atomic.Pointer[snmp.Agent]
	ch    chan guard.Entry
}

func newBlacklistTraps() *blacklistTraps { return &blacklistTraps{ch: make(chan guard.Entry, 64)} }

func (t *blacklistTraps) onBlock(e guard.Entry) {
	if t.agent.Load() == nil {
		return
	}
	select {
	case t.ch <- e:
	default:
	}
}

// run sends queued traps until ctx ends.
func (t *blacklistTraps) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-t.ch:
			a := t.agent.Load()
			if a == nil {
				continue
			}
			nctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = a.Notify(nctx, snmp.SourceBlacklisted{Address: e.Address.String(), Realm: e.Realm, Reason: e.Reason})
			cancel()
		}
	}
}
