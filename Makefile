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

test: build
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$$($(GO) env GOPATH)/bin/staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRecord$$' -fuzztime $(FUZZTIME) ./storage

clean:
	rm -rf bin results
