//go:build linux

package main

import (
	"syscall"
	"unsafe"

	"github.com/openborder/openborder/test/kstamp"
)

// stampedReader reads one datagram with recvmsg(2) and the kernel's
// arrival timestamp (SCM_TIMESTAMPNS) beside it, without allocating.
type stampedReader struct {
	iov syscall.Iovec
	oob [64]byte
	msg syscall.Msghdr
}

func newStampedReader(buf []byte) *stampedReader {
	r := new(stampedReader)
	r.iov.Base = &buf[0]
	r.iov.SetLen(len(buf))
	r.msg.Iov = &r.iov
	r.msg.Iovlen = 1
	r.msg.Control = &r.oob[0]
	return r
}

// read receives into the buffer given to newStampedReader; wallNs is the
// arrival time (CLOCK_REALTIME, ns), 0 when the kernel sent no stamp.
func (r *stampedReader) read(fd int) (n int, wallNs int64, err error) {
	r.msg.SetControllen(len(r.oob))
	r.msg.Flags = 0
	got, _, errno := syscall.Syscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.msg)), 0)
	if errno != 0 {
		return 0, 0, errno
	}
	return int(got), kstamp.Arrival(r.oob[:r.msg.Controllen]), nil
}
