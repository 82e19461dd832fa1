package policy

import (
	"path/filepath"
	"testing"
)

func TestMediaServicesConfig(t *testing.T) {
	s, err := Load("testdata/media_services.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := s.Config().Media
	tr, rec := m.Transcoding, m.Recording
	if !tr.TranscodingEnabled() || tr.Workers != 2 || tr.MaxSessions != 300 || *tr.OpusComplexity != 0 ||
		tr.OpusBitrate != 16000 || !tr.OpusFEC || tr.ReorderDepth != 3 || tr.Queue != DefaultTranscodeQueue ||
		tr.OpusApplication != OpusVoIP { // FEC needs the speech modes
		t.Errorf("transcoding %+v", tr)
	}
	if want := filepath.Join("testdata", "recordings"); rec.Directory != want { // relative to the file
		t.Errorf("directory %q, want %q", rec.Directory, want)
	}
	if !rec.HasFormat("wav") || !rec.HasFormat("pcap") || rec.Queue != 2048 {
		t.Errorf("recording %+v", rec)
	}
	if tk := s.Trunk("carrier"); tk == nil || !tk.Record {
		t.Errorf("trunk record not set: %+v", tk)
	}

	d, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m = d.Config().Media
	if !m.Transcoding.TranscodingEnabled() || m.Transcoding.OpusComplexity != nil ||
		m.Transcoding.OpusBitrate != DefaultOpusBitrate || m.Transcoding.ReorderDepth != DefaultReorderDepth || m.Transcoding.OpusApplication != OpusLowDelay ||
		m.Recording.Directory != "" || !m.Recording.HasFormat("wav") || m.Recording.HasFormat("pcap") {
		t.Errorf("defaults %+v %+v", m.Transcoding, m.Recording)
	}
}

func TestMediaServicesExample(t *testing.T) {
	s, err := Load("../configs/media-services.yaml")
	if err != nil {
		t.Fatalf("configs/media-services.yaml: %v", err)
	}
	m := s.Config().Media
	if m.Transcoding.MaxSessions != 100 || !m.Recording.HasFormat("pcap") || filepath.Base(m.Recording.Directory) != "recordings" {
		t.Errorf("media %+v", m)
	}
	if tk := s.Trunk("carrier"); tk == nil || !tk.Record || len(tk.Codecs) != 2 {
		t.Errorf("trunk %+v", tk)
	}
}
