package policy

import (
	"path/filepath"
	"testing"
	"time"
)

func TestMediaTonesConfig(t *testing.T) {
	s, err := Load("testdata/media_tones.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := s.Config().Media
	if m.DTMF.Suppress() {
		t.Error("suppress_inband: false not applied")
	}
	acc := s.Realm("access").Media
	if acc.DTMFMode() != DTMFInband || acc.ToneCountry() != "uk" || acc.Ringback != RingbackLocal {
		t.Errorf("realm media %+v", acc)
	}
	if core := s.Realm("core").Media; core.DTMFMode() != DTMFRFC4733 || core.ToneCountry() != DefaultToneCountry {
		t.Errorf("defaults %+v", core)
	}
	if tk := s.Trunk("carrier"); tk == nil || tk.DTMF != DTMFInfo {
		t.Errorf("trunk %+v", tk)
	}
	tests := []struct {
		code     int
		ok       bool
		wav      string
		tone     string
		duration time.Duration
	}{
		{404, true, filepath.Join("testdata", "sounds", "not-in-service.wav"), "", 0},
		{486, true, "", "busy", DefaultAnnouncementDuration},
		{503, false, "", "", 0},
	}
	for _, tc := range tests {
		a, ok := s.Announcement(tc.code)
		if ok != tc.ok || a.WAV != tc.wav || a.Tone != tc.tone || a.Duration != tc.duration || (ok && a.Code != tc.code) {
			t.Errorf("Announcement(%d) = %+v, %v; want wav %q tone %q duration %v", tc.code, a, ok, tc.wav, tc.tone, tc.duration)
		}
	}
	d, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Config().Media.DTMF.Suppress() {
		t.Error("suppress_inband default is true")
	}
	if _, ok := d.Announcement(404); ok {
		t.Error("announcement without configuration")
	}
}

func TestWAVDuration(t *testing.T) {
	d, err := wavDuration("testdata/sounds/not-in-service.wav")
	if err != nil || d != 500*time.Millisecond {
		t.Fatalf("duration %v, %v; want 500ms", d, err)
	}
	if _, err := wavDuration("testdata/media_tones.good.yaml"); err == nil {
		t.Fatal("YAML accepted as WAV")
	}
}

func TestMediaTonesExample(t *testing.T) {
	s, err := Load("../configs/dtmf-tones.yaml")
	if err != nil {
		t.Fatalf("configs/dtmf-tones.yaml: %v", err)
	}
	if a, ok := s.Announcement(486); !ok || a.Tone != "busy" || a.Duration != 4*time.Second {
		t.Errorf("486 announcement %+v %v", a, ok)
	}
	if m := s.Realm("access").Media; m.ToneCountry() != "UK" || m.Ringback != RingbackLocal {
		t.Errorf("access media %+v", m)
	}
	if p, c := s.Trunk("legacy-pbx"), s.Trunk("carrier"); p == nil || p.DTMF != DTMFInband || c == nil || c.DTMF != DTMFInfo {
		t.Errorf("trunks %+v %+v", p, c)
	}
}
