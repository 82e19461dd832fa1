package cdr

import (
	"errors"
	"strings"
	"testing"
)

func TestReadErrors(t *testing.T) {
	good := sampleRecord("g")
	csvLine := string(good.AppendCSV(nil))
	jsonLine := string(good.AppendJSON(nil))
	tests := []struct {
		name   string
		format Format
		input  string
		want   error
		msg    string
	}{
		{"empty csv", FormatCSV, "", ErrHeader, "empty file"},
		{"wrong header", FormatCSV, "a,b,c\n", ErrHeader, "line 1"},
		{"too few fields", FormatCSV, csvHeader + "x,y\n", ErrParse, "line 2: 2 fields, want 40"},
		{"bad number", FormatCSV, csvHeader + strings.Replace(csvLine, ",1,alice", ",one,alice", 1), ErrParse, "line 2: attempt"},
		{"bad time", FormatCSV, csvHeader + strings.Replace(csvLine, "2026-11-24T01:02:03.456Z", "yesterday", 1), ErrParse, "invite_time"},
		{"bad bool", FormatCSV, csvHeader + strings.Replace(csvLine, ",true,", ",yes,", 1), ErrParse, "transcoded"},
		{"unterminated quote", FormatCSV, csvHeader + `"abc` + "\n", ErrParse, "unterminated quoted field"},
		{"stray quote", FormatCSV, csvHeader + `ab"c` + "\n", ErrParse, "quote inside"},
		{"torn line then more", FormatCSV, csvHeader + csvLine[:20] + "\n" + csvLine, ErrParse, "line 2"},
		{"not json", FormatJSONL, "hello\n", ErrParse, "line 1"},
		{"json array", FormatJSONL, "[1,2]\n", ErrParse, "line 1"},
		{"json null", FormatJSONL, "null\n", ErrParse, "not a JSON object"},
		{"unknown key", FormatJSONL, `{"colour":"red"}` + "\n", ErrParse, `unknown key "colour"`},
		{"number as string", FormatJSONL, `{"attempt":"1"}` + "\n", ErrParse, "attempt"},
		{"string as number", FormatJSONL, `{"call_id":5}` + "\n", ErrParse, "call_id: want a string"},
		{"nan", FormatJSONL, `{"a_mos":NaN}` + "\n", ErrParse, "line 1"},
		{"negative count", FormatJSONL, `{"a_packets":-1}` + "\n", ErrParse, "a_packets"},
		{"second line bad", FormatJSONL, jsonLine + "{\n", ErrParse, "line 2"},
		{"unknown format", Format("xml"), "", ErrUnknownFormat, "xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Scan(strings.NewReader(tt.input), tt.format, func(*Record) error { return nil })
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestReadTornTail(t *testing.T) {
	a, b := sampleRecord("a"), sampleRecord("b")
	tests := []struct {
		name   string
		format Format
		input  string
		ids    []string
		torn   int
	}{
		{"csv clean", FormatCSV, csvHeader + string(a.AppendCSV(nil)) + string(b.AppendCSV(nil)), []string{"a", "b"}, 0},
		{"csv torn record", FormatCSV, csvHeader + string(a.AppendCSV(nil)) + string(b.AppendCSV(nil))[:30], []string{"a"}, 30},
		{"csv torn without last newline only", FormatCSV, csvHeader + strings.TrimSuffix(string(a.AppendCSV(nil)), "\n"), nil, len(a.AppendCSV(nil)) - 1},
		{"csv torn header", FormatCSV, csvHeader[:10], nil, 10},
		{"jsonl clean", FormatJSONL, string(a.AppendJSON(nil)) + string(b.AppendJSON(nil)), []string{"a", "b"}, 0},
		{"jsonl torn", FormatJSONL, string(a.AppendJSON(nil)) + string(b.AppendJSON(nil))[:7], []string{"a"}, 7},
		{"jsonl empty", FormatJSONL, "", nil, 0},
		{"crlf accepted", FormatJSONL, strings.TrimSuffix(string(a.AppendJSON(nil)), "\n") + "\r\n", []string{"a"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			torn, err := Scan(strings.NewReader(tt.input), tt.format, func(r *Record) error {
				ids = append(ids, r.CallID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") || torn != tt.torn {
				t.Fatalf("ids %v torn %d, want %v %d", ids, torn, tt.ids, tt.torn)
			}
		})
	}
}

func TestReadLineTooLong(t *testing.T) {
	in := `{"call_id":"` + strings.Repeat("x", MaxLineBytes) + "\"}\n"
	if _, err := ReadJSONL(strings.NewReader(in)); !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("got %v", err)
	}
}

func TestScanCallbackError(t *testing.T) {
	stop := errors.New("stop")
	a := sampleRecord("a")
	_, err := Scan(strings.NewReader(string(a.AppendJSON(nil))), FormatJSONL, func(*Record) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("got %v", err)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{"cdr.csv": FormatCSV, "x/cdr-20261124T000000.000Z.jsonl": FormatJSONL} {
		if got, err := FormatOf(path); err != nil || got != want {
			t.Errorf("%s: %v %v", path, got, err)
		}
	}
	if _, err := FormatOf("cdr.txt"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("txt: %v", err)
	}
}
