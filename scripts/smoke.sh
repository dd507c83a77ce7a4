#!/usr/bin/env bash
# Smoke-test one AI service base URL (a slot directly, or nginx):
#
#   scripts/smoke.sh BASE_URL [EXPECTED_SLOT] [EXPECTED_BUILD]
#
# Checks: /version reports the expected slot and build (when given), POST /ask answers 200 with JSON,
# and a streamed /ask ends with `event: done`. Exit 0 = all passed; otherwise the reason on stderr.
# Env: SMOKE_QUESTION, SMOKE_TIMEOUT (s per request, default 30), SMOKE_CURL_OPTS (e.g. "-k" or
# "--cacert ca.pem" for https), SMOKE_API_KEY (sent as X-API-Key when the service requires keys).
set -uo pipefail
base="${1:?usage: smoke.sh BASE_URL [EXPECTED_SLOT] [EXPECTED_BUILD]}"
want_slot="${2:-}"
want_build="${3:-}"
question="${SMOKE_QUESTION:-errors in the last hour}"
timeout="${SMOKE_TIMEOUT:-30}"
read -r -a curl_opts <<<"${SMOKE_CURL_OPTS:-}"
# With LOGLENS_API_KEYS set on the service, /ask needs a key: SMOKE_API_KEY (never logged).
[[ -z "${SMOKE_API_KEY:-}" ]] || curl_opts+=(-H "X-API-Key: $SMOKE_API_KEY")

fail() { echo "smoke: FAIL $base: $*" >&2; exit 1; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"; }

version="$(curl -sS --max-time "$timeout" -f "${curl_opts[@]}" "$base/version" 2>&1)" || fail "/version: $version"
slot="$(field slot "$version")"
build="$(field build "$version")"
[[ -z "$want_slot" || "$slot" == "$want_slot" ]] || fail "/version slot '$slot', expected '$want_slot' ($version)"
[[ -z "$want_build" || "$build" == "$want_build" ]] || fail "/version build '$build', expected '$want_build' ($version)"

body="{\"question\": \"$question\"}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
code="$(curl -sS --max-time "$timeout" "${curl_opts[@]}" -o "$out" -w '%{http_code}' \
    -H 'content-type: application/json' -d "$body" "$base/ask" 2>&1)" || fail "POST /ask: $code"
[[ "$code" == 200 ]] || fail "POST /ask answered $code: $(head -c 300 "$out")"

stream="$(curl -sS -N --max-time "$timeout" "${curl_opts[@]}" -H 'content-type: application/json' \
    -d "{\"question\": \"$question\", \"stream\": true}" "$base/ask" 2>&1)" || fail "POST /ask stream: ${stream:0:300}"
grep -q '^event: done' <<<"$stream" || fail "streamed /ask has no 'event: done' (truncated?)"

echo "smoke: ok $base slot=$slot build=$build"
