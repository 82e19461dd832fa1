package guard

import (
	"hash/maphash"
	"strconv"
)

// legacyBranch returns dst with b's message rewritten for an RFC 2543
// peer (top Via without an RFC 3261 branch): the branch gets the magic
// cookie and a hash of the transaction's identifiers (Call-ID, CSeq
// number, From, top Via), so retransmissions, the ACK of a non-2xx and
// CANCEL map to the same transaction in the SIP stack, which matches
// transactions only by RFC 3261 branch. ok is false when b needs no
// rewrite.
func (g *Guard) legacyBranch(dst, b []byte, m *Msg) ([]byte, bool) {
	if m.Response || !m.topVia.ok() {
		return dst, false
	}
	v := m.topVia.of(b)
	at, prefix := -1, false
	if i := indexFold(v, "branch"); i >= 0 {
		rest := v[i+6:]
		k := 0
		for k < len(rest) && (rest[k] == ' ' || rest[k] == '\t') {
			k++
		}
		if k < len(rest) && rest[k] == '=' {
			k++
			for k < len(rest) && (rest[k] == ' ' || rest[k] == '\t') {
				k++
			}
			if len(rest)-k >= 7 && eqFold(rest[k:k+7], "z9hg4bk") {
				return dst, false
			}
			at, prefix = m.topVia.s+i+6+k, true
		}
	}
	if at < 0 {
		at = m.topVia.e
		for at > m.topVia.s && (b[at-1] == ' ' || b[at-1] == '\t') {
			at--
		}
	}
	var h maphash.Hash
	h.SetSeed(g.seed)
	_, _ = h.Write(m.callID.of(b))
	if m.cseqMethod.ok() {
		_, _ = h.Write(b[m.cseq.s:m.cseqMethod.s])
	}
	_, _ = h.Write(m.from.of(b))
	_, _ = h.Write(v)
	dst = append(dst, b[:at]...)
	if !prefix {
		dst = append(dst, ";branch="...)
	}
	dst = append(dst, "z9hG4bK"...)
	dst = strconv.AppendUint(dst, h.Sum64(), 36)
	if prefix {
		dst = append(dst, '.')
	}
	return append(dst, b[at:]...), true
}
