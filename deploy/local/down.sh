#!/usr/bin/env bash
# Stops exactly the processes deploy/local started (the newsflow services `make demo` ran, then
# Prometheus, Elasticsearch, OpenSearch and Kafka), by the PIDs recorded in their PID files, never by name.
# Data stays in place; `down.sh --purge` also deletes data and logs (not the downloaded jars).
# `down.sh kafka` (or opensearch, elasticsearch, prometheus) stops just that component; `up.sh` restarts it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# forget_search_env NAME: a search engine that is down has no settings that reach it; delete its
# search-NAME.env, and search.env when that pointed at it (pkg/testenv must not find stale files).
forget_search_env() {
  [[ $1 == opensearch || $1 == elasticsearch ]] || return 0
  rm -f "$LOCAL_DIR/search-$1.env"
  if grep -qs "(engine: $1)" "$LOCAL_DIR/search.env"; then rm -f "$LOCAL_DIR/search.env"; fi
}

purge=0
only=()
for a in "$@"; do
  case $a in
    -h | --help) echo "usage: deploy/local/down.sh [--purge] [kafka|opensearch|elasticsearch|prometheus ...]   (state: $LOCAL_DIR)"; exit 0 ;;
    --purge) purge=1 ;;
    kafka | opensearch | elasticsearch | prometheus) only+=("$a") ;;
    *) die "unknown argument: $a (see --help)" ;;
  esac
done
if ((${#only[@]} > 0)); then
  for n in "${only[@]}"; do stop_pid "$n" && forget_search_env "$n"; done
  exit 0
fi

# Services first, so that they can flush and commit while Kafka and the search engine still run.
shopt -s nullglob
for f in "$PID_DIR"/svc-*.pid; do
  n=$(basename "$f" .pid)
  stop_pid "$n"
done
for n in prometheus elasticsearch opensearch kafka; do
  stop_pid "$n" && forget_search_env "$n"
done
if ((purge)); then
  log "deleting data and logs under $LOCAL_DIR"
  rm -rf "$LOCAL_DIR/kafka" "$LOCAL_DIR/opensearch" "$LOCAL_DIR/elasticsearch" "$LOCAL_DIR/prometheus" "$LOG_DIR"
fi
log "local stack is down"
