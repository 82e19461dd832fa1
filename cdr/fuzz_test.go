package cdr

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func fuzzSeeds(f *testing.F, format Format) {
	a, b := sampleRecord("a"), sampleRecord("b")
	b.SIPReason = `quoted "x", y`
	if format == FormatCSV {
		f.Add([]byte(csvHeader + string(a.AppendCSV(nil)) + string(b.AppendCSV(nil))))
		f.Add([]byte(csvHeader + string(a.AppendCSV(nil))[:40]))
		f.Add([]byte(csvHeader + "\"a\"\"b\",c\n"))
	} else {
		f.Add(append(a.AppendJSON(nil), b.AppendJSON(nil)...))
		f.Add([]byte(`{"call_id":"x","a_mos":1e400}` + "\n"))
		f.Add([]byte("{}\n{\"attempt\":"))
	}
}

// fuzzRead checks that the reader never panics, that every error is a
// parse error, and that the records it accepts survive being written and
// read again unchanged.
func fuzzRead(t *testing.T, data []byte, format Format) {
	var recs []Record
	torn, err := Scan(bytes.NewReader(data), format, func(r *Record) error {
		recs = append(recs, *r)
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrParse) {
			t.Fatalf("error does not wrap ErrParse: %v", err)
		}
		return
	}
	if torn < 0 || torn > len(data) {
		t.Fatalf("torn %d of %d bytes", torn, len(data))
	}
	for _, r := range recs {
		var line []byte
		var again ReadResult
		if format == FormatCSV {
			line = append([]byte(csvHeader), r.AppendCSV(nil)...)
			again, err = ReadCSV(bytes.NewReader(line))
		} else {
			line = r.AppendJSON(nil)
			again, err = ReadJSONL(bytes.NewReader(line))
		}
		if err != nil || len(again.Records) != 1 {
			t.Fatalf("re-read of %q: %v", line, err)
		}
		// Writing normalises (times to ms in UTC, durations to ms, CR/LF and
		// invalid UTF-8 in CSV): a second pass must be stable.
		var second []byte
		if format == FormatCSV {
			second = append([]byte(csvHeader), again.Records[0].AppendCSV(nil)...)
		} else {
			second = again.Records[0].AppendJSON(nil)
		}
		if !bytes.Equal(line, second) {
			t.Fatalf("unstable encoding:\n%q\n%q", line, second)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	fuzzSeeds(f, FormatCSV)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, FormatCSV) })
}

func FuzzReadJSONL(f *testing.F) {
	fuzzSeeds(f, FormatJSONL)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, FormatJSONL) })
}

// FuzzRecordStrings writes records with arbitrary strings and checks that
// both formats read back what was written (JSON exactly, CSV up to the
// documented replacement of line breaks).
func FuzzRecordStrings(f *testing.F) {
	f.Add("id", "reason, with \"quotes\"", "1#\r\n")
	f.Add("\xff\xfe", "\x00\x1f\x7f", "日本")
	f.Fuzz(func(t *testing.T, id, reason, dtmf string) {
		r := sampleRecord(id)
		r.SIPReason, r.DTMF = reason, dtmf
		j, err := ReadJSONL(bytes.NewReader(r.AppendJSON(nil)))
		if err != nil || len(j.Records) != 1 {
			t.Fatalf("json: %v", err)
		}
		c, err := ReadCSV(bytes.NewReader(append([]byte(csvHeader), r.AppendCSV(nil)...)))
		if err != nil || len(c.Records) != 1 {
			t.Fatalf("csv: %v", err)
		}
		want := j.Records[0]
		if want.SIPReason != string([]rune(reason)) || want.DTMF != string([]rune(dtmf)) {
			t.Fatalf("json changed the strings: %q %q", want.SIPReason, want.DTMF)
		}
		want.CallID, want.ACallID, want.BCallID = sanitiseCSV(want.CallID), sanitiseCSV(want.ACallID), sanitiseCSV(want.BCallID)
		want.SIPReason, want.DTMF = sanitiseCSV(want.SIPReason), sanitiseCSV(want.DTMF)
		if !reflect.DeepEqual(c.Records[0], want) {
			t.Fatalf("csv:\n got %+v\nwant %+v", c.Records[0], want)
		}
	})
}

func sanitiseCSV(s string) string {
	return string(bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, []byte(s)))
}
