//go:build !cgo

package opus

import (
	"errors"
	"testing"
)

func TestUnavailableWithoutCgo(t *testing.T) {
	if _, err := NewEncoder(EncoderConfig{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("NewEncoder: err = %v, want ErrUnavailable", err)
	}
	if _, err := NewEncoder(EncoderConfig{SampleRate: 44100}); !errors.Is(err, ErrConfig) {
		t.Errorf("NewEncoder(bad rate): err = %v, want ErrConfig", err)
	}
	if _, err := NewDecoder(DecoderConfig{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("NewDecoder: err = %v, want ErrUnavailable", err)
	}
}
