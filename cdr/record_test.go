package cdr

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleRecord returns a complete answered call; times are whole
// milliseconds so that they survive the file formats unchanged.
func sampleRecord(id string) Record {
	t0 := time.Date(2026, 11, 24, 1, 2, 3, 456_000_000, time.UTC)
	return Record{
		CallID: id, ACallID: "a-" + id + "@192.0.2.1", BCallID: "b-" + id, Attempt: 1,
		AFromUser: "alice", AToUser: "0301234567", ARURIUser: "0301234567",
		BFromUser: "+4930111", BToUser: "+49301234567", BRURIUser: "+49301234567",
		IngressRealm: "access", EgressRealm: "core", Trunk: "pbx", Gateway: "127.0.0.1:5090",
		InviteTime: t0, RingTime: t0.Add(800 * time.Millisecond), AnswerTime: t0.Add(3 * time.Second),
		EndTime:   t0.Add(63 * time.Second),
		SetupTime: 800 * time.Millisecond, Duration: 60 * time.Second,
		Cause: CauseNormal, Side: SideCaller, SIPCode: 200, SIPReason: "OK",
		ACodec: "PCMU/8000", BCodec: "opus/48000/2",
		AMedia:     Media{Packets: 3000, Bytes: 480000, Lost: 3, JitterMs: 1.25, MOS: 4.31},
		BMedia:     Media{Packets: 2990, Bytes: 239200, Lost: 0, JitterMs: 0.5, MOS: 4.4},
		Transcoded: true, RecordingPath: "/var/lib/sbcd/rec/x.wav", DTMF: "12#",
		Account: "alice@example.net",
	}
}

func TestColumnsStable(t *testing.T) {
	// The file formats are an interface to billing systems: columns are
	// only ever appended. This list must change only by growing at its end.
	want := "call_id,a_call_id,b_call_id,attempt,a_from_user,a_to_user,a_ruri_user,b_from_user,b_to_user,b_ruri_user," +
		"ingress_realm,egress_realm,trunk,gateway,invite_time,ring_time,answer_time,end_time,setup_ms,duration_ms," +
		"disconnect_cause,disconnect_side,sip_code,sip_reason,a_codec,b_codec," +
		"a_packets,a_bytes,a_lost,a_jitter_ms,a_mos,b_packets,b_bytes,b_lost,b_jitter_ms,b_mos," +
		"transcoded,recording_path,dtmf,account"
	if got := strings.Join(Columns(), ","); got != want {
		t.Fatalf("columns changed:\n got %s\nwant %s", got, want)
	}
	// Every field of Record (and of Media, twice) has a column.
	n := reflect.TypeFor[Record]().NumField() - 2 + 2*reflect.TypeFor[Media]().NumField()
	if len(columns) != n {
		t.Fatalf("%d columns for %d record fields", len(columns), n)
	}
}

func TestEncodeExact(t *testing.T) {
	r := sampleRecord("c1")
	gotCSV := string(r.AppendCSV(nil))
	wantCSV := "c1,a-c1@192.0.2.1,b-c1,1,alice,0301234567,0301234567,+4930111,+49301234567,+49301234567," +
		"access,core,pbx,127.0.0.1:5090,2026-11-24T01:02:03.456Z,2026-11-24T01:02:04.256Z,2026-11-24T01:02:06.456Z," +
		"2026-11-24T01:03:06.456Z,800,60000,normal,caller,200,OK,PCMU/8000,opus/48000/2," +
		"3000,480000,3,1.25,4.31,2990,239200,0,0.5,4.4,true,/var/lib/sbcd/rec/x.wav,12#,alice@example.net\n"
	if gotCSV != wantCSV {
		t.Errorf("CSV:\n got %q\nwant %q", gotCSV, wantCSV)
	}
	gotJSON := string(r.AppendJSON(nil))
	for _, part := range []string{`{"call_id":"c1","a_call_id":"a-c1@192.0.2.1",`, `"attempt":1,`,
		`"answer_time":"2026-11-24T01:02:06.456Z",`, `"setup_ms":800,"duration_ms":60000,`,
		`"a_jitter_ms":1.25,`, `"transcoded":true,`, `"dtmf":"12#",`, `"account":"alice@example.net"}` + "\n"} {
		if !strings.Contains(gotJSON, part) {
			t.Errorf("JSON %s lacks %s", gotJSON, part)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	full := sampleRecord("full")
	unanswered := Record{CallID: "u", Attempt: 2, InviteTime: full.InviteTime, EndTime: full.EndTime,
		Cause: CauseBusy, Side: SideCallee, SIPCode: 486, SIPReason: "Busy Here"}
	weird := sampleRecord("weird")
	weird.SIPReason = `say "hi", then, bye`
	weird.AFromUser = "tab\there"
	weird.DTMF = `back\slash "q"`
	weird.RecordingPath = "ünïcode/日本"
	tests := []struct {
		name string
		rec  Record
	}{
		{"full", full},
		{"unanswered", unanswered},
		{"zero", Record{}},
		{"quotes and commas", weird},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csvFile := csvHeader + string(tt.rec.AppendCSV(nil))
			got, err := ReadCSV(strings.NewReader(csvFile))
			if err != nil {
				t.Fatalf("ReadCSV: %v\n%s", err, csvFile)
			}
			if len(got.Records) != 1 || !reflect.DeepEqual(got.Records[0], tt.rec) {
				t.Fatalf("CSV round trip:\n got %+v\nwant %+v", got.Records, tt.rec)
			}
			got, err = ReadJSONL(bytes.NewReader(tt.rec.AppendJSON(nil)))
			if err != nil {
				t.Fatalf("ReadJSONL: %v", err)
			}
			if len(got.Records) != 1 || !reflect.DeepEqual(got.Records[0], tt.rec) {
				t.Fatalf("JSON round trip:\n got %+v\nwant %+v", got.Records, tt.rec)
			}
		})
	}
}

func TestEncodeSanitises(t *testing.T) {
	r := Record{CallID: "x", SIPReason: "two\r\nlines", DTMF: "bad\xffutf8"}
	line := string(r.AppendCSV(nil))
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("CSV record is not one line: %q", line)
	}
	got, err := ReadCSV(strings.NewReader(csvHeader + line))
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Records[0]; g.SIPReason != "two  lines" || g.DTMF != "bad\uFFFDutf8" {
		t.Fatalf("CSV: reason %q dtmf %q", g.SIPReason, g.DTMF)
	}
	got, err = ReadJSONL(bytes.NewReader(r.AppendJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Records[0]; g.SIPReason != "two\r\nlines" || g.DTMF != "bad\uFFFDutf8" {
		t.Fatalf("JSON: reason %q dtmf %q", g.SIPReason, g.DTMF)
	}
}

func TestDerive(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		rec           Record
		setup, length time.Duration
	}{
		{"ringing then answer", Record{InviteTime: t0, RingTime: t0.Add(time.Second), AnswerTime: t0.Add(5 * time.Second), EndTime: t0.Add(65 * time.Second)}, time.Second, 60 * time.Second},
		{"answer without ringing", Record{InviteTime: t0, AnswerTime: t0.Add(2 * time.Second), EndTime: t0.Add(3 * time.Second)}, 2 * time.Second, time.Second},
		{"failed", Record{InviteTime: t0, EndTime: t0.Add(time.Second)}, 0, 0},
		{"clock went backwards", Record{InviteTime: t0, RingTime: t0.Add(-time.Second)}, 0, 0},
		{"explicit values kept", Record{InviteTime: t0, RingTime: t0.Add(time.Second), SetupTime: 7, Duration: 9}, 7, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.Derive()
			if tt.rec.SetupTime != tt.setup || tt.rec.Duration != tt.length {
				t.Fatalf("setup %v duration %v, want %v %v", tt.rec.SetupTime, tt.rec.Duration, tt.setup, tt.length)
			}
		})
	}
}
