//go:build linux

package kstamp

import (
	"encoding/binary"
	"syscall"
	"testing"
	"unsafe"
)

func TestArrival(t *testing.T) {
	oob := make([]byte, 64)
	put := func(off int, level, typ int32, payload []byte) int {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[off]))
		h.Level, h.Type = level, typ
		h.SetLen(syscall.SizeofCmsghdr + len(payload))
		copy(oob[off+syscall.SizeofCmsghdr:], payload)
		return off + (syscall.SizeofCmsghdr+len(payload)+7)&^7
	}
	ts := make([]byte, 16)
	binary.NativeEndian.PutUint64(ts, 3)
	binary.NativeEndian.PutUint64(ts[8:], 500)
	// Another control message first, then the stamp.
	end := put(0, syscall.SOL_IP, syscall.IP_TOS, []byte{1, 0, 0, 0})
	end = put(end, syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, ts)
	if got := Arrival(oob[:end]); got != 3e9+500 {
		t.Fatalf("stamp %d, want %d", got, int64(3e9+500))
	}
	if got := Arrival(oob[:syscall.SizeofCmsghdr-1]); got != 0 {
		t.Fatalf("truncated buffer gave %d", got)
	}
	bad := make([]byte, 32)
	(*syscall.Cmsghdr)(unsafe.Pointer(&bad[0])).SetLen(200) // longer than the buffer
	if got := Arrival(bad); got != 0 {
		t.Fatalf("overlong cmsg gave %d", got)
	}
}
