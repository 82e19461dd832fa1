package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/openborder/openborder/firmware/admin"
)

// recordCmd: sbcctl record start ID | record stop ID.
func recordCmd(c *client, o *out, args []string) error {
	if len(args) != 2 || (args[0] != "start" && args[0] != "stop") {
		return usageError("record start ID | record stop ID")
	}
	method := "POST"
	if args[0] == "stop" {
		method = "DELETE"
	}
	return o.show(c.do(method, "/api/v1/calls/"+pathEscape(args[1])+"/recording", nil), showRecording)
}

func showRecording(w io.Writer, b []byte) error {
	var r admin.Recording
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	fmt.Fprintf(w, "call\t%s\nstate\t%s\ndirectory\t%s\n", r.CallID, r.State, r.Directory)
	if r.State == "stopped" {
		fmt.Fprintf(w, "files\t%s\nseconds\t%.1f\ndropped\t%d\n", strings.Join(r.Files, " "), r.Seconds, r.Dropped)
	}
	return nil
}
