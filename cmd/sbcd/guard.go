package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/firmware/metrics"
	"github.com/openborder/openborder/firmware/snmp"
	"github.com/openborder/openborder/sbc"
	"github.com/openborder/openborder/sbc/guard"
)

// securityTraps sends the border defence's SNMP notifications:
// obSourceBlacklisted for every source the guard blocks and
// obAccountBlocked for every account a toll-fraud rule blocks. Both are
// reported on signalling goroutines, so the traps are queued (and dropped
// when the queue is full) and sent by run.
type securityTraps struct {
	agent atomic.Pointer[snmp.Agent]
	ch    chan snmp.Trap
	fraud *metrics.FraudBlocks
}

func newSecurityTraps(fraud *metrics.FraudBlocks) *securityTraps {
	return &securityTraps{ch: make(chan snmp.Trap, 64), fraud: fraud}
}

func (t *securityTraps) queue(tr snmp.Trap) {
	if t.agent.Load() == nil {
		return
	}
	select {
	case t.ch <- tr:
	default:
	}
}

func (t *securityTraps) onBlock(e guard.Entry) {
	t.queue(snmp.SourceBlacklisted{Address: e.Address.String(), Realm: e.Realm, Reason: e.Reason})
}

func (t *securityTraps) onFraudBlock(f sbc.FraudBlock) {
	t.fraud.Blocked(f.Rule, f.Limit)
	t.queue(snmp.AccountBlocked{Account: f.Account, Realm: f.Realm,
		Reason: f.Rule + " " + f.Limit + " until " + f.Until.UTC().Format(time.RFC3339)})
}

// run sends queued traps until ctx ends.
func (t *securityTraps) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case tr := <-t.ch:
			a := t.agent.Load()
			if a == nil {
				continue
			}
			nctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = a.Notify(nctx, tr)
			cancel()
		}
	}
}
