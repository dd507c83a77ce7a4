#!/usr/bin/env bash
# Blue/green switch of the LogLens AI service behind nginx, without dropping a request.
#
#   scripts/switch.sh <build-id> [--mode process|compose] [--keep-old]   deploy build to the idle slot
#   scripts/switch.sh rollback [--mode ...] [--keep-old]                 back to the previous slot + build
#   scripts/switch.sh status                                             live/previous slot and build
#   scripts/switch.sh init-upstream [blue|green]                         write the include (fresh host)
#
# Steps: lock -> find live slot (include file) -> start idle slot with the build -> wait /readyz ->
# smoke it directly (/version slot+build, POST /ask 200, stream ends with `done`) -> write the include
# (temp + mv) -> nginx -t -> nginx -s reload -> confirm through nginx (/version) -> drain -> stop old.
# Any failure before the swap stops the idle slot and leaves the live one untouched (exit 1); any
# failure after the swap restores the include, reloads and stops the new slot (exit 1). Exit 75 = another
# switch holds the lock; exit 2 = usage. Configuration by env: docs/deploy.md.
# shellcheck disable=SC2317  # rollback_swap/on_exit run from the EXIT trap
set -uo pipefail
# shellcheck source=scripts/lib_deploy.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_deploy.sh"

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=""
keep_old=0
mode_arg=""
while (($#)); do
    case "$1" in
        --mode) mode_arg="${2:-}"; shift 2 || usage ;;
        --mode=*) mode_arg="${1#--mode=}"; shift ;;
        --keep-old) keep_old=1; shift ;;
        -h|--help) usage ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) if [[ -z "$cmd" ]]; then cmd="$1"; elif [[ "$cmd" == init-upstream ]]; then init_slot="$1"; else usage; fi; shift ;;
    esac
done
[[ -n "$cmd" ]] || usage
[[ -z "$mode_arg" ]] || LOGLENS_DEPLOY_MODE="$mode_arg"
deploy_config
[[ "$MODE" == process || "$MODE" == compose ]] || { log "unknown mode '$MODE' (process|compose)"; exit 2; }

case "$cmd" in
    status)
        echo "include: $UPSTREAM_FILE -> $(upstream_slot)"
        [[ -f "$STATE_FILE" ]] && cat "$STATE_FILE" || echo "no state file ($STATE_FILE)"
        for s in blue green; do
            if slot_running "$s"; then echo "$s: running $(curl -fsS --max-time 2 "$(slot_url "$s")/version" 2>/dev/null)"
            else echo "$s: not running"; fi
        done
        exit 0 ;;
    init-upstream)
        slot="${init_slot:-blue}"
        [[ "$slot" == blue || "$slot" == green ]] || usage
        mkdir -p "$(dirname "$UPSTREAM_FILE")"
        write_upstream "$slot" none
        log "wrote $UPSTREAM_FILE naming $slot ($(upstream_addr "$slot"))"
        exit 0 ;;
esac

# --- one switch at a time --------------------------------------------------------------------------
LOCK_FILE="$STATE_DIR/switch.lock"
exec 9>>"$LOCK_FILE"
if ! flock -n 9; then
    log "refused: another switch is running (lock $LOCK_FILE is held)"
    exit 75
fi

live="$(upstream_slot)"
live_build="$(state_get LIVE_BUILD)"
[[ -n "$live" ]] || live="$(state_get LIVE_SLOT)"

if [[ "$cmd" == rollback ]]; then
    build="$(state_get PREV_BUILD)"
    prev_slot="$(state_get PREV_SLOT)"
    if [[ -z "$build" || -z "$prev_slot" ]]; then
        log "refused: no previous deployment recorded in $STATE_FILE"
        exit 1
    fi
    if [[ "$prev_slot" == "$live" ]]; then
        log "refused: the previous slot $prev_slot is the live one (state and include disagree)"
        exit 1
    fi
    log "rollback: $live (build ${live_build:-?}) -> $prev_slot (build $build)"
else
    build="$cmd"
    [[ "$build" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || { log "refused: bad build id '$build'"; exit 2; }
fi

# First deploy (no recorded build and nothing serving the slot the include names): deploy onto that
# slot; otherwise onto the idle one.
if [[ -z "$live" ]]; then
    target=blue; old=""
    log "no live slot (no include at $UPSTREAM_FILE): first deploy onto blue"
elif [[ -z "$live_build" || "$live_build" == none ]] && ! slot_running "$live"; then
    target="$live"; old=""
    log "first deploy: nothing serves $live yet, deploying onto it"
else
    target="$(other_slot "$live")"; old="$live"
fi
log "switch to build $build: live=${live:-none} (build ${live_build:-?}) -> target=$target, mode=$MODE"

started=0      # we started the target: stop it on failure
swapped=0      # include rewritten: restore it on failure
done_ok=0
backup="$STATE_DIR/upstream.prev"

rollback_swap() {
    log "ROLLBACK: restoring the previous upstream include"
    if [[ -f "$backup" ]]; then
        local tmp
        tmp="$(mktemp "$(dirname "$UPSTREAM_FILE")/.live.conf.XXXXXX")"
        cp "$backup" "$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$UPSTREAM_FILE"
    else
        rm -f "$UPSTREAM_FILE"
    fi
    if nginx_test && nginx_reload; then
        log "ROLLBACK: nginx reloaded with ${old:-the previous include}"
    else
        log "ROLLBACK: nginx test/reload FAILED; fix by hand (include $UPSTREAM_FILE)"
    fi
}

on_exit() {
    local rc=$?
    if ((done_ok == 0)); then
        ((swapped)) && rollback_swap
        if ((started)); then
            # After a reload, requests may be in flight on the new slot: drain it like an old slot.
            ((swapped)) && drain "$target"
            log "stopping the $target slot started by this switch"
            stop_slot "$target" || true
        fi
        ((rc == 0)) && rc=1
        log "FAILED (exit $rc); live slot ${old:-none} unchanged"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

fail() { log "FAILED: $*"; exit 1; }

# --- 1. start the target slot ----------------------------------------------------------------------
reuse=0
if slot_running "$target"; then
    v="$(curl -fsS --max-time 3 "$(slot_url "$target")/version" 2>/dev/null)"
    if [[ "$(json_field build "$v")" == "$build" && "$(json_field slot "$v")" == "$target" ]] \
        && curl -fsS --max-time 3 "$(slot_url "$target")/readyz" >/dev/null 2>&1; then
        log "$target already runs build $build and is ready (kept by --keep-old): reusing it"
        reuse=1
    else
        log "$target runs something else (${v:-no /version}): stopping it first"
        stop_slot "$target" || fail "could not stop the stale $target"
    fi
fi
if ((reuse == 0)); then
    started=1
    start_slot "$target" "$build" || fail "could not start $target"
    wait_ready "$target" "$READY_TIMEOUT" || fail "$target did not become ready (readyz) within ${READY_TIMEOUT}s"
fi

# --- 2. smoke it directly ----------------------------------------------------------------------------
log "smoke test $(slot_url "$target") (expect slot=$target build=$build)"
"$DEPLOY_ROOT/scripts/smoke.sh" "$(slot_url "$target")" "$target" "$build" 9>&- \
    || fail "smoke test of $target failed"

# --- 3. swap the include atomically, test, reload ---------------------------------------------------
if [[ -f "$UPSTREAM_FILE" ]]; then cp "$UPSTREAM_FILE" "$backup"; else rm -f "$backup"; fi
mkdir -p "$(dirname "$UPSTREAM_FILE")"
swapped=1
write_upstream "$target" "$build"
log "include now names $target ($(upstream_addr "$target")); nginx -t"
nginx_test || fail "nginx -t rejected the new config"
nginx_reload 9>&- || fail "nginx -s reload failed"
log "nginx reloaded"

# --- 4. confirm through nginx -----------------------------------------------------------------------
confirmed=0
for ((i = 1; i <= CONFIRM_TRIES; i++)); do
    v="$(curl -sS --max-time 5 "${NGINX_CURL[@]}" "$NGINX_URL/version" 2>&1)"
    if [[ "$(json_field slot "$v")" == "$target" && "$(json_field build "$v")" == "$build" ]]; then
        confirmed=1
        break
    fi
    log "confirm $i/$CONFIRM_TRIES: nginx answers ${v:0:200}"
    sleep 0.5
done
((confirmed)) || fail "nginx ($NGINX_URL) does not route to $target/$build"
log "confirmed through nginx: $NGINX_URL/version -> slot=$target build=$build"

# The switch is done: from here on nothing rolls back.
state_write "$target" "$build" "${old:-}" "${live_build:-}"
done_ok=1

# --- 5. drain and stop the old slot -----------------------------------------------------------------
if [[ -n "$old" ]]; then
    if ((keep_old)); then
        log "--keep-old: $old (build ${live_build:-?}) keeps running for a fast rollback"
    else
        drain "$old"
        stop_slot "$old" || log "warning: could not stop $old"
    fi
fi
log "DONE: live slot $target, build $build (previous: ${old:-none} ${live_build:-})"
exit 0
