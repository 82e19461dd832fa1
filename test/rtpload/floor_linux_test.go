//go:build linux

package main

import (
	"fmt"
	"syscall"
	"testing"
	"unsafe"
)

// BenchmarkKernelUDPFloor measures what the kernel alone charges for one
// relayed datagram on this machine: a sendto from one loopback socket to
// another (the send runs the receiving socket's delivery too) and the
// recvfrom that takes it, with no epoll, no waiting reader and no
// user-space work, over 1 or 1680 socket pairs (the streams of 840
// calls; cold caches). A user-space relay pays one of each per packet,
// so their sum is the floor under its CPU per relayed packet.
func BenchmarkKernelUDPFloor(b *testing.B) {
	for _, pairs := range []int{1, 1680} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) {
			snd, rcv := make([]udpSock, pairs), make([]udpSock, pairs)
			dst := make([]syscall.RawSockaddrInet4, pairs)
			defer func() {
				for i := range pairs {
					snd[i].close()
					rcv[i].close()
				}
			}()
			for i := range pairs {
				var err error
				if snd[i], err = openSock(); err != nil {
					b.Fatal(err)
				}
				if rcv[i], err = openSock(); err != nil {
					b.Fatal(err)
				}
				p := rcv[i].local.Port()
				dst[i] = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Port: p>>8 | p<<8, Addr: rcv[i].local.Addr().As4()}
			}
			pkt := make([]byte, 172) // RTP header + 160 bytes of G.711
			buf := make([]byte, 2048)
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				i := k % pairs
				k++
				if _, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(snd[i].fd), uintptr(unsafe.Pointer(&pkt[0])),
					uintptr(len(pkt)), syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&dst[i])), syscall.SizeofSockaddrInet4); e != 0 {
					b.Fatal(e)
				}
				if _, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(rcv[i].fd), uintptr(unsafe.Pointer(&buf[0])),
					uintptr(len(buf)), syscall.MSG_DONTWAIT, 0, 0); e != 0 {
					b.Fatal(e)
				}
			}
		})
	}
}
