# pgo. `make run` starts the local environment; `make test` runs every test
# tier. Both install and build what they need: Debian packages with apt-get,
# Go tools pinned in go.mod files, and Kubernetes built from source into
# $(PGO_CACHE), outside the checkout.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

PGO_CACHE ?= $(HOME)/.cache/pgo
export PGO_CACHE

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X pgo.dev/pgo/internal/version.Version=$(VERSION)
GO_TEST_FLAGS ?= -race -count=1 -timeout 45m

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build pgo, postgres-operator and pgo-local into bin/ (with progress when it takes a while)
	hack/go-build.sh pgo . ./cmd/... -- -trimpath -ldflags "$(LDFLAGS)" -o bin/

.PHONY: generate
generate: ## Regenerate deepcopy code from api/v1
	hack/generate.sh objects

.PHONY: manifests
manifests: ## Regenerate the CRDs and RBAC in config/
	hack/generate.sh manifests

.PHONY: kube
kube: ## Build kube-apiserver, etcd and friends into $(PGO_CACHE)/k8s (once)
	hack/build-kube.sh >/dev/null

.PHONY: s3
s3: ## Build versitygw, the S3-compatible server of the tests, into $(PGO_CACHE)/s3 (once)
	hack/build-s3.sh >/dev/null

.PHONY: deps
deps: ## Install the Debian packages database pods and tests use
	hack/install-deps.sh

bin/golangci-lint: hack/tools/go.mod hack/tools/go.sum
	go -C hack/tools build -o $(CURDIR)/bin/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint

.PHONY: lint
lint: bin/golangci-lint ## gofmt, go vet and golangci-lint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [[ -n $$unformatted ]]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	go vet ./...
	bin/golangci-lint run ./...

.PHONY: test
test: deps kube s3 lint ## Run every test tier: unit and integration (a real kube-apiserver and etcd)
	go test $(GO_TEST_FLAGS) ./...

.PHONY: test-unit
test-unit: ## Run the unit tests only (no servers)
	go test $(GO_TEST_FLAGS) -short ./...

.PHONY: bench-failover
bench-failover: deps kube ## Failover times (median, max of 5) and commits lost in synchronous mode
	go test -run '^$$' -bench 'Failover|SyncWritesLost' -benchtime 5x -timeout 60m ./internal/instance/

.PHONY: bench-backup
bench-backup: deps ## pgBackRest full (pgo's defaults, then process-max=2), incr and restore against pg_basebackup on pgbench scale 50, and pg_wal under pgbench with archiving
	go test -run '^$$' -bench Backup -benchtime 1x -timeout 60m ./internal/pgbackrest/

.PHONY: bench-steady
bench-steady: deps kube ## 20 idle clusters with one replica (settled 6 minutes) for 5 minutes in the local environment: API writes per cluster and reconciles per minute
	go test -run '^$$' -bench SteadyState -benchtime 1x -timeout 60m ./internal/local/e2e/

.PHONY: bench-create
bench-create: deps kube ## Create a cluster with one replica 10 times in the local environment: median and max of each phase
	go test -run '^$$' -bench CreateCluster -benchtime 10x -timeout 60m ./internal/local/e2e/

.PHONY: bench-login
bench-login: kube ## Login latency of good pgo users (p50, p99) alone and during a burst of 20 wrong passwords a second from one address
	go test -run '^$$' -bench LoginDuringBurst -benchtime 1x -timeout 30m ./internal/apiserver/

.PHONY: bench-controller
bench-controller: kube ## Reconcile 500 PGClusters in a real API server: time, peak heap, reconciles per minute when steady
	go test -run '^$$' -bench Reconcile500Clusters -benchtime 1x -timeout 60m ./internal/controller/

.PHONY: golden-patroni
golden-patroni: kube ## Record Patroni 3.0.2's health-check answers in each member state (installs Debian's patroni; needs root) into internal/instanceapi/testdata
	dpkg-query -W -f='$${Status}' patroni 2>/dev/null | grep -q "install ok installed" || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patroni >/dev/null
	go run ./hack/patroni-golden

.PHONY: run
run: deps kube build ## Start the local environment with pgo installed (RESET=1 starts afresh); Ctrl-C stops it
	bin/pgo-local --dir .run --operator bin/postgres-operator $(if $(RESET),--reset)

.PHONY: clean
clean: ## Remove build output (the Kubernetes cache in $(PGO_CACHE) stays)
	rm -rf bin .run
