# OpenBorder — build, run and test. Works on a fresh Debian machine as root:
# missing system packages are installed with apt-get.

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
CONFIG ?= configs/default.yaml

# System packages needed to build and run, and the real peers tests use.
RUN_PKGS  := pkg-config gcc libopus-dev libopusfile-dev
TEST_PKGS := sip-tester kamailio tshark sox iproute2 iptables procps freeradius freeradius-utils snmpd snmp smitools baresip chromium coturn sipvicious clang-14 llvm-14
# The in-kernel SRTP program is built with these (make bpf); its object is committed.
BPF_PKGS  := clang-14 llvm-14
BPF_CFLAGS := -O2 -g -fdebug-compilation-dir=. -fno-builtin -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -Wall -Werror

.PHONY: all build run test unit e2e bench fuzz-short lint deps-run deps-test clean webphone bpf

all: build

# apt-install installs the packages of $(1) that are missing.
define apt-install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps-run:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required (https://go.dev/dl)"; exit 1; }
	$(call apt-install,$(RUN_PKGS))

deps-test: deps-run
	$(call apt-install,$(TEST_PKGS))

build: deps-run
	$(GO) build -o bin/sbcd ./cmd/sbcd
	$(GO) build -o bin/sbcctl ./cmd/sbcctl

run: build
	./bin/sbcd -config $(CONFIG)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# unit: package tests; e2e: sbcd as a real process against real peers.
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/)

e2e:
	$(GO) test -count=1 -timeout 20m ./test/...

test: deps-test lint
	$(GO) test -count=1 -timeout 25m ./...

# bench: Go benchmarks of every package, then sbcd under sipp load: calls per
# second with media anchored (short calls with SDP), and memory per held call.
BENCH_CPS ?= 1500
# 10,000 held calls need more open files than one process may have here
# (four media sockets per call): their media goes to BENCH_NODES media nodes
# and memory is summed over every process. BENCH_NODES=0 holds them in one.
BENCH_HOLD ?= 10000
BENCH_NODES ?= 3
bench: build deps-test
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s $$($(GO) list ./... | grep -v /test/)
	$(GO) run ./test/load -mode cps -rate $(BENCH_CPS) -duration 30s -call-length 1s -sbcd bin/sbcd
	$(GO) run ./test/load -mode hold -calls $(BENCH_HOLD) -rate 400 -hold 45s -media-nodes $(BENCH_NODES) -sbcd bin/sbcd

fuzz-short:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 10s $$pkg; \
	  done; \
	done

# webphone: rebuild the web phone's JsSIP bundle from the versions pinned in
# firmware/webphone/package-lock.json (needs npm). The bundle is committed,
# so `make build` and `make run` never need npm.
webphone:
	cd firmware/webphone && npm ci --no-audit --no-fund && npm run build

# bpf: rebuild the in-kernel SRTP program from rtpengine/ksrtp/bpf/srtp.c. The
# object is committed (sbcd embeds it), so `make build` never needs clang; a
# test rebuilds it with the same flags and fails if the two differ.
bpf:
	$(call apt-install,$(BPF_PKGS))
	clang-14 $(BPF_CFLAGS) -c rtpengine/ksrtp/bpf/srtp.c -o rtpengine/ksrtp/bpf/srtp.o
	llvm-strip-14 -g rtpengine/ksrtp/bpf/srtp.o

clean:
	rm -rf bin
