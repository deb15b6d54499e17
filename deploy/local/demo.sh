#!/usr/bin/env bash
# make demo: the main job. Starts the local stack, builds and (re)starts the three services in the
# background (logs in .local/logs/svc-*.log, PIDs recorded so `make down` stops them), streams the
# seed article and the Reuters-21578 corpus through ingest's HTTP API with a live progress line,
# and ends with a throughput summary, the top entities and a search.
#   DEMO_DATA=PATH     stream this file or folder instead of Reuters-21578 (.txt, .json, .jsonl)
#   DEMO_LIMIT=N       stream only the first N corpus articles
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$DEPLOY_DIR/up.sh"
# The services and the demo reach the engine up.sh started (NEWSFLOW_LOCAL_SEARCH: OpenSearch by
# default, or Elasticsearch 8 over TLS with a generated password): search.env holds its settings.
if [[ -f $LOCAL_DIR/search.env ]]; then
  set -a
  # shellcheck disable=SC1091
  source "$LOCAL_DIR/search.env"
  set +a
fi
BIN="$REPO_ROOT/bin"
mkdir -p "$BIN" "$LOCAL_DIR/demo"
log "building the services into $BIN"
(cd "$REPO_ROOT" && go build -o "$BIN/" ./services/ingest/cmd/ingest ./services/enrich/cmd/enrich ./services/index/cmd/index ./deploy/local/demo ./deploy/local/reuters2jsonl)

svc_ready() { curl -fsS -m 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }
start_service() {
  local name=$1 port=$2; shift 2
  stop_pid "svc-$name" # a new build replaces the running one
  log "starting $name (admin 127.0.0.1:$port, log $LOG_DIR/svc-$name.log)"
  NEWSFLOW_LOG_FORMAT=json start_bg "svc-$name" "$BIN/$name" "$BIN/$name" "$@"
  local check="svc_ready_$name"
  eval "$check() { svc_ready $port; }"
  wait_healthy "svc-$name" "$check"
}
cd "$REPO_ROOT"
start_service ingest 9101 serve --data-dir "$LOCAL_DIR/ingest"
start_service enrich 9102 serve
start_service index 9103 serve --lag-interval 2s --story-window 72h # a fresher lag figure for the progress line; stories on (opt-in: it costs indexing speed)

DATA_DIR="$REPO_ROOT/../shared/data"
SEED="$DATA_DIR/seed/imperialism-hits-the-rocks.txt"
DATA=${DEMO_DATA:-}
if [[ -z $DATA ]]; then
  DATA="$LOCAL_DIR/demo/reuters.jsonl"
  if [[ ! -s $DATA ]]; then
    [[ -d $DATA_DIR/reuters21578 ]] || die "Reuters-21578 not found at $DATA_DIR/reuters21578; set DEMO_DATA=FILE_OR_DIR"
    log "converting Reuters-21578 to JSON Lines once: $DATA"
    "$BIN/reuters2jsonl" -o "$DATA" "$DATA_DIR/reuters21578"
  fi
fi
seed_args=()
[[ -f $SEED ]] && seed_args=(--seed "$SEED")
"$BIN/demo" "${seed_args[@]}" --limit "${DEMO_LIMIT:-0}" "$DATA"
