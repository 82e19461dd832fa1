//go:build unix

package rtpengine

import "syscall"

func setTOS(fd uintptr, tos int, v6 bool) {
	if v6 {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_TCLASS, tos)
		return
	}
	_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TOS, tos)
}

func getTOS(fd uintptr) (int, error) {
	return syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TOS)
}
