package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
)

// out prints API replies as tables or raw JSON.
type out struct {
	w    io.Writer
	json bool
}

func (o *out) show(r reply, render func(io.Writer, []byte) error) error {
	if r.err != nil {
		return r.err
	}
	if o.json {
		_, err := o.w.Write(r.body)
		return err
	}
	tw := tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
	if err := render(tw, r.body); err != nil {
		return fmt.Errorf("unexpected reply: %w", err)
	}
	return tw.Flush()
}

func showStatus(w io.Writer, b []byte) error {
	var s admin.Status
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	fmt.Fprintf(w, "version\t%s\nuptime\t%s\npolicy\t%s (%.12s)\ndraining\t%v\ncalls\t%d\nregistrations\t%d\nmedia streams\t%d\nrealms\t%s\n",
		s.Version, time.Duration(s.UptimeSeconds)*time.Second, s.PolicyFile, s.PolicyHash, s.Draining, s.ActiveCalls,
		s.Registrations, s.MediaStreams, strings.Join(s.Realms, ", "))
	return nil
}

// callJSON is a call as the API shows it, with media statistics when
// one call is asked for.
type callJSON struct {
	sbc.CallInfo
	Media *rtpengine.CallStats `json:"media"`
}

func (c callJSON) trunk() string {
	for _, l := range c.Legs {
		if l.Trunk != "" {
			return l.Trunk
		}
	}
	return "-"
}

func showCalls(w io.Writer, b []byte) error {
	var calls []callJSON
	if err := json.Unmarshal(b, &calls); err != nil {
		return err
	}
	fmt.Fprintln(w, "ID\tSTATE\tCALLER\tCALLEE\tROUTE\tTRUNK\tAGE")
	for _, c := range calls {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.State, c.Caller, c.Callee, c.Route, c.trunk(),
			time.Since(c.Start).Truncate(time.Second))
	}
	if len(calls) == 0 {
		fmt.Fprintln(w, "(no calls)")
	}
	return nil
}

func showCall(w io.Writer, b []byte) error {
	var c callJSON
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	fmt.Fprintf(w, "id\t%s\nstate\t%s\nroute\t%s\ncaller\t%s\ncallee\t%s\nstart\t%s\n", c.ID, c.State, c.Route, c.Caller, c.Callee, c.Start.Format(time.RFC3339))
	if !c.Answered.IsZero() {
		fmt.Fprintf(w, "answered\t%s\n", c.Answered.Format(time.RFC3339))
	}
	fmt.Fprintln(w, "\nLEG\tREALM\tTRUNK\tTRANSPORT\tPEER\tCALL-ID")
	for _, l := range c.Legs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Side, l.Realm, dash(l.Trunk), l.Transport, l.Peer, l.CallID)
	}
	if c.Media != nil {
		fmt.Fprintf(w, "\nMEDIA\tLOCAL\tPEER\tIN\tOUT\tLOST\tJITTER\n")
		for _, l := range c.Media.Legs {
			for _, s := range l.Streams {
				fmt.Fprintf(w, "%s/%s\t%s\t%s\t%d\t%d\t%d\t%s\n", l.Tag, s.Media, s.Local, s.Peer, s.PacketsIn, s.PacketsOut, s.Lost, s.Jitter)
			}
		}
		fmt.Fprintf(w, "MOS\t%.2f\n", c.Media.MOS)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func showRegistrations(w io.Writer, b []byte) error {
	var regs []sbc.Registration
	if err := json.Unmarshal(b, &regs); err != nil {
		return err
	}
	fmt.Fprintln(w, "REALM\tUSER\tCONTACT\tSOURCE\tEXPIRES IN")
	for _, r := range regs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Realm, r.User, r.Contact, r.Source, time.Until(r.Expires).Truncate(time.Second))
	}
	if len(regs) == 0 {
		fmt.Fprintln(w, "(no registrations)")
	}
	return nil
}

func showTrunks(w io.Writer, b []byte) error {
	var trunks []admin.Trunk
	if err := json.Unmarshal(b, &trunks); err != nil {
		return err
	}
	fmt.Fprintln(w, "TRUNK\tREALM\tCALLS\tAVAILABLE\tGATEWAY\tTRANSPORT\tPRIORITY\tWEIGHT\tHEALTH\tLAST PROBE")
	for _, t := range trunks {
		for i, g := range t.Gateways {
			name, realm, calls, avail := t.Name, t.Realm, fmt.Sprint(t.ActiveCalls), fmt.Sprint(t.Available)
			if i > 0 {
				name, realm, calls, avail = "", "", "", ""
			}
			probe := "-"
			if g.LastProbe != nil {
				probe = fmt.Sprintf("%s (%.1fms)", g.LastResult, g.RTTMs)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", name, realm, calls, avail, g.Address, g.Transport,
				g.Priority, g.Weight, g.Health, probe)
		}
	}
	return nil
}

func showPolicy(w io.Writer, b []byte) error {
	var p struct {
		YAML string `json:"yaml"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	_, err := io.WriteString(w, p.YAML)
	return err
}

func showSummary(w io.Writer, b []byte) error {
	var s admin.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	fmt.Fprintf(w, "active calls\t%d\n", s.ActiveCalls)
	for _, k := range sortedKeys(s.CallsByResult) {
		fmt.Fprintf(w, "calls %s\t%d\n", k, s.CallsByResult[k])
	}
	for _, k := range sortedKeys(s.Rejections) {
		fmt.Fprintf(w, "rejected %s\t%d\n", k, s.Rejections[k])
	}
	fmt.Fprintf(w, "media packets in\t%d\nmedia packets lost\t%d\n", s.MediaPackets, s.MediaLost)
	for _, k := range sortedKeys(s.PortsInUse) {
		fmt.Fprintf(w, "ports in use %s\t%d\n", k, s.PortsInUse[k])
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func showResult(w io.Writer, b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(w, "%s\t%v\n", k, m[k])
	}
	return nil
}

func showCaptures(w io.Writer, b []byte) error {
	var list []struct {
		ID, Filter     string
		Started, Ended time.Time
		Running        bool
		Packets, Bytes int64
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	fmt.Fprintln(w, "ID\tFILTER\tSTARTED\tRUNNING\tPACKETS\tBYTES")
	for _, c := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\t%d\n", c.ID, c.Filter, c.Started.Format(time.RFC3339), c.Running, c.Packets, c.Bytes)
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "(no captures)")
	}
	return nil
}
