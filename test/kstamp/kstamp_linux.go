//go:build linux

package kstamp

import (
	"encoding/binary"
	"syscall"
	"unsafe"
)

// Arrival finds SCM_TIMESTAMPNS among the control messages in oob (the
// control buffer of recvmsg/recvmmsg, cut to its returned length) and
// returns its time in ns (CLOCK_REALTIME); 0 without one or on a
// malformed buffer.
func Arrival(oob []byte) int64 {
	const hdr = syscall.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l >= hdr+16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr:]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8:]))
			return sec*1e9 + nsec
		}
		step := (l + 7) &^ 7 // CMSG_ALIGN
		if step > len(oob) {
			return 0
		}
		oob = oob[step:]
	}
	return 0
}
