# shellcheck shell=bash
# Elasticsearch 8 for deploy/local, and the search.env files that tell a shell or a test how to
# reach each search engine. Sourced by up.sh after lib.sh, never run.
#
# The server is the integ-test-zip distribution Elastic publishes to Maven Central (see
# maven/elasticsearch/pom.xml). It runs with security on, as a default Elasticsearch 8 install
# does: HTTPS with a CA made by its own certutil, and a file-realm user whose password is
# generated once. What this build lacks: a JDK (the system Java 17 runs it), analysis-common (no
# `english` analyzer, no stemmer) and painless; API keys fail (the security index needs
# analysis-common).
#
# Where things live:
#   $LIB_DIR/elasticsearch/elasticsearch-<version>   the unpacked distribution, shared by every
#                                                    stack of this checkout and only read
#   $LOCAL_DIR/elasticsearch/{config,data,logs}      this stack's node (ES_PATH_CONF=config),
#                                                    owned by $ES_USER
#   $LOCAL_DIR/elasticsearch/password                the password of $ES_USERNAME (root, 0600)
#
# Elasticsearch refuses to run as root. Run by root, up.sh creates the unprivileged system user
# $ES_USER and starts the node as that user with setpriv; run by anyone else, the node runs as
# that user. setpriv rather than runuser: setpriv execs, so the PID start_bg records is the
# Elasticsearch launcher itself and down.sh's SIGTERM reaches it. runuser stays the parent, and on
# SIGTERM it signals its child and SIGKILLs it 2 s later, before the node has shut down.

ES_PORT=${NEWSFLOW_LOCAL_ES_PORT:-9201}
ES_TRANSPORT_PORT=${NEWSFLOW_LOCAL_ES_TRANSPORT_PORT:-9301}
ES_HEAP=${NEWSFLOW_LOCAL_ES_HEAP:-1g}
ES_USER=${NEWSFLOW_LOCAL_ES_USER:-newsflow-es}
ES_USERNAME=newsflow
ES_CLUSTER_NAME=newsflow-local-es
ES_VERSION=$(sed -n 's|.*<elasticsearch.version>\(.*\)</elasticsearch.version>.*|\1|p' "$DEPLOY_DIR/maven/elasticsearch/pom.xml")
ES_HOME="$LIB_DIR/elasticsearch/elasticsearch-$ES_VERSION"
# Absolute and normalised (symlinks kept), as bin/elasticsearch makes ES_PATH_CONF: the PID file's
# marker must match the launcher's command line even when NEWSFLOW_LOCAL_DIR is relative.
ES_DIR=$(realpath -ms "$LOCAL_DIR/elasticsearch")
ES_CONF="$ES_DIR/config"
ES_CA="$ES_CONF/certs/ca/ca.crt"
ES_PASSWORD_FILE="$ES_DIR/password"

# es_as CMD...: run CMD as the Elasticsearch user (as the caller when that is not root), with the
# distribution's Java and this stack's config folder.
# (es_as_prefix sets ES_AS to that prefix, for start_bg, which cannot run a shell function.)
es_as() { es_as_prefix && "${ES_AS[@]}" "$@"; }
es_as_prefix() {
  ES_AS=(env ES_JAVA_HOME="$(es_java_home)" ES_PATH_CONF="$ES_CONF")
  if [[ $(id -u) -eq 0 ]]; then ES_AS=(setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups -- "${ES_AS[@]}"); fi
}

# es_java_home: NEWSFLOW_LOCAL_ES_JAVA_HOME, or the home of the `java` on PATH (the Java 17 that
# ensure_apt installs); this distribution bundles none.
es_java_home() {
  if [[ -n ${NEWSFLOW_LOCAL_ES_JAVA_HOME:-} ]]; then echo "$NEWSFLOW_LOCAL_ES_JAVA_HOME"; return; fi
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

# ensure_es_dist: unpack the distribution from Maven Central into $LIB_DIR/elasticsearch, again
# only when the pom changed (the same stamp scheme as ensure_jars).
ensure_es_dist() {
  local pom="$DEPLOY_DIR/maven/elasticsearch/pom.xml" dest="$LIB_DIR/elasticsearch"
  local stamp="$dest/.pom.sha256" want
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$want" && -x $ES_HOME/bin/elasticsearch ]] && return 0
  log "unpacking Elasticsearch $ES_VERSION from Maven Central into $dest (first run only)"
  rm -rf "$dest" && mkdir -p "$dest"
  # The markers go with the distribution, not into a target/ folder beside the pom.
  mvn -B -q -f "$pom" dependency:unpack-dependencies -DoutputDirectory="$dest" -DmarkersDirectory="$dest/.markers" \
    >"$LOG_DIR/maven-elasticsearch.log" 2>&1 || die "Maven could not fetch Elasticsearch; see $LOG_DIR/maven-elasticsearch.log"
  [[ -x $ES_HOME/bin/elasticsearch ]] || die "elasticsearch: $ES_HOME/bin/elasticsearch missing after unpacking; see $LOG_DIR/maven-elasticsearch.log"
  echo "$want" >"$stamp"
}

# ensure_es_user: the unprivileged system user the node runs as (only when up.sh runs as root).
ensure_es_user() {
  [[ $(id -u) -eq 0 ]] || return 0
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  log "elasticsearch: creating system user $ES_USER (Elasticsearch refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER" ||
    die "elasticsearch: could not create system user $ES_USER"
}

# es_reachable DIR: let the Elasticsearch user traverse every folder above DIR. A stack under
# /root or in a 0700 temporary folder (mktemp -d, Go's t.TempDir) is not, and the node would fail
# on its own config. Only the search bit (o+x) is added, never read: nobody can list those
# folders who could not before.
es_reachable() {
  [[ $(id -u) -eq 0 ]] || return 0
  local p
  p=$(readlink -f "$1")
  while [[ $p != / ]]; do
    p=$(dirname "$p")
    if [[ $(stat -c %A "$p") != *[xt] ]]; then
      log "elasticsearch: chmod o+x $p, so that $ES_USER can reach $1"
      chmod o+x "$p"
    fi
  done
}

# es_configure: this stack's config folder, certificates, user and password; certificates and
# password are made once and kept, the rest is rewritten on every start (ports, heap may change).
es_configure() {
  local data="$ES_DIR/data" logs="$ES_DIR/logs" certs="$ES_CONF/certs"
  mkdir -p "$ES_CONF/jvm.options.d" "$data" "$logs"
  es_reachable "$ES_DIR"
  es_reachable "$ES_HOME"
  local f
  for f in log4j2.properties roles.yml role_mapping.yml users users_roles; do
    [[ -f $ES_CONF/$f ]] || cp "$ES_HOME/config/$f" "$ES_CONF/$f"
  done
  # The launcher runs in $ES_HOME (shared, read-only): the JVM's own files go to this stack.
  sed -e "s|^-XX:HeapDumpPath=data|-XX:HeapDumpPath=$data|" -e "s|logs/|$logs/|g" \
    "$ES_HOME/config/jvm.options" >"$ES_CONF/jvm.options"
  # Without -Xmx Elasticsearch takes half the machine's memory. The built-in roles would be
  # copied into the security index, which this build cannot create: three warnings per start.
  printf -- '-Xms%s\n-Xmx%s\n-Des.queryable_built_in_roles_enabled=false\n' "$ES_HEAP" "$ES_HEAP" \
    >"$ES_CONF/jvm.options.d/newsflow.options"
  sed -e "s|@CLUSTER@|$ES_CLUSTER_NAME|g" -e "s|@PORT@|$ES_PORT|" -e "s|@TRANSPORT_PORT@|$ES_TRANSPORT_PORT|" \
    -e "s|@DATA@|$data|" -e "s|@LOGS@|$logs|" "$DEPLOY_DIR/conf/elasticsearch.yml" >"$ES_CONF/elasticsearch.yml"
  if [[ ! -f $certs/node/node.crt ]]; then
    log "elasticsearch: making a CA and a node certificate for 127.0.0.1/localhost with elasticsearch-certutil"
    rm -rf "$certs" && mkdir -p "$certs"
    local tool="$ES_HOME/bin/elasticsearch-certutil" out="$LOG_DIR/elasticsearch-setup.log"
    {
      ES_PATH_CONF="$ES_CONF" ES_JAVA_HOME="$(es_java_home)" "$tool" ca --pem --silent --out "$certs/ca.zip" &&
        unzip -q -o "$certs/ca.zip" -d "$certs" &&
        ES_PATH_CONF="$ES_CONF" ES_JAVA_HOME="$(es_java_home)" "$tool" cert --pem --silent \
          --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key" --ip 127.0.0.1 --dns localhost --name node --out "$certs/node.zip" &&
        unzip -q -o "$certs/node.zip" -d "$certs" && rm -f "$certs/ca.zip" "$certs/node.zip"
    } </dev/null >>"$out" 2>&1 || die "elasticsearch: making certificates failed; see $out"
    chmod 600 "$certs/ca/ca.key" "$certs/node/node.key"
  fi
  [[ $(id -u) -eq 0 ]] && chown -R "$ES_USER:" "$ES_CONF" "$data" "$logs"
  if [[ ! -s $ES_PASSWORD_FILE ]]; then
    (umask 077 && openssl rand -hex 16 >"$ES_PASSWORD_FILE") || die "elasticsearch: openssl could not generate a password"
  fi
  if ! grep -q "^$ES_USERNAME:" "$ES_CONF/users"; then
    log "elasticsearch: adding the file-realm superuser $ES_USERNAME"
    es_as "$ES_HOME/bin/elasticsearch-users" useradd "$ES_USERNAME" -p "$(cat "$ES_PASSWORD_FILE")" -r superuser \
      </dev/null >>"$LOG_DIR/elasticsearch-setup.log" 2>&1 ||
      die "elasticsearch: elasticsearch-users useradd failed; see $LOG_DIR/elasticsearch-setup.log"
  fi
}

es_healthy() {
  [[ -s $ES_PASSWORD_FILE && -f $ES_CA ]] || return 1
  # The password goes to curl on stdin, not on its command line where ps would show it.
  printf 'user = "%s:%s"\n' "$ES_USERNAME" "$(cat "$ES_PASSWORD_FILE")" |
    curl -fsS -m 3 -K - --cacert "$ES_CA" "https://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null |
    grep -q "\"cluster_name\":\"$ES_CLUSTER_NAME\""
}

start_elasticsearch() {
  if pid_alive elasticsearch && es_healthy; then log "elasticsearch already running on https://127.0.0.1:$ES_PORT"; return; fi
  pid_alive elasticsearch && { wait_healthy elasticsearch es_healthy; return; }
  port_open "$ES_PORT" && die "elasticsearch: port $ES_PORT is taken by another process; free it or set NEWSFLOW_LOCAL_ES_PORT (log: $LOG_DIR/elasticsearch.log)"
  port_open "$ES_TRANSPORT_PORT" && die "elasticsearch: transport port $ES_TRANSPORT_PORT is taken by another process; free it or set NEWSFLOW_LOCAL_ES_TRANSPORT_PORT (log: $LOG_DIR/elasticsearch.log)"
  ensure_es_user
  es_configure
  log "starting elasticsearch $ES_VERSION on https://127.0.0.1:$ES_PORT (heap $ES_HEAP, user $ES_USER)"
  # The recorded PID is the launcher JVM (setsid, setpriv, env and bin/elasticsearch all exec);
  # it runs the server JVM as its child and, on SIGTERM, stops it and waits for it to exit.
  es_as_prefix
  start_bg elasticsearch "-Des.path.conf=$ES_CONF" "${ES_AS[@]}" "$ES_HOME/bin/elasticsearch"
  wait_healthy elasticsearch es_healthy
  log "elasticsearch ready"
}

# --- search.env --------------------------------------------------------------------------------

# search_primary: the engine $LOCAL_DIR/search.env points at: NEWSFLOW_LOCAL_SEARCH's (opensearch
# for "both"), or else the one search engine among the components; nothing when there is none.
search_primary() {
  local want=opensearch c
  [[ $LOCAL_SEARCH == elasticsearch ]] && want=elasticsearch
  [[ " $COMPONENTS " == *" $want "* ]] && { echo "$want"; return; }
  for c in $COMPONENTS; do
    [[ $c == opensearch || $c == elasticsearch ]] && { echo "$c"; return; }
  done
  return 0
}

# write_search_env FILE ENGINE: the NEWSFLOW_SEARCH_* settings that reach ENGINE, as lines a shell
# can source (exported, so that services started from that shell see them) and that
# pkg/testenv reads. 0600: the file holds the password.
write_search_env() {
  local file=$1 engine=$2
  (
    umask 077
    {
      echo "# written by deploy/local/up.sh: the settings that reach the local $engine (engine: $engine)"
      case $engine in
        opensearch) echo "export NEWSFLOW_SEARCH_URL='http://127.0.0.1:$SEARCH_PORT'" ;;
        elasticsearch)
          echo "export NEWSFLOW_SEARCH_URL='https://127.0.0.1:$ES_PORT'"
          echo "export NEWSFLOW_SEARCH_USERNAME='$ES_USERNAME'"
          echo "export NEWSFLOW_SEARCH_PASSWORD='$(cat "$ES_PASSWORD_FILE")'"
          echo "export NEWSFLOW_SEARCH_CA_FILE='$ES_CA'"
          echo "# this Elasticsearch build has no analysis-common module, so no english analyzer"
          echo "export NEWSFLOW_INDEX_TEXT_ANALYZER='standard'"
          ;;
      esac
    } >"$file.tmp"
  )
  chmod 600 "$file.tmp" && mv -f "$file.tmp" "$file"
}

# write_search_envs: search-<engine>.env for every engine this run started or found running, and
# search.env for the primary one; prints what search.env holds (the password masked).
write_search_envs() {
  local c primary
  for c in $COMPONENTS; do
    [[ $c == opensearch || $c == elasticsearch ]] && write_search_env "$LOCAL_DIR/search-$c.env" "$c"
  done
  primary=$(search_primary)
  [[ -n $primary ]] || return 0
  cp -p "$LOCAL_DIR/search-$primary.env" "$LOCAL_DIR/search.env"
  echo "search settings for the $primary (source $LOCAL_DIR/search.env; one file per engine: $LOCAL_DIR/search-<engine>.env):"
  sed -n -e "s|^export NEWSFLOW_SEARCH_PASSWORD=.*|  NEWSFLOW_SEARCH_PASSWORD=(in the file)|p" \
    -e "s|^export \(NEWSFLOW_[A-Z_]*\)='\(.*\)'$|  \1=\2|p" "$LOCAL_DIR/search.env"
}
