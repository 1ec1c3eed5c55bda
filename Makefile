# memcached-lite: build, run, test. `make run` and `make test` are the two set-up commands.
GO       ?= go
BIN      := bin/memcached-lite
BENCH    := bin/memcached-lite-bench
PKGS     := ./...
FUZZTIME ?= 10s
FUZZCOUNT ?= 20000x

# make run's settings, given on make's command line (the environment's PORT
# or DATA, which other tools set, do not count): PORT, LISTEN, DATA, and
# ARGS for any other server flags, e.g. make run PORT=11212 DATA="my data.db" ARGS="-vv -F".
PORT   = 11211
LISTEN = 127.0.0.1
DATA   = memcached-lite.db
ARGS   =

# quote makes one shell word of $(1), whatever it holds.
quote = '$(subst ','\'',$(1))'
# runHint is what the server suggests when PORT is taken: this make run,
# with {port} a free port.
runHint = make run PORT={port}$(call hintVar,LISTEN)$(call hintVar,DATA)$(call hintVar,ARGS)
hintVar = $(if $(filter command line,$(origin $(1))), $(1)=$(call quote,$($(1))))

.PHONY: all build run test lint fmt bench bench-go bench-tools fuzz crash clean scale-demo

all: build

# build: every command (memcached-lite, memcached-lite-bench) into bin/.
build:
	$(GO) build -o bin/ ./cmd/...

# run: the server in the foreground (Ctrl-C stops it), exec'd so that
# signals reach it, not a shell.
run: build
	@exec $(call quote,$(BIN)) server -l $(call quote,$(LISTEN)) -p $(call quote,$(PORT)) --data $(call quote,$(DATA)) --port-hint $(call quote,$(runHint)) $(ARGS)

# test: vet, every test with the race detector (the short crash test among
# them), then each fuzzer from its corpus for FUZZCOUNT inputs. A count, not
# a duration: a busy machine makes it slower, never red (see .ci/fuzz); a
# failing input still fails it. The end-to-end tests run one binary built
# here with the race detector (server/servertest reads MEMCACHED_LITE_BIN),
# so a data race in a server they start fails them too.
test: build
	$(GO) vet $(PKGS)
	$(GO) build -race -o bin/memcached-lite.race ./cmd/memcached-lite
	MEMCACHED_LITE_BIN=$(abspath bin/memcached-lite.race) $(GO) test -race -count=1 -timeout 20m $(PKGS)
	GO=$(call quote,$(GO)) .ci/fuzz $(FUZZCOUNT)

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

# fuzz: each fuzz test for FUZZTIME (make fuzz FUZZTIME=1m), starting from
# its corpus in testdata/fuzz; a failing input fails it (see .ci/fuzz).
fuzz:
	GO=$(call quote,$(GO)) .ci/fuzz $(FUZZTIME)

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
