package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/openborder/openborder/sbc"
)

// showOutbound prints sbcd's registrations with trunks.
func showOutbound(w io.Writer, b []byte) error {
	var regs []sbc.OutboundRegistration
	if err := json.Unmarshal(b, &regs); err != nil {
		return err
	}
	fmt.Fprintln(w, "TRUNK\tAOR\tREGISTRAR\tSTATE\tEXPIRES IN\tFAILURES\tLAST")
	for _, r := range regs {
		exp := "-"
		if !r.Expires.IsZero() {
			exp = time.Until(r.Expires).Truncate(time.Second).String()
		}
		last := dash(r.LastError)
		if r.LastError == "" && r.LastStatus != 0 {
			last = fmt.Sprint(r.LastStatus)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Trunk, r.AOR, r.Registrar, r.State, exp, r.Failures, last)
	}
	if len(regs) == 0 {
		fmt.Fprintln(w, "(no outbound registrations)")
	}
	return nil
}
