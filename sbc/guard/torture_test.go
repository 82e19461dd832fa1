package guard

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openborder/openborder/test/testenv"
)

// tortureDir finds the RFC 4475/5118 messages: SIP_TORTURE_DIR, else a
// "shared/sip-torture" directory beside one of the working directory's
// ancestors.
func tortureDir(t *testing.T) string {
	if d := os.Getenv("SIP_TORTURE_DIR"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if c := filepath.Join(filepath.Dir(d), "shared", "sip-torture"); dirExists(c) {
			return c
		}
	}
	testenv.SkipUnlessCI(t, "SIP torture messages not found (SIP_TORTURE_DIR)")
	return ""
}

func dirExists(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }

// TestTortureVerdicts checks the guard's own verdict on every torture
// message sent as a datagram: the "must answer 400" ones are refused with
// 400 (or the status the manifest names), and the ones that must never
// get 400 are not refused with 400.
func TestTortureVerdicts(t *testing.T) {
	root := tortureDir(t)
	g := New(testPolicy(t, "security: {scanner: {disabled: true}}\n"), Options{Logger: quiet})
	n := 0
	for _, sub := range []string{"rfc4475", "rfc5118"} {
		f, err := os.Open(filepath.Join(root, sub, "manifest.tsv"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			col := strings.Split(sc.Text(), "\t")
			if len(col) < 5 || strings.HasPrefix(col[0], "#") {
				continue
			}
			name, accept := col[0], col[4]
			if a, ok := strings.CutPrefix(accept, "udp:"); ok {
				accept, _, _ = strings.Cut(a, ";")
			}
			b, err := os.ReadFile(filepath.Join(root, sub, name+".dat"))
			if err != nil {
				t.Fatal(err)
			}
			var m Msg
			v := g.Inspect("access", src, false, b, &m)
			switch {
			case accept == "400" || accept == "505" || accept == "416" || accept == "420":
				if v.Code != atoi([]byte(accept)) {
					t.Errorf("%s: verdict %+v, manifest wants %s", name, v, accept)
				}
			case accept == "none":
				if v.Code != 0 {
					t.Errorf("%s: verdict %+v answers a message that must get no answer", name, v)
				}
			case strings.HasPrefix(accept, "!400"):
				if v.Code == 400 || (v.Stage != "" && v.Code == 0) {
					t.Errorf("%s: verdict %+v, must not be refused", name, v)
				}
			}
			n++
		}
		f.Close()
	}
	if n < 60 {
		t.Fatalf("only %d torture messages read", n)
	}
}
