//go:build linux

package main

import (
	"encoding/binary"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func TestArrivalStampParse(t *testing.T) {
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
	if got := arrivalStamp(oob[:end]); got != 3e9+500 {
		t.Fatalf("stamp %d, want %d", got, int64(3e9+500))
	}
	if got := arrivalStamp(oob[:syscall.SizeofCmsghdr-1]); got != 0 {
		t.Fatalf("truncated buffer gave %d", got)
	}
	bad := make([]byte, 32)
	(*syscall.Cmsghdr)(unsafe.Pointer(&bad[0])).SetLen(200) // longer than the buffer
	if got := arrivalStamp(bad); got != 0 {
		t.Fatalf("overlong cmsg gave %d", got)
	}
}

// A datagram over loopback carries an arrival stamp between the send
// and the read.
func TestStampedReaderLoopback(t *testing.T) {
	a, err := openSock()
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	b, err := openSock()
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := a.connect(b.local); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UnixNano()
	if _, err := syscall.Write(a.fd, []byte("probe")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	rd := newStampedReader(buf)
	var n int
	var wall int64
	for deadline := time.Now().Add(2 * time.Second); ; {
		n, wall, err = rd.read(b.fd)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	after := time.Now().UnixNano()
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "probe" {
		t.Fatalf("read %q", buf[:n])
	}
	if wall < before || wall > after {
		t.Fatalf("arrival stamp %d outside [%d, %d]", wall, before, after)
	}
}
