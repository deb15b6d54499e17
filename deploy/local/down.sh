#!/usr/bin/env bash
# Stops exactly the processes deploy/local started (the newsflow services `make demo` ran, then
# Prometheus, OpenSearch and Kafka), by the PIDs recorded in their PID files, never by name.
# Data stays in place; `down.sh --purge` also deletes data and logs (not the downloaded jars).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case ${1:-} in
  -h | --help) echo "usage: deploy/local/down.sh [--purge]   (state: $LOCAL_DIR)"; exit 0 ;;
  --purge) purge=1 ;;
  "") ;;
  *) die "unknown argument: $1 (see --help)" ;;
esac

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
