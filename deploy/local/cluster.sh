#!/usr/bin/env bash
# A 3-node Kafka cluster beside the single-broker stack (which it does not touch): KRaft, each node
# broker + controller, replication factor 3 and min.insync.replicas=2 (conf/kafka-cluster.properties),
# on loopback ports of its own, for the broker-loss test (`make test-cluster`) and for trying
# newsflow against a cluster that can lose a broker.
#
#   deploy/local/cluster.sh up        start the nodes that are not running (idempotent; restarts a killed one)
#   deploy/local/cluster.sh down      stop every node (SIGTERM); --purge also deletes their data and logs
#   deploy/local/cluster.sh kill N    SIGKILL node N (1-3), as a crashed machine would go
#   deploy/local/cluster.sh status    which nodes run, and the brokers setting that reaches them
#   deploy/local/cluster.sh controller  the node id of the active KRaft controller (quorum leader)
#
# It reuses the Kafka jars up.sh installs (lib.sh's ensure_jars), and keeps its data, logs and PID
# files apart: $LOCAL_DIR/cluster/kafka-N, $LOG_DIR/cluster-kafka-N.log, $PID_DIR/cluster-kafka-N.pid.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Node N listens for clients on CLUSTER_PORT+N-1 and for the controller quorum on
# CLUSTER_CONTROLLER_PORT+N-1: 39091-39093 and 39191-39193, clear of the stack's 9092-9094 and the
# fault test's private 19092.
CLUSTER_PORT=${NEWSFLOW_LOCAL_CLUSTER_PORT:-39091}
CLUSTER_CONTROLLER_PORT=${NEWSFLOW_LOCAL_CLUSTER_CONTROLLER_PORT:-$((CLUSTER_PORT + 100))}
# 256 MB is plenty for a test's traffic and lets three nodes share a 2-core laptop with the rest.
CLUSTER_HEAP=${NEWSFLOW_LOCAL_CLUSTER_HEAP:-256m}
CLUSTER_DIR=$LOCAL_DIR/cluster
NODES=(1 2 3)

node_port() { echo $((CLUSTER_PORT + $1 - 1)); }
node_controller_port() { echo $((CLUSTER_CONTROLLER_PORT + $1 - 1)); }
node_name() { echo "cluster-kafka-$1"; }
brokers() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("127.0.0.1:$(node_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

# cluster_healthy: a client sees all three brokers registered (the controllers agree on them).
cluster_healthy() { [[ $(kcat -b "$(brokers)" -L -m 3 2>/dev/null | grep -c '^  broker [0-9]* at ') == "${#NODES[@]}" ]]; }
# node_healthy N: node N answers a metadata request itself.
node_healthy() { kcat -b "127.0.0.1:$(node_port "$1")" -L -m 3 >/dev/null 2>&1; }

kafka_java() {
  echo java -Xms"$CLUSTER_HEAP" -Xmx"$CLUSTER_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DEPLOY_DIR/conf/kafka-log4j2.properties" -cp "$LIB_DIR/kafka/*"
}

# prepare_node N: render node N's server.properties and format its storage once, with the cluster
# id every node shares.
prepare_node() {
  local n=$1 dir="$CLUSTER_DIR/kafka-$1" voters="" m
  for m in "${NODES[@]}"; do voters+="${voters:+,}$m@127.0.0.1:$(node_controller_port "$m")"; done
  mkdir -p "$dir/data"
  sed -e "s|@NODE_ID@|$n|" -e "s|@PORT@|$(node_port "$n")|" -e "s|@CONTROLLER_PORT@|$(node_controller_port "$n")|" \
    -e "s|@VOTERS@|$voters|" -e "s|@DATA@|$dir/data|" "$DEPLOY_DIR/conf/kafka-cluster.properties" >"$dir/server.properties"
  [[ -f $dir/data/meta.properties ]] && return 0
  local java
  read -r -a java <<<"$(kafka_java)"
  java=("${java[@]/#-Xms*/-Xms64m}") # formatting needs no big heap
  if [[ ! -s $CLUSTER_DIR/cluster.id ]]; then
    "${java[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/$(node_name "$n").log" | tail -n 1 >"$CLUSTER_DIR/cluster.id"
  fi
  log "cluster: formatting node $n's KRaft storage in $dir/data"
  "${java[@]}" kafka.tools.StorageTool format -t "$(cat "$CLUSTER_DIR/cluster.id")" -c "$dir/server.properties" \
    >>"$LOG_DIR/$(node_name "$n").log" 2>&1 || die "cluster: formatting node $n failed; see $LOG_DIR/$(node_name "$n").log"
}

cluster_up() {
  mkdir -p "$LOCAL_DIR" "$PID_DIR" "$LOG_DIR" "$LIB_DIR" "$CLUSTER_DIR"
  ensure_apt
  ensure_jars kafka
  local n started=()
  for n in "${NODES[@]}"; do
    pid_alive "$(node_name "$n")" && continue
    local p
    for p in "$(node_port "$n")" "$(node_controller_port "$n")"; do
      port_open "$p" && die "cluster: node $n's port $p is taken by another process; free it or set NEWSFLOW_LOCAL_CLUSTER_PORT"
    done
    prepare_node "$n"
    local java
    read -r -a java <<<"$(kafka_java)"
    log "cluster: starting node $n on 127.0.0.1:$(node_port "$n") (controller :$(node_controller_port "$n"), heap $CLUSTER_HEAP)"
    start_bg "$(node_name "$n")" "$CLUSTER_DIR/kafka-$n/server.properties" "${java[@]}" kafka.Kafka "$CLUSTER_DIR/kafka-$n/server.properties"
    started+=("$n")
  done
  # The nodes are started together: a controller quorum forms only once a majority runs.
  for n in "${started[@]}"; do
    # shellcheck disable=SC2317 # called indirectly by wait_healthy
    check() { node_healthy "$n"; }
    wait_healthy "$(node_name "$n")" check
  done
  local deadline=$((SECONDS + START_TIMEOUT))
  until cluster_healthy; do
    ((SECONDS < deadline)) || die "cluster: the brokers did not all register within ${START_TIMEOUT}s; see $LOG_DIR/cluster-kafka-*.log"
    sleep 1
  done
  write_cluster_env
  log "cluster ready: NEWSFLOW_KAFKA_BROKERS=$(brokers) NEWSFLOW_KAFKA_REPLICATION_FACTOR=3 (or source $CLUSTER_DIR/kafka.env)"
}

# write_cluster_env: the settings that point newsflow at the cluster (a shell can source it).
write_cluster_env() {
  cat >"$CLUSTER_DIR/kafka.env.tmp" <<EOF
# The local 3-node Kafka cluster (written by deploy/local/cluster.sh up): source it to run newsflow on it.
NEWSFLOW_KAFKA_BROKERS=$(brokers)
NEWSFLOW_KAFKA_REPLICATION_FACTOR=3
export NEWSFLOW_KAFKA_BROKERS NEWSFLOW_KAFKA_REPLICATION_FACTOR
EOF
  mv "$CLUSTER_DIR/kafka.env.tmp" "$CLUSTER_DIR/kafka.env"
}

# cluster_down: SIGTERM every node at once. One at a time, the last node would hang in its
# controlled shutdown for want of a controller quorum (the other two controllers gone) until
# stop_pid's 30 s ran out.
cluster_down() {
  local n
  for n in "${NODES[@]}"; do stop_pid "$(node_name "$n")" & done
  wait
  rm -f "$CLUSTER_DIR/kafka.env"
  if [[ ${1:-} == --purge ]]; then
    log "cluster: deleting its data and logs under $CLUSTER_DIR"
    rm -rf "$CLUSTER_DIR"
    for n in "${NODES[@]}"; do rm -f "$LOG_DIR/$(node_name "$n").log"; done
  fi
  log "cluster is down"
}

# cluster_kill N: SIGKILL node N, the PID file's process only (its marker checked), and wait until
# it is gone, so that a caller's clock starts when the broker is really dead.
cluster_kill() {
  local n=${1:-} pid
  [[ $n =~ ^[1-3]$ ]] || die "usage: cluster.sh kill N (N = 1, 2 or 3)"
  pid_alive "$(node_name "$n")" || die "cluster: node $n is not running"
  read -r pid _ <"$PID_DIR/$(node_name "$n").pid"
  log "cluster: SIGKILL node $n (pid $pid)"
  kill -KILL "$pid"
  while [[ -d /proc/$pid ]]; do sleep 0.1; done
}

# cluster_controller: the quorum leader as the running nodes last recorded it (their
# quorum-state files; the newest leader epoch wins). Metadata requests cannot tell: in KRaft
# their "controller" is any broker.
cluster_controller() {
  local n f best_epoch=-1 leader=-1 line epoch id
  for n in "${NODES[@]}"; do
    pid_alive "$(node_name "$n")" || continue
    f="$CLUSTER_DIR/kafka-$n/data/__cluster_metadata-0/quorum-state"
    [[ -f $f ]] || continue
    line=$(cat "$f")
    [[ $line =~ \"leaderId\":(-?[0-9]+) ]] && id=${BASH_REMATCH[1]} || continue
    [[ $line =~ \"leaderEpoch\":([0-9]+) ]] && epoch=${BASH_REMATCH[1]} || continue
    if ((epoch > best_epoch && id > 0)); then best_epoch=$epoch leader=$id; fi
  done
  ((leader > 0)) || die "cluster: no running node knows a controller leader"
  echo "$leader"
}

cluster_status() {
  local n
  for n in "${NODES[@]}"; do
    if pid_alive "$(node_name "$n")"; then echo "node $n  127.0.0.1:$(node_port "$n")  running"; else echo "node $n  127.0.0.1:$(node_port "$n")  stopped"; fi
  done
  echo "NEWSFLOW_KAFKA_BROKERS=$(brokers) NEWSFLOW_KAFKA_REPLICATION_FACTOR=3"
}

case ${1:-} in
  up) cluster_up ;;
  down) cluster_down "${2:-}" ;;
  kill) cluster_kill "${2:-}" ;;
  status) cluster_status ;;
  controller) cluster_controller ;;
  -h | --help | *)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
    [[ ${1:-} == -h || ${1:-} == --help ]] || exit 2
    ;;
esac
