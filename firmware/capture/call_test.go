package capture

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// A call through sbcd as the tests see it: phone 127.0.0.10 calls +4930123
// on the access realm (sbcd 127.0.0.1:5060); sbcd places the B leg on the
// core realm (127.0.0.1:5080) towards the PBX at 127.0.0.1:5090. Media is
// anchored: phone 127.0.0.10:40000 <-> sbcd 127.0.0.1:20000 on leg A and
// sbcd 127.0.0.1:20002 <-> PBX 127.0.0.1:30000 on leg B.
var (
	phoneSIP  = netip.MustParseAddrPort("127.0.0.10:5060")
	accessSIP = netip.MustParseAddrPort("127.0.0.1:5060")
	coreSIP   = netip.MustParseAddrPort("127.0.0.1:5080")
	pbxSIP    = netip.MustParseAddrPort("127.0.0.1:5090")
	phoneRTP  = netip.MustParseAddrPort("127.0.0.10:40000")
	accessRTP = netip.MustParseAddrPort("127.0.0.1:20000")
	coreRTP   = netip.MustParseAddrPort("127.0.0.1:20002")
	pbxRTP    = netip.MustParseAddrPort("127.0.0.1:30000")
)

const (
	callKey = "c-7f3a9e"
	callIDA = "a84b4c76e66710@127.0.0.10"
	callIDB = "b2b-5f1c2d7e@127.0.0.1"
)

func sdp(user string, addr netip.AddrPort, sessID int) string {
	return fmt.Sprintf("v=0\r\no=%s %d %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		user, sessID, sessID, addr.Addr(), addr.Addr(), addr.Port())
}

// sipMsg builds a SIP message with the given start line and headers and
// adds Content-Type and Content-Length.
func sipMsg(start string, headers []string, body string) []byte {
	var b strings.Builder
	b.WriteString(start + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// leg describes one SIP dialog of the call.
type leg struct {
	realm          string
	callID         string
	uac, uas       netip.AddrPort // who sends the INVITE, who answers
	uacIsSBC       bool
	fromTag, toTag string
	branch         string
	ruri           string
}

func (l leg) hdrs(method string, cseq int, branch string, toTag bool) []string {
	to := "To: <sip:+4930123@" + l.uas.Addr().String() + ">"
	if toTag {
		to += ";tag=" + l.toTag
	}
	return []string{
		"Via: SIP/2.0/UDP " + l.uac.String() + ";branch=" + branch,
		"Max-Forwards: 70",
		"From: \"Alice\" <sip:+4915550100@" + l.uac.Addr().String() + ">;tag=" + l.fromTag,
		to,
		"Call-ID: " + l.callID,
		fmt.Sprintf("CSeq: %d %s", cseq, method),
	}
}

// record makes a Record as sbcd would see it for a message from → to on
// leg l.
func (l leg) record(t time.Time, fromUAC bool, kind Kind, local, remote netip.AddrPort, payload []byte) Record {
	sbcSends := fromUAC == l.uacIsSBC
	dir := In
	if sbcSends {
		dir = Out
	}
	return Record{Time: t, Dir: dir, Transport: UDP, Kind: kind, Local: local, Remote: remote,
		Realm: l.realm, CallKey: callKey, Payload: payload}
}

// sipCall returns the records of a whole call: both legs' INVITE, 100,
// 180, 200, ACK, BYE and 200, and rtpPackets RTP packets per direction
// per leg, with one RTCP sender report per direction per leg.
func sipCall(t0 time.Time, rtpPackets int) []Record {
	a := leg{realm: "access", callID: callIDA, uac: phoneSIP, uas: accessSIP, fromTag: "9fxced76sl", toTag: "sbc-a1", branch: "z9hG4bK74bf9", ruri: "sip:+4930123@127.0.0.1:5060"}
	b := leg{realm: "core", callID: callIDB, uac: coreSIP, uas: pbxSIP, uacIsSBC: true, fromTag: "sbc-b1", toTag: "pbx-77", branch: "z9hG4bKsbc01", ruri: "sip:+4930123@127.0.0.1:5090"}
	local := func(l leg) (netip.AddrPort, netip.AddrPort) { // sbcd's address, the peer's
		if l.uacIsSBC {
			return l.uac, l.uas
		}
		return l.uas, l.uac
	}
	var recs []Record
	t := t0
	step := func(d time.Duration) time.Time { t = t.Add(d); return t }
	add := func(l leg, fromUAC bool, msg []byte) {
		lo, re := local(l)
		recs = append(recs, l.record(step(2*time.Millisecond), fromUAC, SIP, lo, re, msg))
	}
	contact := func(ap netip.AddrPort) string { return "Contact: <sip:" + ap.String() + ">" }

	// INVITE A, 100 A, INVITE B, 100 B, 180 B, 180 A, 200 B, ACK B, 200 A, ACK A.
	add(a, true, sipMsg("INVITE "+a.ruri+" SIP/2.0", append(a.hdrs("INVITE", 1, a.branch, false), contact(phoneSIP)), sdp("alice", phoneRTP, 1001)))
	add(a, false, sipMsg("SIP/2.0 100 Trying", a.hdrs("INVITE", 1, a.branch, false), ""))
	add(b, true, sipMsg("INVITE "+b.ruri+" SIP/2.0", append(b.hdrs("INVITE", 1, b.branch, false), contact(coreSIP)), sdp("sbcd", coreRTP, 2001)))
	add(b, false, sipMsg("SIP/2.0 100 Trying", b.hdrs("INVITE", 1, b.branch, false), ""))
	add(b, false, sipMsg("SIP/2.0 180 Ringing", append(b.hdrs("INVITE", 1, b.branch, true), contact(pbxSIP)), ""))
	add(a, false, sipMsg("SIP/2.0 180 Ringing", append(a.hdrs("INVITE", 1, a.branch, true), contact(accessSIP)), ""))
	add(b, false, sipMsg("SIP/2.0 200 OK", append(b.hdrs("INVITE", 1, b.branch, true), contact(pbxSIP)), sdp("pbx", pbxRTP, 3001)))
	add(b, true, sipMsg("ACK sip:"+pbxSIP.String()+" SIP/2.0", b.hdrs("ACK", 1, b.branch+"a", true), ""))
	add(a, false, sipMsg("SIP/2.0 200 OK", append(a.hdrs("INVITE", 1, a.branch, true), contact(accessSIP)), sdp("sbcd", accessRTP, 4001)))
	add(a, true, sipMsg("ACK sip:"+accessSIP.String()+" SIP/2.0", a.hdrs("ACK", 1, a.branch+"a", true), ""))

	// Media: 20 ms packets both ways on both legs, RTCP half way through.
	streams := []struct {
		realm       string
		dir         Direction
		local, peer netip.AddrPort
		ssrc        uint32
	}{
		{"access", In, accessRTP, phoneRTP, 0x11111111},
		{"access", Out, accessRTP, phoneRTP, 0x22222222},
		{"core", Out, coreRTP, pbxRTP, 0x33333333},
		{"core", In, coreRTP, pbxRTP, 0x44444444},
	}
	mt := t
	for i := range rtpPackets {
		mt = mt.Add(20 * time.Millisecond)
		for j, s := range streams {
			pkt := rtpPacket(uint16(1000*j+i), uint32(160*i), s.ssrc, i == 0)
			recs = append(recs, Record{Time: mt.Add(time.Duration(j) * time.Millisecond), Dir: s.dir, Transport: UDP,
				Kind: RTP, Local: s.local, Remote: s.peer, Realm: s.realm, CallKey: callKey, Payload: pkt})
			if i == rtpPackets/2 {
				rl := netip.AddrPortFrom(s.local.Addr(), s.local.Port()+1)
				rp := netip.AddrPortFrom(s.peer.Addr(), s.peer.Port()+1)
				recs = append(recs, Record{Time: mt.Add(time.Duration(j)*time.Millisecond + 500*time.Microsecond), Dir: s.dir,
					Transport: UDP, Kind: RTCP, Local: rl, Remote: rp, Realm: s.realm, CallKey: callKey,
					Payload: rtcpSR(s.ssrc, uint32(i), uint32(160*i))})
			}
		}
	}
	t = mt.Add(10 * time.Millisecond)

	// BYE from the phone, 200 A, BYE B, 200 B.
	add(a, true, sipMsg("BYE sip:"+accessSIP.String()+" SIP/2.0", a.hdrs("BYE", 2, a.branch+"b", true), ""))
	add(a, false, sipMsg("SIP/2.0 200 OK", a.hdrs("BYE", 2, a.branch+"b", true), ""))
	add(b, true, sipMsg("BYE sip:"+pbxSIP.String()+" SIP/2.0", b.hdrs("BYE", 2, b.branch+"b", true), ""))
	add(b, false, sipMsg("SIP/2.0 200 OK", b.hdrs("BYE", 2, b.branch+"b", true), ""))
	return recs
}

// rtpPacket builds an RTP packet with a 160-byte PCMU payload.
func rtpPacket(seq uint16, ts, ssrc uint32, marker bool) []byte {
	p := make([]byte, 12+160)
	p[0] = 0x80
	p[1] = 0 // PCMU
	if marker {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	for i := 12; i < len(p); i++ {
		p[i] = 0xff // µ-law silence
	}
	return p
}

// rtcpSR builds an RTCP sender report without report blocks.
func rtcpSR(ssrc, packets, ts uint32) []byte {
	p := make([]byte, 28)
	p[0] = 0x80
	p[1] = 200
	binary.BigEndian.PutUint16(p[2:], 6)
	binary.BigEndian.PutUint32(p[4:], ssrc)
	binary.BigEndian.PutUint32(p[8:], 0xe9d0c000) // NTP seconds
	binary.BigEndian.PutUint32(p[16:], ts)
	binary.BigEndian.PutUint32(p[20:], packets)
	binary.BigEndian.PutUint32(p[24:], packets*160)
	return p
}

// tcpExchange returns a REGISTER and its 200 over TCP, and an INVITE with
// a large body over TCP that needs more than one segment, with its 100.
func tcpExchange(t0 time.Time) []Record {
	ua := netip.MustParseAddrPort("127.0.0.20:40500")
	reg := sipMsg("REGISTER sip:127.0.0.1 SIP/2.0", []string{
		"Via: SIP/2.0/TCP " + ua.String() + ";branch=z9hG4bKreg1",
		"Max-Forwards: 70",
		"From: <sip:bob@127.0.0.1>;tag=r1",
		"To: <sip:bob@127.0.0.1>",
		"Call-ID: reg-1@127.0.0.20",
		"CSeq: 1 REGISTER",
		"Contact: <sip:bob@" + ua.String() + ";transport=tcp>",
		"Expires: 3600",
	}, "")
	ok := sipMsg("SIP/2.0 200 OK", []string{
		"Via: SIP/2.0/TCP " + ua.String() + ";branch=z9hG4bKreg1",
		"From: <sip:bob@127.0.0.1>;tag=r1",
		"To: <sip:bob@127.0.0.1>;tag=sbc-r",
		"Call-ID: reg-1@127.0.0.20",
		"CSeq: 1 REGISTER",
		"Contact: <sip:bob@" + ua.String() + ";transport=tcp>;expires=3600",
	}, "")
	body := sdp("bob", netip.MustParseAddrPort("127.0.0.20:41000"), 5001)
	for i := range 40 {
		body += fmt.Sprintf("a=x-padding-%02d:%s\r\n", i, strings.Repeat("z", 40))
	}
	inv := sipMsg("INVITE sip:alice@127.0.0.1 SIP/2.0", []string{
		"Via: SIP/2.0/TCP " + ua.String() + ";branch=z9hG4bKinv2",
		"Max-Forwards: 70",
		"From: <sip:bob@127.0.0.1>;tag=i2",
		"To: <sip:alice@127.0.0.1>",
		"Call-ID: tcp-call-2@127.0.0.20",
		"CSeq: 1 INVITE",
		"Contact: <sip:bob@" + ua.String() + ";transport=tcp>",
	}, body)
	trying := sipMsg("SIP/2.0 100 Trying", []string{
		"Via: SIP/2.0/TCP " + ua.String() + ";branch=z9hG4bKinv2",
		"From: <sip:bob@127.0.0.1>;tag=i2",
		"To: <sip:alice@127.0.0.1>",
		"Call-ID: tcp-call-2@127.0.0.20",
		"CSeq: 1 INVITE",
	}, "")
	mk := func(d time.Duration, dir Direction, p []byte) Record {
		return Record{Time: t0.Add(d), Dir: dir, Transport: TCP, Kind: SIP, Local: accessSIP, Remote: ua, Realm: "access", Payload: p}
	}
	return []Record{
		mk(0, In, reg), mk(time.Millisecond, Out, ok),
		mk(10*time.Millisecond, In, inv), mk(11*time.Millisecond, Out, trying),
	}
}
