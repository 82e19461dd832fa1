package sbc

import (
	"context"
	"log/slog"

	"github.com/emiago/sipgo/sip"
)

// callHandler adds a call's identifiers to each record it logs: call_id
// and id, the method for calls that are not INVITEs, the route once it is
// known. It reads them when a record is logged, so a call keeps no
// preformatted copy of them for its whole life (it logs a few lines,
// mostly when it ends). Records are logged on the call's actor.
type callHandler struct {
	c    *call
	next slog.Handler
	// attrs were added with Logger.With after the call's own.
	attrs []slog.Attr
}

func (h *callHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *callHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(h.callAttrs()...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *callHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &callHandler{c: h.c, next: h.next}
	n.attrs = append(append(n.attrs, h.attrs...), attrs...)
	return n
}

// WithGroup fixes the call's attributes at this point: they stay outside
// the group.
func (h *callHandler) WithGroup(name string) slog.Handler {
	return h.next.WithAttrs(h.callAttrs()).WithGroup(name)
}

// callAttrs lists the call's attributes in the order they were always
// logged in.
func (h *callHandler) callAttrs() []slog.Attr {
	c := h.c
	out := make([]slog.Attr, 0, 4+len(h.attrs))
	if a := c.legs[SideA]; a != nil {
		out = append(out, slog.String("call_id", a.callID))
	}
	out = append(out, slog.String("id", c.id))
	if c.method != sip.INVITE {
		out = append(out, slog.String("method", string(c.method)))
	}
	if c.routed {
		out = append(out, slog.String("route", c.route))
	}
	return append(out, h.attrs...)
}
