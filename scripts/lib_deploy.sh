#!/usr/bin/env bash
# Helpers for scripts/switch.sh (sourced). Everything is configurable by env; see docs/deploy.md.
# shellcheck disable=SC2034

DEPLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

deploy_config() {
    MODE="${LOGLENS_DEPLOY_MODE:-process}"
    STATE_DIR="${LOGLENS_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/loglens/deploy}"
    UPSTREAM_FILE="${LOGLENS_NGINX_UPSTREAM_FILE:-$DEPLOY_ROOT/nginx/upstreams/live.conf}"
    COMPOSE_FILE="${LOGLENS_COMPOSE_FILE:-$DEPLOY_ROOT/infra/docker-compose.yml}"
    BLUE_PORT="${LOGLENS_BLUE_PORT:-8000}"
    GREEN_PORT="${LOGLENS_GREEN_PORT:-8001}"
    SLOT_HOST="${LOGLENS_SLOT_HOST:-127.0.0.1}"          # where this script reaches the slots
    PYTHON="${LOGLENS_PYTHON:-$DEPLOY_ROOT/.venv/bin/python}"
    NGINX_URL="${LOGLENS_NGINX_URL:-https://127.0.0.1}"  # public side, for the confirm step
    NGINX_CURL_OPTS="${LOGLENS_NGINX_CURL_OPTS:--k}"     # self-signed / loopback name by default
    READY_TIMEOUT="${LOGLENS_READY_TIMEOUT:-90}"
    CONFIRM_TRIES="${LOGLENS_CONFIRM_TRIES:-10}"
    DRAIN_SECONDS="${LOGLENS_DRAIN_SECONDS:-2}"           # minimum wait after the reload
    DRAIN_TIMEOUT="${LOGLENS_DRAIN_TIMEOUT:-60}"          # max wait for in-flight requests
    STOP_TIMEOUT="${LOGLENS_STOP_TIMEOUT:-20}"
    if [[ "$MODE" == compose ]]; then
        NGINX_CMD="${LOGLENS_NGINX_CMD:-docker compose -f $COMPOSE_FILE exec -T nginx nginx}"
        [[ -n "${LOGLENS_DRAIN_SECONDS:-}" ]] || DRAIN_SECONDS=10
    else
        NGINX_CMD="${LOGLENS_NGINX_CMD:-nginx}"
    fi
    read -r -a NGINX_ARGV <<<"$NGINX_CMD"
    read -r -a NGINX_CURL <<<"$NGINX_CURL_OPTS"
    STATE_FILE="$STATE_DIR/state"
    mkdir -p "$STATE_DIR"
}

log() { printf '%s switch[%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$$" "$*" >&2; }

other_slot() { [[ "$1" == blue ]] && echo green || echo blue; }
slot_port() { [[ "$1" == blue ]] && echo "$BLUE_PORT" || echo "$GREEN_PORT"; }
slot_url() { echo "http://$SLOT_HOST:$(slot_port "$1")"; }

# Address nginx uses for a slot: loopback ports for processes, service names inside compose.
upstream_addr() {
    local slot="$1" var="LOGLENS_UPSTREAM_ADDR_${1^^}"
    if [[ -n "${!var:-}" ]]; then echo "${!var}"
    elif [[ "$MODE" == compose ]]; then echo "ai-service-$slot:$(slot_port "$slot")"
    else echo "$SLOT_HOST:$(slot_port "$slot")"; fi
}

# --- state file (KEY=value lines, written atomically) ----------------------------------------------
state_get() { [[ -f "$STATE_FILE" ]] && sed -n "s/^$1=//p" "$STATE_FILE" | tail -n1; return 0; }

state_write() {  # live_slot live_build prev_slot prev_build
    local tmp="$STATE_FILE.tmp.$$"
    {
        echo "LIVE_SLOT=$1"; echo "LIVE_BUILD=$2"; echo "PREV_SLOT=$3"; echo "PREV_BUILD=$4"
        echo "MODE=$MODE"; echo "UPDATED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$tmp"
    mv -f "$tmp" "$STATE_FILE"
}

# --- the upstream include --------------------------------------------------------------------------
render_upstream() {  # slot build -> stdout
    cat <<UP
# loglens-live-slot: $1
# loglens-live-build: $2
# Written by scripts/switch.sh at $(date -u +%Y-%m-%dT%H:%M:%SZ) (temp file + mv); do not edit by hand.
upstream loglens_live {
    server $(upstream_addr "$1") max_fails=0;
    keepalive 32;
    keepalive_timeout 4s;   # below uvicorn's 5 s keep-alive, so nginx never reuses a connection the slot is closing
    keepalive_requests 1000;
}
UP
}

write_upstream() {  # slot build: atomic replace (same directory, so mv is a rename)
    local tmp
    tmp="$(mktemp "$(dirname "$UPSTREAM_FILE")/.live.conf.XXXXXX")"
    render_upstream "$1" "$2" >"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$UPSTREAM_FILE"
}

upstream_slot() {  # the slot the include names ("" when there is no include)
    [[ -f "$UPSTREAM_FILE" ]] || { echo ""; return 0; }
    local slot
    slot="$(sed -n 's/^# loglens-live-slot: *\([a-z]*\).*/\1/p' "$UPSTREAM_FILE" | head -n1)"
    if [[ -z "$slot" ]]; then  # hand-written include: map the port
        if grep -Eq "server [^;]*:${GREEN_PORT}[ ;]" "$UPSTREAM_FILE"; then slot=green
        elif grep -Eq "server [^;]*:${BLUE_PORT}[ ;]" "$UPSTREAM_FILE"; then slot=blue; fi
    fi
    echo "$slot"
}

nginx_test() { "${NGINX_ARGV[@]}" -t 2>&1 | sed 's/^/    /' >&2; return "${PIPESTATUS[0]}"; }
nginx_reload() { "${NGINX_ARGV[@]}" -s reload 2>&1 | sed 's/^/    /' >&2; return "${PIPESTATUS[0]}"; }

json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"; }

# --- slot processes --------------------------------------------------------------------------------
pid_file() { echo "$STATE_DIR/$1.pid"; }

slot_pid() {  # pid of our running process for the slot, or nothing
    local f pid
    f="$(pid_file "$1")"
    [[ -f "$f" ]] || return 0
    pid="$(cat "$f")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'ai_service.main'; then
        echo "$pid"
    fi
}

port_listening() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

slot_running() {  # something of ours serves the slot
    if [[ "$MODE" == compose ]]; then
        curl -fsS --max-time 2 "$(slot_url "$1")/healthz" >/dev/null 2>&1
    else
        [[ -n "$(slot_pid "$1")" ]]
    fi
}

start_slot() {  # slot build
    local slot="$1" build="$2" port log pid
    port="$(slot_port "$slot")"
    if [[ "$MODE" == compose ]]; then
        log "compose: IMAGE_TAG=$build docker compose -f $COMPOSE_FILE up -d --no-deps ai-service-$slot"
        IMAGE_TAG="$build" docker compose -f "$COMPOSE_FILE" up -d --no-deps --force-recreate "ai-service-$slot" 9>&- >&2
        return
    fi
    if port_listening "$port"; then
        log "port $port of slot $slot is taken by another process (not ours): refusing"
        return 1
    fi
    log=$STATE_DIR/$slot.log
    log "starting $slot (build $build) on $SLOT_HOST:$port: $PYTHON -m ai_service.main, log $log"
    # fd 9 (the switch lock) is closed for the child, or the slot would hold the lock for its lifetime.
    (
        cd "$DEPLOY_ROOT" || exit 1
        exec env LOGLENS_SLOT="$slot" LOGLENS_BUILD="$build" LOGLENS_API_PORT="$port" \
            LOGLENS_API_HOST="$SLOT_HOST" setsid "$PYTHON" -m ai_service.main
    ) </dev/null >>"$log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$(pid_file "$slot")"
    log "$slot pid $pid"
}

stop_slot() {  # slot
    local slot="$1" pid i
    if [[ "$MODE" == compose ]]; then
        log "compose: docker compose -f $COMPOSE_FILE stop ai-service-$slot"
        docker compose -f "$COMPOSE_FILE" stop -t "$STOP_TIMEOUT" "ai-service-$slot" 9>&- >&2 || return 1
        return
    fi
    pid="$(slot_pid "$slot")"
    if [[ -z "$pid" ]]; then
        log "$slot is not running (nothing to stop)"
        rm -f "$(pid_file "$slot")"
        return 0
    fi
    log "stopping $slot (pid $pid, SIGTERM; uvicorn finishes in-flight requests)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$slot pid $pid still alive after ${STOP_TIMEOUT}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pid_file "$slot")"
    log "$slot stopped"
}

wait_ready() {  # slot timeout
    local slot="$1" timeout="$2" url deadline pid body
    url="$(slot_url "$slot")/readyz"
    deadline=$((SECONDS + timeout))
    log "waiting for $url (up to ${timeout}s)"
    while ((SECONDS < deadline)); do
        if [[ "$MODE" != compose ]]; then
            pid="$(slot_pid "$slot")"
            if [[ -z "$pid" ]]; then
                log "$slot exited during start-up; last log lines:"
                tail -n 15 "$STATE_DIR/$slot.log" 2>/dev/null | sed 's/^/    /' >&2
                return 1
            fi
        fi
        if curl -fsS --max-time 2 "$url" >/dev/null 2>&1; then
            log "$slot is ready"
            return 0
        fi
        sleep 0.5
    done
    body="$(curl -sS --max-time 2 "$url" 2>&1 | head -c 400)"
    log "$slot not ready after ${timeout}s: ${body:-no answer}"
    return 1
}

established_to_port() { ss -Htn state established "( dport = :$1 )" 2>/dev/null | wc -l; }

drain() {  # old slot: wait until nginx has no connection to it (process mode), at least DRAIN_SECONDS
    local slot="$1" port n deadline
    port="$(slot_port "$slot")"
    sleep "$DRAIN_SECONDS"
    if [[ "$MODE" == compose ]]; then
        log "drained $slot (waited ${DRAIN_SECONDS}s; container traffic is not visible to ss)"
        return 0
    fi
    deadline=$((SECONDS + DRAIN_TIMEOUT))
    while n="$(established_to_port "$port")" && ((n > 0)) && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if ((n > 0)); then
        log "drain timeout: $n connection(s) to $slot remain after ${DRAIN_TIMEOUT}s; stopping anyway"
    else
        log "drained $slot (no connections left to :$port)"
    fi
}
