# Spate: the two commands that matter are `make run` and `make test`.
GO       ?= go
BIN      := bin/spate
DATA_DIR ?= ./data
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 10s
PKGS     := ./...

.PHONY: all build run test test-short faults bench microbench fuzz lint clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/spate

# Starts a single-node broker with embedded defaults; data in ./data.
run: build
	./$(BIN) broker --data-dir $(DATA_DIR)

# Every test: vet, then unit, fuzz-seed, crash and end-to-end tests under the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The fault-injection suite's full runs: 40 faults on three real brokers under
# log.flush.policy=never, then 45 under always (with power losses of every broker
# at once), the checker's counts and the replica comparison; reports in
# perf/faults/latest.txt and latest-always.txt. Its short run (8 faults, one of
# each kind, under never) is TestFaults inside `make test`.
faults:
	bash perf/faults/run.sh perf/faults/latest.txt
	SPATE_FAULTS_FLUSH=always bash perf/faults/run.sh perf/faults/latest-always.txt

test-short:
	$(GO) test -short -count=1 $(PKGS)

# The headline comparison, unattended (11m31s measured at b4e9a2e, REPS=3 DURATION=5s): raw limits, Spate,
# kfake + franz-go, the Kafka port, replication on 3-broker clusters and NATS JetStream (one server and an
# R3 cluster) in one run; results in perf/results/latest.
bench:
	bash perf/run-bench.sh perf/results/latest

# Micro-benchmarks of the hot paths (storage, codecs, framing, broker round trips).
microbench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $(PKGS)

# Runs every Fuzz target briefly (FUZZTIME each). Minimization is capped at 20
# runs per input: FuzzRecover does file I/O per input, and the default 60s
# minimization left it at ~20 inputs a minute.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 20x $$pkg; \
	  done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
