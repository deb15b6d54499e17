#!/usr/bin/env bash
# Stops exactly the processes deploy/local started (the newsflow services `make demo` ran, then
# Prometheus, OpenSearch and Kafka), by the PIDs recorded in their PID files, never by name.
# Data stays in place; `down.sh --purge` also deletes data and logs (not the downloaded jars).
# `down.sh kafka` (or opensearch, prometheus) stops just that component; `up.sh` restarts it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
only=()
for a in "$@"; do
  case $a in
    -h | --help) echo "usage: deploy/local/down.sh [--purge] [kafka|opensearch|prometheus ...]   (state: $LOCAL_DIR)"; exit 0 ;;
    --purge) purge=1 ;;
    kafka | opensearch | prometheus) only+=("$a") ;;
    *) die "unknown argument: $a (see --help)" ;;
  esac
done
if ((${#only[@]} > 0)); then
  for n in "${only[@]}"; do stop_pid "$n"; done
  exit 0
fi

# Services first, so that they can flush and commit while Kafka and the search engine still run.
shopt -s nullglob
for f in "$PID_DIR"/svc-*.pid; do
  n=$(basename "$f" .pid)
  stop_pid "$n"
done
for n in prometheus opensearch kafka; do
  stop_pid "$n"
done
if ((purge)); then
  log "deleting data and logs under $LOCAL_DIR"
  rm -rf "$LOCAL_DIR/kafka" "$LOCAL_DIR/opensearch" "$LOCAL_DIR/prometheus" "$LOG_DIR"
fi
log "local stack is down"
