# distsync — the two commands of a new user are `make demo` and `make test`.
GO      ?= go
BIN     := bin/distsync
PKGS    := ./...
BENCH   ?= .
COUNT   ?= 5
FUZZTIME ?= 30s

.PHONY: all build test test-short race bench bench-etcd bench-locks lint demo fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/distsync

# The full test suite, as CI runs it: vet, every package's tests, the
# determinism lint, and the real TCP runtime, the HTTP API and the real-process
# cluster tests under the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)
	CGO_ENABLED=1 $(GO) test -race -count=1 ./nodes/runtime/... ./nodes/wire/... ./nodes/multi/... ./httpapi/... ./cluster/... ./sim/...

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) ./sim/ ./protocols/... ./scenarios/

# distsync's raft against etcd's raft in one harness (a separate module, so
# the main module does not depend on etcd).
bench-etcd:
	cd bench && $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s -count $(COUNT) .

# Lock throughput, distsync against etcd in the same run: a 3-node distsync
# cluster (HTTP acquire + release) and an embedded 3-member etcd cluster
# (concurrency.Mutex), both on loopback with fsync on; table on stdout,
# JSON in out/lockcompare.json. See bench/README.md.
CLIENTS  ?= 64
DURATION ?= 10s
bench-locks:
	mkdir -p out
	cd bench && $(GO) run ./cmd/lockcompare --clients $(CLIENTS) --duration $(DURATION) --json ../out/lockcompare.json

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run TestRepositoryIsDeterministic ./internal/determinism/

# Short fuzzing of every decoder (FUZZTIME each).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzSplitFrame$$' -fuzztime $(FUZZTIME) ./nodes/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime $(FUZZTIME) ./nodes/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime $(FUZZTIME) ./nodes/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEnvelope$$' -fuzztime $(FUZZTIME) ./nodes/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMessage$$' -fuzztime $(FUZZTIME) ./nodes/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeLockMessage$$' -fuzztime $(FUZZTIME) ./nodes/locks/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeQueueMessage$$' -fuzztime $(FUZZTIME) ./nodes/queues/
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalMessage$$' -fuzztime $(FUZZTIME) ./protocols/raft/
	$(GO) test -run '^$$' -fuzz '^FuzzReplay$$' -fuzztime $(FUZZTIME) ./protocols/wal/
	$(GO) test -run '^$$' -fuzz '^FuzzReplay$$' -fuzztime $(FUZZTIME) ./nodes/internal/raftstore/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCommand$$' -fuzztime $(FUZZTIME) ./protocols/queue/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCommand$$' -fuzztime $(FUZZTIME) ./protocols/lockmgr/
	$(GO) test -run '^$$' -fuzz '^FuzzRestore$$' -fuzztime $(FUZZTIME) ./protocols/lockmgr/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./scenarios/spec/

# The main job: a sweep of every shipped scenario over 10 seeds each, with
# its summary, re-running a sample to check that same seed gives same trace,
# and a report directory (plots, tables, index.html) in out/report.
demo: build
	./$(BIN) sweep scenarios/ --seeds 10 --check-determinism --report out/report

clean:
	rm -rf bin out
