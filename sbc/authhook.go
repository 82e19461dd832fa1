package sbc

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc/auth"
)

// accountLookup serves a realm's compiled accounts to the digest verifier.
type accountLookup struct{ a *policy.Auth }

func (l accountLookup) HA1(user string, alg auth.Algorithm) (string, bool) {
	acc := l.a.Account(user)
	if acc == nil {
		return "", false
	}
	h := acc.HA1MD5
	if alg == auth.SHA256 {
		h = acc.HA1SHA256
	}
	return h, h != ""
}

// challenger builds the digest verifier of a realm's policy.
func (b *B2BUA) challenger(pa *policy.Auth) *auth.Challenger {
	algs := make([]auth.Algorithm, 0, len(pa.Algorithms))
	for _, s := range pa.Algorithms {
		if a, err := auth.ParseAlgorithm(s); err == nil {
			algs = append(algs, a)
		}
	}
	return &auth.Challenger{Realm: pa.Realm, Algorithms: algs, TTL: pa.NonceTTL,
		Users: accountLookup{pa}, Nonces: b.nonces}
}

// authenticate runs digest authentication for an out-of-dialog request of
// a realm that requires it. It answers the request itself (401 to
// REGISTER, 407 to others, 400 for unreadable credentials) and returns
// false, or returns true with the authenticated account in tx.account
// (empty when the request needs no authentication). Requests from the
// realm's trunks and emergency calls are not challenged.
func (b *B2BUA) authenticate(r *realm, req *sip.Request, tx *serverTx) bool {
	pol := b.pol.Load()
	pr := pol.Realm(r.name)
	if pr == nil || !pr.Auth.Requires(string(req.Method)) {
		return true
	}
	src := sourceAddr(req)
	if pol.TrunkByAddr(pr.Name, src) != nil {
		return true
	}
	if req.Method == sip.INVITE && pr.IsEmergency(req.Recipient.User) {
		return true
	}
	code, hdr, chHdr := 407, "Proxy-Authorization", "Proxy-Authenticate"
	if req.Method == sip.REGISTER {
		code, hdr, chHdr = 401, "Authorization", "WWW-Authenticate"
	}
	ch := b.challenger(pr.Auth)
	var cred *auth.Credentials
	for _, h := range req.GetHeaders(hdr) {
		if !isDigest(h.Value()) {
			continue // another scheme: ignored, the request is challenged
		}
		cr, err := auth.ParseCredentials(h.Value())
		if err != nil {
			b.obs.Rejected(r.name, req.Method, "auth_malformed")
			b.authFailed(src)
			res := newResponse(req, 400)
			res.Reason = "Bad Credentials"
			_ = tx.Respond(res)
			return false
		}
		if cr.Realm == ch.Realm {
			cred = &cr
			break
		}
	}
	stale := false
	if cred != nil {
		err := ch.Verify(string(req.Method), cred)
		if err == nil {
			tx.account = cred.Username
			return true
		}
		stale = errors.Is(err, auth.ErrStale)
		if !stale {
			b.authFailed(src)
			b.log.Info("authentication failed", "realm", r.name, "user", cred.Username,
				"source", src.String(), "method", string(req.Method), "err", err)
		}
	}
	label := "auth_challenge"
	switch {
	case stale:
		label = "auth_stale"
	case cred != nil:
		label = "auth_failed"
	}
	b.obs.Rejected(r.name, req.Method, label)
	res := newResponse(req, code)
	for _, v := range ch.Challenge(stale) {
		res.AppendHeader(sip.NewHeader(chHdr, v))
	}
	_ = tx.Respond(res)
	return false
}

// authFailed tells the border defence about a failed authentication
// (wrong password, unknown user, replayed or forged nonce), which counts
// them per source and blacklists brute-force sources.
func (b *B2BUA) authFailed(src netip.AddrPort) {
	if b.guard != nil && src.IsValid() && b.guard.ReportAuthFailure(src.Addr().Unmap()) {
		b.log.Warn("source blacklisted after failed authentications", "source", src.Addr().String())
	}
}

// isDigest reports whether a credentials header uses the Digest scheme.
func isDigest(v string) bool {
	v = strings.TrimLeft(v, " \t")
	return len(v) >= 6 && strings.EqualFold(v[:6], "Digest") && (len(v) == 6 || v[6] == ' ' || v[6] == '\t')
}
