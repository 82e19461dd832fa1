// Package guard is the border defence of sbcd's signalling plane: the
// request-chain stages that run on the raw bytes of every SIP message
// before sipgo parses it, in this order:
//
//  1. sanity: size, header count and length, Via count, mandatory and
//     single-value headers, Content-Length against the body, CSeq,
//     Max-Forwards, Via branch form, SDP sanity, and finally a trial parse;
//  2. ACL: the realm's and the source trunk's allow/deny CIDRs, and
//     trunks-only realms;
//  3. blacklist: time-limited blocks, automatic or manual;
//  4. rate limit: sharded token buckets per source IP, realm, trunk and
//     account, with separate budgets for new calls, REGISTERs, other
//     requests and in-dialog traffic;
//  5. scanner detection: scanner User-Agents, many distinct users from one
//     source, many 404s for unknown users.
//
// Each stage is cheap (no allocation on the pass path), counts what it
// refuses by stage and reason, and answers (Respond) or drops. Rules are
// compiled from a *policy.Set and swapped atomically on reload; the
// blacklist and the buckets survive reloads.
//
// The package never opens sockets: sbc wraps its listeners' connections
// (WrapPacketConn, WrapListener) so the stages run on the listeners' read
// loops and can answer on the same socket.
package guard
