# memcached-lite: build, run, test. `make run` and `make test` are the two set-up commands.
GO       ?= go
BIN      := bin/memcached-lite
BENCH    := bin/memcached-lite-bench
DATA     ?= memcached-lite.db
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: all build run test lint fmt bench bench-go bench-tools fuzz crash clean scale-demo

all: build

# build: every command (memcached-lite, memcached-lite-bench) into bin/.
build:
	$(GO) build -o bin/ ./cmd/...

run: build
	./$(BIN) server -l 127.0.0.1 -p 11211 --data $(DATA)

# test: vet, every test with the race detector (the short crash test among
# them), then each fuzzer for a few seconds from its corpus. The end-to-end
# tests run the binary just built (server/servertest reads MEMCACHED_LITE_BIN)
# instead of building their own.
test: build
	$(GO) vet $(PKGS)
	MEMCACHED_LITE_BIN=$(abspath $(BIN)) $(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$$($(GO) env GOPATH)/bin/staticcheck $(PKGS)
	GOOS=windows $(GO) build $(PKGS) && GOOS=darwin $(GO) build $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# bench: the Go benchmarks, then memcached-lite-bench's suite side by side with
# memcached and Redis (about 7 minutes); the table goes to results/.
bench: bench-tools
	$(MAKE) --no-print-directory build bench-go
	./$(BENCH) suite --bin $(BIN) --results results

# bench-tools: what the suite runs besides memcached-lite (memcached, memaslap,
# redis-server, redis-benchmark), installed with apt-get when root.
bench-tools:
	.ci/bench-tools

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 200ms ./server ./storage

# fuzz: each fuzz test for FUZZTIME, starting from its corpus in testdata/fuzz.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzRecord$$' -fuzztime $(FUZZTIME) ./storage

# crash: TestCrash with CRASH_CYCLES kill -9 and restart cycles (make test runs 10).
CRASH_CYCLES ?= 200
crash:
	$(GO) test -count=1 -run '^TestCrash$$' -timeout 30m -v ./cmd/memcached-lite/ -crash.cycles=$(CRASH_CYCLES)

clean:
	rm -rf bin results

# scale-demo: two memcached-lite servers behind twemproxy on loopback ports
# (SCALE_PROXY, SCALE_STATS, SCALE_SERVERS override them); docs/scale-demo.md.
scale-demo: build
	docs/scale-demo.sh $(BIN)
