package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/openborder/openborder/firmware/admin"
)

// blacklistCmd runs "blacklist list | add IP [DURATION] | remove IP".
func blacklistCmd(c *client, o *out, args []string) error {
	if len(args) == 0 {
		return usageError("blacklist needs list, add IP [DURATION] or remove IP")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		if len(args) != 0 {
			return usageError("blacklist list takes no argument")
		}
		return o.show(c.get("/api/v1/blacklist"), showBlacklist)
	case "add":
		if len(args) < 1 || len(args) > 2 {
			return usageError("blacklist add IP [DURATION]")
		}
		req := admin.BlacklistRequest{Address: args[0]}
		if len(args) == 2 {
			req.Duration = args[1]
		}
		raw, _ := json.Marshal(req)
		return o.show(c.do("POST", "/api/v1/blacklist", raw), showResult)
	case "remove":
		if len(args) != 1 {
			return usageError("blacklist remove IP")
		}
		return o.show(c.do("DELETE", "/api/v1/blacklist/"+pathEscape(args[0]), nil), showResult)
	}
	return usageError("unknown blacklist command " + sub)
}

func showBlacklist(w io.Writer, b []byte) error {
	var l admin.BlacklistList
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	fmt.Fprintln(w, "ADDRESS\tREALM\tREASON\tSINCE\tEXPIRES IN")
	for _, e := range l.Entries {
		exp := "never"
		if !e.Expires.IsZero() {
			exp = time.Until(e.Expires).Truncate(time.Second).String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Address, dash(e.Realm), e.Reason, e.Added.Format(time.RFC3339), exp)
	}
	if len(l.Entries) == 0 {
		fmt.Fprintln(w, "(blacklist empty)")
	}
	return nil
}
