//go:build !linux

package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "rtpload:", errors.New("runs on Linux only (epoll, /proc)"))
	os.Exit(2)
}
