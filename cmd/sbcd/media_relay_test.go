package main

import (
	"testing"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine"
)

func TestEngineConfigRelay(t *testing.T) {
	for _, tt := range []struct {
		name    string
		yaml    string
		mode    rtpengine.RelayMode
		workers int
	}{
		{"default", "", rtpengine.RelayAuto, 0},
		{"goroutine", "media: {relay: {mode: goroutine}}\n", rtpengine.RelayGoroutine, 0},
		{"epoll with workers", "media: {relay: {mode: epoll, workers: 3}}\n", rtpengine.RelayEpoll, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := policy.Parse("relay.yaml", []byte(tt.yaml+`realms:
  - name: access
    listeners: [{transport: udp, address: "127.0.0.1:5060"}]
`))
			if err != nil {
				t.Fatal(err)
			}
			cfg := engineConfig(pol)
			if cfg.Relay != tt.mode || cfg.RelayWorkers != tt.workers {
				t.Fatalf("relay %q workers %d, want %q %d", cfg.Relay, cfg.RelayWorkers, tt.mode, tt.workers)
			}
		})
	}
}

func TestEngineConfigRealmKernelOptOut(t *testing.T) {
	pol, err := policy.Parse("optout.yaml", []byte(`media: {relay: {kernel_forwarding: auto}}
realms:
  - name: access
    listeners: [{transport: udp, address: "127.0.0.1:5060"}]
    media: {no_kernel_forwarding: true}
  - name: core
    listeners: [{transport: udp, address: "127.0.0.1:5080"}]
    media: {port_min: 30000, port_max: 30999}
`))
	if err != nil {
		t.Fatal(err)
	}
	ifs := engineConfig(pol).Interfaces
	if len(ifs) != 2 || !ifs[0].NoKernel || ifs[1].NoKernel {
		t.Fatalf("interfaces %+v: want access opted out, core not", ifs)
	}
}

func TestEngineConfigKernelForwarding(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want rtpengine.KernelMode
	}{
		{"", rtpengine.KernelOff},
		{"media: {relay: {kernel_forwarding: off}}\n", rtpengine.KernelOff},
		{"media: {relay: {kernel_forwarding: auto}}\n", rtpengine.KernelAuto},
		{"media: {relay: {kernel_forwarding: on}}\n", rtpengine.KernelOn},
	} {
		pol, err := policy.Parse("kernel.yaml", []byte(tt.yaml+`realms:
  - name: access
    listeners: [{transport: udp, address: "127.0.0.1:5060"}]
`))
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if got := engineConfig(pol).Kernel; got != tt.want {
			t.Errorf("%q: kernel mode %q, want %q", tt.yaml, got, tt.want)
		}
	}
}

func TestEngineConfigOpusApplication(t *testing.T) {
	// complexity is what the transcoders' encoders get, room the
	// conference rooms': 0 leaves the engine's and the bridge's default,
	// chosen by the encoder's application (their tests), -1 is 0.
	for _, tt := range []struct {
		name             string
		yaml             string
		voip             bool
		complexity, room int
	}{
		{"default: low delay, the engine's complexity", "", false, 0, 0},
		{"voip, the engine's complexity", "media: {transcoding: {opus_application: voip}}\n", true, 0, 0},
		{"fec brings voip", "media: {transcoding: {opus_fec: true}}\n", true, 0, 0},
		{"complexity set for both", "media: {transcoding: {opus_complexity: 5}}\n", false, 5, 5},
		{"complexity 0 set", "media: {transcoding: {opus_application: voip, opus_complexity: 0}}\n", true, -1, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := policy.Parse("opus.yaml", []byte(tt.yaml+`realms:
  - name: access
    listeners: [{transport: udp, address: "127.0.0.1:5060"}]
`))
			if err != nil {
				t.Fatal(err)
			}
			tc := engineConfig(pol).Transcode
			if tc.OpusVoIP != tt.voip || tc.OpusComplexity != tt.complexity {
				t.Fatalf("OpusVoIP %v complexity %d, want %v %d", tc.OpusVoIP, tc.OpusComplexity, tt.voip, tt.complexity)
			}
			if got := conferenceConfig(pol).OpusComplexity; got != tt.room {
				t.Fatalf("rooms' complexity %d, want %d", got, tt.room)
			}
		})
	}
}
