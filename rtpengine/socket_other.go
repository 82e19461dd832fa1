//go:build !unix

package rtpengine

import "errors"

func setTOS(fd uintptr, tos int, v6 bool) {}

func getTOS(fd uintptr) (int, error) { return 0, errors.New("TOS not supported on this platform") }
