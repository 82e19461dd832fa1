package snmp

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestViewOrderedAndComplete(t *testing.T) {
	tests := []struct {
		name string
		snap Snapshot
		want int
	}{
		{"empty", Snapshot{}, 6 + 1 + 1 + 14},
		{"full", testSnapshot(), 48},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := buildView(&tt.snap)
			if len(v) != tt.want {
				t.Fatalf("%d bindings, want %d", len(v), tt.want)
			}
			for i := 1; i < len(v); i++ {
				if v[i-1].Name.Compare(v[i].Name) >= 0 {
					t.Fatalf("not increasing: %s then %s", v[i-1].Name, v[i].Name)
				}
			}
			for _, vb := range v {
				if !vb.Name.HasPrefix(Subtree) || !isObject(vb.Name) {
					t.Fatalf("%s is not an instance of a MIB object", vb.Name)
				}
			}
		})
	}
}

func TestViewDoesNotReorderSource(t *testing.T) {
	s := testSnapshot()
	buildView(&s)
	if s.Trunks[0].Name != "pstn" || s.Realms[0].Name != "core" {
		t.Fatalf("buildView reordered the caller's slices: %v %v", s.Trunks, s.Realms)
	}
}

func TestViewGet(t *testing.T) {
	s := testSnapshot()
	v := buildView(&s)
	r := Subtree.String()
	tests := []struct {
		oid  string
		typ  VarType
		want string
	}{
		{r + ".1.1.1.0", TypeOctetString, "1.4.2-test"},
		{r + ".1.3.2.1.2.2", TypeOctetString, "pbx"},
		{r + ".1.2.2.1.2.1", TypeOctetString, "access"},
		{r + ".1.1.1", TypeNoSuchInstance, ""},
		{r + ".1.1.1.0.1", TypeNoSuchInstance, ""},
		{r + ".1.3.2.1.2.4", TypeNoSuchInstance, ""},
		{r + ".1.3.2.1.9.1", TypeNoSuchObject, ""},
		{r + ".1.8.1.0", TypeNoSuchObject, ""},
		{r + ".1.7.1.0", TypeNoSuchObject, ""}, // accessible-for-notify
		{"1.3.6.1.2.1.1.1.0", TypeNoSuchObject, ""},
	}
	for _, tt := range tests {
		t.Run(tt.oid, func(t *testing.T) {
			vb := v.get(MustOID(tt.oid))
			if vb.Type != tt.typ || string(vb.Bytes) != tt.want || vb.Name.String() != tt.oid {
				t.Fatalf("get = %s type %d %q, want type %d %q", vb.Name, vb.Type, vb.Bytes, tt.typ, tt.want)
			}
		})
	}
}

func TestViewNext(t *testing.T) {
	s := testSnapshot()
	v := buildView(&s)
	r := Subtree.String()
	tests := []struct {
		name    string
		start   string
		include bool
		end     string
		want    string // OID, or "" for endOfMibView
	}{
		{"from root", r, false, "", r + ".1.1.1.0"},
		{"exact excluded", r + ".1.1.1.0", false, "", r + ".1.1.2.0"},
		{"exact included", r + ".1.1.1.0", true, "", r + ".1.1.1.0"},
		{"include absent", r + ".1.1.1", true, "", r + ".1.1.1.0"},
		{"column to column", r + ".1.3.2.1.2.3", false, "", r + ".1.3.2.1.3.1"},
		{"before subtree", "1.3.6.1.4.1.99998", false, "", r + ".1.1.1.0"},
		{"last", r + ".1.6.6.0", false, "", ""},
		{"past end", r + ".2", false, "", ""},
		{"end bound stops", r + ".1.1.6.0", false, r + ".1.2.1.0", ""},
		{"end bound passes", r + ".1.1.5.0", false, r + ".1.2", r + ".1.1.6.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := SearchRange{Start: MustOID(tt.start), Include: tt.include}
			if tt.end != "" {
				rng.End = MustOID(tt.end)
			}
			vb := v.next(rng)
			if tt.want == "" {
				if vb.Type != TypeEndOfMibView || vb.Name.String() != tt.start {
					t.Fatalf("next = %s type %d, want endOfMibView at %s", vb.Name, vb.Type, tt.start)
				}
				return
			}
			if vb.Name.String() != tt.want {
				t.Fatalf("next = %s, want %s", vb.Name, tt.want)
			}
		})
	}
}

func TestViewBulk(t *testing.T) {
	s := testSnapshot()
	v := buildView(&s)
	r := Subtree.String()
	names := func(vbs []VarBind) string {
		var ss []string
		for _, vb := range vbs {
			n := strings.TrimPrefix(vb.Name.String(), r)
			if vb.Type == TypeEndOfMibView {
				n += "!"
			}
			ss = append(ss, n)
		}
		return strings.Join(ss, " ")
	}
	tests := []struct {
		name     string
		nonRep   int
		maxRep   int
		starts   []string
		expected string
	}{
		{"non-repeater only", 1, 5, []string{r + ".1.4"}, ".1.4.1.0"},
		{"repeat one column", 0, 4, []string{r + ".1.3.2.1.2"}, ".1.3.2.1.2.1 .1.3.2.1.2.2 .1.3.2.1.2.3 .1.3.2.1.3.1"},
		{"two columns interleaved", 0, 2, []string{r + ".1.2.2.1.2", r + ".1.2.2.1.3"},
			".1.2.2.1.2.1 .1.2.2.1.3.1 .1.2.2.1.2.2 .1.2.2.1.3.2"},
		{"mixed", 1, 2, []string{r + ".1.1.1.0", r + ".1.6.2.0"}, ".1.1.2.0 .1.6.3.0 .1.6.4.0"},
		{"stops when all ended", 0, 10, []string{r + ".1.6.5.0"}, ".1.6.6.0 .1.6.6.0!"},
		{"zero repetitions", 0, 0, []string{r}, ""},
		{"non-repeaters beyond ranges", 5, 3, []string{r}, ".1.1.1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []SearchRange
			for _, st := range tt.starts {
				rs = append(rs, SearchRange{Start: MustOID(st)})
			}
			if got := names(v.bulk(tt.nonRep, tt.maxRep, rs)); got != tt.expected {
				t.Fatalf("bulk = %q, want %q", got, tt.expected)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		rs := make([]SearchRange, 100)
		for i := range rs {
			rs[i] = SearchRange{Start: Subtree}
		}
		if n := len(v.bulk(0, 65535, rs)); n > maxBulkVarBinds {
			t.Fatalf("bulk returned %d bindings, limit %d", n, maxBulkVarBinds)
		}
	})
}

func TestValueConversions(t *testing.T) {
	t.Run("scaled", func(t *testing.T) {
		tests := []struct {
			f, factor float64
			limit     uint32
			want      uint32
		}{
			{0.4567, 10000, 10000, 4567},
			{1.5, 10000, 10000, 10000},
			{-0.1, 10000, 10000, 0},
			{math.NaN(), 100, 500, 0},
			{math.Inf(1), 100, 500, 500},
			{4.325, 100, 500, 433},
		}
		for _, tt := range tests {
			if got := scaled(tt.f, tt.factor, tt.limit); got != tt.want {
				t.Errorf("scaled(%v, %v, %v) = %d, want %d", tt.f, tt.factor, tt.limit, got, tt.want)
			}
		}
	})
	t.Run("dateAndTime", func(t *testing.T) {
		got := dateAndTime(time.Date(2026, 1, 2, 3, 4, 5, 600e6, time.FixedZone("x", 3600)))
		want := []byte{0x07, 0xea, 1, 2, 2, 4, 5, 6, '+', 0, 0}
		if !bytes.Equal(got, want) {
			t.Fatalf("% x, want % x", got, want)
		}
		if z := dateAndTime(time.Time{}); !bytes.Equal(z, []byte{0, 0, 1, 1, 0, 0, 0, 0}) {
			t.Fatalf("zero time = % x", z)
		}
	})
	t.Run("timeTicks", func(t *testing.T) {
		if got := timeTicks(1234560 * time.Millisecond); got != 123456 {
			t.Fatalf("timeTicks = %d", got)
		}
		if got := timeTicks(-time.Second); got != 0 {
			t.Fatalf("negative uptime = %d", got)
		}
		if got := timeTicks((1<<32 + 5) * 10 * time.Millisecond); got != 5 {
			t.Fatalf("timeTicks does not wrap: %d", got)
		}
	})
	t.Run("display string limit", func(t *testing.T) {
		vb := str(OID{1}, strings.Repeat("x", 300))
		if len(vb.Bytes) != maxDisplayString {
			t.Fatalf("len = %d", len(vb.Bytes))
		}
	})
	t.Run("reload status", func(t *testing.T) {
		for s, want := range map[ReloadStatus]int32{ReloadNone: 1, ReloadSuccess: 2, ReloadFailed: 3, 42: 1} {
			if got := reloadStatus(s); got != want {
				t.Errorf("reloadStatus(%d) = %d, want %d", s, got, want)
			}
		}
	})
}

// TestMIBLint runs smilint at level 3 on the MIB; any message fails. The
// base modules come from testdata/mibs (minimal stand-ins).
func TestMIBLint(t *testing.T) {
	tools := requireTools(t, "smilint")
	mib, err := filepath.Abs("../../configs/OPENBORDER-MIB.txt")
	if err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Abs("testdata/mibs")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tools["smilint"], "-s", "-l", "3", mib)
	cmd.Env = append(os.Environ(), "SMIPATH="+base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("smilint: %v\n%s", err, out)
	}
	if len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("smilint -l 3 reported problems:\n%s", out)
	}
}

// TestMIBMatchesCode checks that the names of the MIB file sit at the
// OIDs the agent serves, using net-snmp's MIB parser.
func TestMIBMatchesCode(t *testing.T) {
	tools := requireTools(t, "snmptranslate")
	r := Subtree.String()
	names := map[string]string{
		"openBorderMIB":          r,
		"obSysVersion":           r + ".1.1.1",
		"obSysLastReloadMessage": r + ".1.1.6",
		"obRealmNumber":          r + ".1.2.1",
		"obRealmActiveCalls":     r + ".1.2.2.1.5",
		"obTrunkNumber":          r + ".1.3.1",
		"obTrunkAsr":             r + ".1.3.2.1.6",
		"obTrunkActiveCalls":     r + ".1.3.2.1.7",
		"obCallsFailed":          r + ".1.4.4",
		"obMediaMeanMos":         r + ".1.5.4",
		"obCapCallLimit":         r + ".1.6.4",
		"obCapOverloadState":     r + ".1.6.5",
		"obCapShedRate":          r + ".1.6.6",
		"obNotifyReason":         r + ".1.7.1",
		"obNotifySourceAddress":  r + ".1.7.2",
		"obNotifyRealmName":      r + ".1.7.3",
		"obNotifyAccount":        r + ".1.7.4",
		"obTrunkDown":            notificationOID(trapTrunkDown).String(),
		"obTrunkUp":              notificationOID(trapTrunkUp).String(),
		"obSourceBlacklisted":    notificationOID(trapSourceBlacklisted).String(),
		"obOverload":             notificationOID(trapOverload).String(),
		"obConfigReloadFailed":   notificationOID(trapConfigReloadFailed).String(),
		"obOverloadCleared":      notificationOID(trapOverloadCleared).String(),
		"obAccountBlocked":       notificationOID(trapAccountBlocked).String(),
	}
	for name, want := range names {
		out, err := exec.Command(tools["snmptranslate"], "-M", "testdata/mibs:../../configs", "-m", "OPENBORDER-MIB",
			"-On", "OPENBORDER-MIB::"+name).Output()
		if err != nil {
			t.Fatalf("snmptranslate %s: %v", name, err)
		}
		if got := strings.TrimSpace(string(out)); got != "."+want {
			t.Errorf("%s = %s in the MIB, %s in the agent", name, got, want)
		}
	}
}
