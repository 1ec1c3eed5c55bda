# memcached-lite: build, run, test. `make run` and `make test` are the two set-up commands.
GO       ?= go
BIN      := bin/memcached-lite
DATA     ?= memcached-lite.db
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: all build run test lint fmt bench fuzz crash clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/memcached-lite

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

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	$(MAKE) --no-print-directory build bench-go
	./$(BIN) bench suite --results results

.PHONY: bench-go
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

# scale-demo: two memcached-lite servers behind twemproxy (nutcracker, md5
# ketama) on loopback ports, a few commands through the proxy with the client
# subcommand, then where each key landed; everything stops at the end.
SCALE_PROXY   ?= 22201
SCALE_STATS   ?= 22202
SCALE_SERVERS ?= 22211 22212
NUTCRACKER    ?= $(shell command -v nutcracker || echo /usr/sbin/nutcracker)

.PHONY: scale-demo
scale-demo: build
	@set -e; dir=$$(mktemp -d); pids=; \
	trap 'st=$$?; set +e; kill $$pids 2>/dev/null; wait $$pids 2>/dev/null; rm -rf "$$dir"; exit $$st' EXIT; \
	up() { i=0; until ./$(BIN) client -s "$$1" --timeout 200ms version >/dev/null 2>&1; do \
		i=$$((i+1)); [ $$i -lt 100 ] || { echo "$$1 did not come up:"; cat "$$dir"/*.log; exit 1; } >&2; \
		sleep 0.1; done; }; \
	conf="$$dir/nutcracker.yml"; backends=; \
	printf 'demo:\n  listen: 127.0.0.1:%s\n  hash: md5\n  distribution: ketama\n  auto_eject_hosts: false\n  servers:\n' \
		$(SCALE_PROXY) >"$$conf"; \
	for p in $(SCALE_SERVERS); do \
		./$(BIN) server -l 127.0.0.1 -p $$p --data "$$dir/$$p.db" 2>"$$dir/server-$$p.log" & pids="$$pids $$!"; \
		printf '   - 127.0.0.1:%s:1\n' $$p >>"$$conf"; backends="$$backends -s 127.0.0.1:$$p"; \
	done; \
	"$(NUTCRACKER)" -c "$$conf" -a 127.0.0.1 -s $(SCALE_STATS) -o "$$dir/nutcracker.log" \
		-p "$$dir/nutcracker.pid" & pids="$$pids $$!"; \
	for p in $(SCALE_SERVERS) $(SCALE_PROXY); do up 127.0.0.1:$$p; done; \
	echo "== nutcracker.yml"; cat "$$conf"; \
	echo "== through twemproxy: memcached-lite client -s 127.0.0.1:$(SCALE_PROXY) COMMAND"; \
	for c in 'set user:1 alice' 'set user:2 bob' 'set user:3 carol' 'set user:4 dave' 'set visits 0' \
		'incr visits' 'incr visits 10' 'get user:1 user:2 user:3 user:4 visits' 'delete user:4' 'get user:4'; do \
		echo "> $$c"; ./$(BIN) client -s 127.0.0.1:$(SCALE_PROXY) $$c || true; \
	done; \
	echo "== where the client's ketama puts each key: memcached-lite client$$backends servers ..."; \
	./$(BIN) client $$backends servers user:1 user:2 user:3 visits; \
	for p in $(SCALE_SERVERS); do \
		echo "== asking 127.0.0.1:$$p directly: get user:1 user:2 user:3 visits"; \
		./$(BIN) client -s 127.0.0.1:$$p get user:1 user:2 user:3 visits; \
	done; \
	echo "== stats through twemproxy, which does not forward it"; \
	./$(BIN) client -s 127.0.0.1:$(SCALE_PROXY) stats || true
