package ng

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/openborder/openborder/rtpengine"
)

// defaultListLimit is the number of call IDs "list" returns without "limit".
const defaultListLimit = 32

// maxListLimit caps "limit" so a reply stays within one datagram's reach.
const maxListLimit = 1000

// errBadRequest marks a command the client got wrong; its text is the reply's
// error-reason.
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

func errorReply(reason string) Value {
	d := NewDict(2)
	d.Set("result", Str("error"))
	d.Set("error-reason", Str(reason))
	return d
}

func okReply(n int) Value {
	d := NewDict(n + 1)
	d.Set("result", Str("ok"))
	return d
}

// handle decodes and executes one command body and returns the reply.
func (s *Server) handle(ctx context.Context, body []byte) Value {
	msg, err := DecodeLimits(body, decodeLimits)
	if err != nil {
		return errorReply("malformed bencode: " + err.Error())
	}
	if msg.Kind != KindDict {
		return errorReply("command must be a dictionary, got " + msg.Kind.String())
	}
	cmdv, ok := msg.Get("command")
	if !ok {
		return errorReply("missing command")
	}
	cmd, ok := cmdv.Text()
	if !ok {
		return errorReply("command must be a string")
	}
	var resp Value
	switch strings.ToLower(cmd) {
	case "ping":
		resp = NewDict(1)
		resp.Set("result", Str("pong"))
		return resp
	case "offer":
		resp, err = s.offer(ctx, msg)
	case "answer":
		resp, err = s.answer(ctx, msg)
	case "delete":
		resp, err = s.delete(msg)
	case "query":
		resp, err = s.query(msg)
	case "list":
		resp, err = s.list(msg)
	default:
		return errorReply(fmt.Sprintf("unknown command %q", truncate(cmd, 64)))
	}
	if err != nil {
		if errors.Is(err, errBadRequest) {
			return errorReply(strings.TrimPrefix(err.Error(), errBadRequest.Error()+": "))
		}
		s.log.Info("ng command failed", "command", cmd, "err", err)
		return errorReply(err.Error())
	}
	return resp
}

// sdpCommand holds what offer and answer share.
type sdpCommand struct {
	callID, fromTag, toTag string
	sdp                    []byte
	flags                  rtpengine.Flags
	warn                   []string
}

// parseSDPCommand reads the keys of offer and answer; the answer needs a to-tag.
func parseSDPCommand(msg Value, needToTag bool) (sdpCommand, error) {
	var c sdpCommand
	var err error
	if c.callID, err = requiredString(msg, "call-id"); err != nil {
		return c, err
	}
	if c.fromTag, err = requiredString(msg, "from-tag"); err != nil {
		return c, err
	}
	if needToTag {
		c.toTag, err = requiredString(msg, "to-tag")
	} else {
		c.toTag, _, err = optionalString(msg, "to-tag")
	}
	if err != nil {
		return c, err
	}
	if c.sdp, err = requiredBytes(msg, "sdp"); err != nil {
		return c, err
	}
	c.flags, err = parseFlags(msg, &c.warn)
	return c, err
}

func (s *Server) offer(ctx context.Context, msg Value) (Value, error) {
	c, err := parseSDPCommand(msg, false)
	if err != nil {
		return Value{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	sdp, err := s.eng.Offer(ctx, rtpengine.OfferRequest{CallID: c.callID, FromTag: c.fromTag, ToTag: c.toTag, SDP: c.sdp, Flags: c.flags})
	if err != nil {
		return Value{}, err
	}
	return sdpReply(sdp, c.warn), nil
}

func (s *Server) answer(ctx context.Context, msg Value) (Value, error) {
	c, err := parseSDPCommand(msg, true)
	if err != nil {
		return Value{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	sdp, err := s.eng.Answer(ctx, rtpengine.AnswerRequest{CallID: c.callID, FromTag: c.fromTag, ToTag: c.toTag, SDP: c.sdp, Flags: c.flags})
	if err != nil {
		return Value{}, err
	}
	return sdpReply(sdp, c.warn), nil
}

func sdpReply(sdp []byte, warn []string) Value {
	d := okReply(2)
	d.Set("sdp", Bytes(sdp))
	if len(warn) > 0 {
		d.Set("warning", Str(strings.Join(warn, "; ")))
	}
	return d
}

// delete ends a call; without from-tag the whole call is deleted.
func (s *Server) delete(msg Value) (Value, error) {
	callID, err := requiredString(msg, "call-id")
	if err != nil {
		return Value{}, err
	}
	fromTag, _, err := optionalString(msg, "from-tag")
	if err != nil {
		return Value{}, err
	}
	cs, err := s.eng.Delete(callID, fromTag)
	if err != nil {
		return Value{}, err
	}
	return statsReply(cs), nil
}

func (s *Server) query(msg Value) (Value, error) {
	callID, err := requiredString(msg, "call-id")
	if err != nil {
		return Value{}, err
	}
	cs, err := s.eng.Query(callID)
	if err != nil {
		return Value{}, err
	}
	return statsReply(cs), nil
}

func (s *Server) list(msg Value) (Value, error) {
	limit := int64(defaultListLimit)
	if v, ok := msg.Get("limit"); ok {
		if v.Kind != KindInt {
			return Value{}, badRequest("limit must be an integer")
		}
		if v.Int < 0 {
			return Value{}, badRequest("limit must not be negative")
		}
		limit = min(v.Int, maxListLimit)
	}
	ids := s.eng.List(int(limit))
	if len(ids) > int(limit) {
		ids = ids[:limit]
	}
	calls := Value{Kind: KindList, List: make([]Value, 0, len(ids))}
	for _, id := range ids {
		calls.List = append(calls.List, Str(id))
	}
	d := okReply(1)
	d.Set("calls", calls)
	return d, nil
}

func requiredString(msg Value, key string) (string, error) {
	s, ok, err := optionalString(msg, key)
	if err != nil {
		return "", err
	}
	if !ok || s == "" {
		return "", badRequest("missing %s", key)
	}
	return s, nil
}

func optionalString(msg Value, key string) (string, bool, error) {
	v, ok := msg.Get(key)
	if !ok {
		return "", false, nil
	}
	s, ok := v.Text()
	if !ok {
		return "", false, badRequest("%s must be a string, got %s", key, v.Kind)
	}
	return s, true, nil
}

func requiredBytes(msg Value, key string) ([]byte, error) {
	v, ok := msg.Get(key)
	if !ok || (v.Kind == KindString && len(v.Str) == 0) {
		return nil, badRequest("missing %s", key)
	}
	if v.Kind != KindString {
		return nil, badRequest("%s must be a string, got %s", key, v.Kind)
	}
	return v.Str, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
