//go:build linux

package main

import (
	"syscall"
	"testing"
	"time"
)

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
