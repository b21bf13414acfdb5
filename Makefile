# Flow Cache. `make help` lists the targets.
#
# Tools are pinned here and run with `go run pkg@version`: nothing to install
# but Go, and everyone runs the same versions.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO      ?= go
MODULE  := github.com/flowcache/flowcache
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOFUMPT     := mvdan.cc/gofumpt@v0.9.2
GOIMPORTS   := golang.org/x/tools/cmd/goimports@v0.38.0
GOLANGCI    := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

# Overridable: make bench PKG=./gateway/... BENCH=L1 COUNT=1
PKG      ?= ./...
BENCH    ?= .
COUNT    ?= 10
FUZZTIME ?= 30s

# The example WAT policies' tests embed the .wasm assembled from each .wat
# (go:embed); the .wasm files are generated (and ignored by git), so every
# target that compiles the tests builds them first.
WAT_SOURCES  := $(wildcard examples/*/*.wat)
WAT_MODULES  := $(WAT_SOURCES:.wat=.wasm)

.PHONY: help build run deps test test-short bench bench-e2e fuzz lint golangci fmt wasm wasm-embed check imports ci clean image deploy-check

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

build: ## build bin/flowcache and bin/origin (the example origin)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/flowcache ./cmd/flowcache
	$(GO) build -trimpath -o bin/origin ./examples/origin

run: build ## start the example origin (background) and flowcache with config.toml (foreground); Ctrl-C stops both
	@bin/origin -addr 127.0.0.1:9000 & origin=$$!; \
	trap 'kill $$origin 2>/dev/null || true; wait $$origin 2>/dev/null || true' EXIT; \
	bin/flowcache serve -config config.toml

deps: ## install what the tests need when missing (gcc, clang, lld, node, redis-server, wabt, chromium, promtool; as root)
	./.ci/deps.sh

test: deps wasm-embed ## the whole suite, as CI runs it (installs its tools when missing, as root)
	$(GO) test -race -shuffle=on -timeout 8m ./...

test-short: wasm-embed ## quick tests: no race detector, -short
	$(GO) test -short -shuffle=on ./...

bench: wasm-embed ## benchmarks, -count 10 (COUNT=), to compare with benchstat
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) $(PKG)

# Overridable: make bench-e2e E2E_FLAGS='-workloads hot,big -rounds 1'
E2E_FLAGS ?=

bench-e2e: build ## end-to-end load: flowcache (alone and with the normalize policy) beside nginx, Varnish and a bare fasthttp limit (~5 min)
	$(GO) build -trimpath -o bin/e2ebench ./examples/e2ebench
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -ldflags '-s -w' -buildmode=c-shared -o bin/policies/normalize.wasm ./examples/normalize
	bin/e2ebench -origin bin/origin -flowcache bin/flowcache -policy bin/policies/normalize.wasm -out bin/bench-e2e.md $(E2E_FLAGS)

fuzz: wasm-embed ## run every Fuzz target, 30s each (FUZZTIME=)
	@for pkg in $$($(GO) list $(PKG)); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint: wasm-embed ## go vet and staticcheck
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

golangci: wasm-embed ## the wider linter set of .golangci.yml (the first run builds golangci-lint: minutes)
	$(GO) run $(GOLANGCI) run ./...

fmt: ## format: gofumpt, then goimports with this module's imports grouped last
	$(GO) run $(GOFUMPT) -w .
	$(GO) run $(GOIMPORTS) -local $(MODULE) -w .

wasm: wasm-embed ## build every example policy module into bin/policies
	./examples/build.sh bin/policies

wasm-embed: $(WAT_MODULES)

%.wasm: %.wat
	wat2wasm -o $@ $<

check: wasm-embed imports ## fail if formatting, vet, staticcheck, import boundaries or go mod tidy would change anything
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@# -diff: report what tidy would change without touching the tree.
	$(GO) mod tidy -diff
	git diff --exit-code go.mod go.sum

# imports enforces the import direction of the packages (CONTRIBUTING.md, Layout and import direction):
# cmd -> gateway -> plugins -> policy (stdlib only); wasm/* stands alone. policy may import
# internal/httplex, the one implementation of the lexical rules of HTTP field values that policy
# and gateway share; httplex itself is stdlib only.
imports:
	@fail=0; \
	deps() { [ -d "$$1" ] && $(GO) list -deps "./$$1/..." | grep -E '^[^/]+\.[^/]+/' || true; }; \
	report() { if [ -n "$$2" ]; then echo "$$1 imports what it must not:"; echo "$$2" | sed 's/^/  /'; fail=1; fi; }; \
	report "policy (stdlib and internal/httplex only)" "$$(deps policy | grep -Ev '^$(MODULE)/(policy(/|$$)|internal/httplex$$)' || true)"; \
	report "internal/httplex (stdlib only)" "$$(deps internal/httplex | grep -Ev '^$(MODULE)/internal/httplex$$' || true)"; \
	report "wasm (stdlib only)" "$$(deps wasm | grep -Ev '^$(MODULE)/wasm(/|$$)' || true)"; \
	report "plugins (never the gateway)" "$$(deps plugins | grep -E '^$(MODULE)/(gateway|cmd)(/|$$)' || true)"; \
	exit $$fail

image: ## build the container image (docker or podman) and print its size
	@engine=$$(command -v docker || command -v podman || true); \
	if [ -z "$$engine" ]; then echo "no container engine (docker or podman)"; exit 1; fi; \
	$$engine build --build-arg VERSION="$(VERSION)" -t flowcache:$(VERSION) . && \
	$$engine image inspect --format '{{.Size}}' flowcache:$(VERSION) | awk '{printf "flowcache:$(VERSION): %.1f MiB\n", $$1/1048576}'

deploy-check: ## validate deploy/ (kubeconform, offline, pinned in deploy/kubeconform_test.go; the image where an engine runs)
	$(GO) test -count=1 -v -run 'Kubernetes|Image|Schemas' ./deploy/

ci: check test ## what CI checks: check, then test

clean: ## remove build output
	rm -rf bin
