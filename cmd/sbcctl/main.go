// Command sbcctl is the operator's command-line tool for sbcd.
//
//	sbcctl check-config FILE    validate a policy file offline
//	sbcctl [-admin ADDR] health ask a running sbcd whether it is healthy
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/openborder/openborder/policy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sbcctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "127.0.0.1:8080", "admin API address of sbcd")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sbcctl [-admin ADDR] check-config FILE | health")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch fs.Arg(0) {
	case "check-config":
		if fs.NArg() != 2 {
			fs.Usage()
			return 2
		}
		set, err := policy.Load(fs.Arg(1))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK (%d realms, %d trunks)\n", fs.Arg(1), len(set.Realms()), len(set.Trunks()))
		return 0
	case "health":
		c := http.Client{Timeout: 5 * time.Second}
		res, err := c.Get("http://" + *admin + "/healthz")
		if err != nil {
			fmt.Fprintln(stderr, "sbcd not reachable:", err)
			return 1
		}
		defer res.Body.Close()
		_, _ = io.Copy(stdout, res.Body)
		if res.StatusCode != http.StatusOK {
			return 1
		}
		return 0
	default:
		fs.Usage()
		return 2
	}
}
