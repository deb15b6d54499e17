#!/usr/bin/env bash
# The main job (make demo). Today: the local stack is up; say what runs where.
# The full pipeline demo (services, a stream of real articles, a search, a throughput summary)
# is built on top of this as the stages land.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cat <<EOF2
newsflow local stack:
  Kafka       127.0.0.1:$KAFKA_PORT          kcat -b 127.0.0.1:$KAFKA_PORT -L
  OpenSearch  http://127.0.0.1:$SEARCH_PORT     curl http://127.0.0.1:$SEARCH_PORT/_cat/indices
  Prometheus  http://127.0.0.1:$PROMETHEUS_PORT
  logs        $LOG_DIR
Stop everything with: make down
EOF2
