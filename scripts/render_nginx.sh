#!/usr/bin/env bash
# Render nginx/nginx.conf.template into a concrete nginx.conf.
#
#   scripts/render_nginx.sh OUT_FILE
#
# Only the ${NGINX_*} placeholders below are substituted (envsubst with an explicit list), so
# nginx's own $variables stay. Every placeholder has a production default; override by env, e.g.
#   NGINX_HTTPS_LISTEN=127.0.0.1:18443 NGINX_HTTP_LISTEN=127.0.0.1:18080 NGINX_HTTPS_PORT_SUFFIX=:18443 ...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: render_nginx.sh OUT_FILE}"
template="${NGINX_TEMPLATE:-$ROOT/nginx/nginx.conf.template}"

export NGINX_WORKER_PROCESSES="${NGINX_WORKER_PROCESSES:-auto}"
export NGINX_RUN_DIR="${NGINX_RUN_DIR:-/run}"
export NGINX_LOG_DIR="${NGINX_LOG_DIR:-/var/log/nginx}"
export NGINX_TEMP_DIR="${NGINX_TEMP_DIR:-/var/lib/nginx}"
export NGINX_UPSTREAM_FILE="${NGINX_UPSTREAM_FILE:-$ROOT/nginx/upstreams/live.conf}"
export NGINX_HTTP_LISTEN="${NGINX_HTTP_LISTEN:-80}"
export NGINX_HTTPS_LISTEN="${NGINX_HTTPS_LISTEN:-443}"
export NGINX_HTTPS_PORT_SUFFIX="${NGINX_HTTPS_PORT_SUFFIX:-}"   # ":18443" when HTTPS is not on 443
export NGINX_STATUS_LISTEN="${NGINX_STATUS_LISTEN:-127.0.0.1:8080}"   # stub_status for the exporter
export NGINX_SERVER_NAME="${NGINX_SERVER_NAME:-_}"
export NGINX_TLS_CERT="${NGINX_TLS_CERT:-/etc/nginx/tls/loglens.crt}"
export NGINX_TLS_KEY="${NGINX_TLS_KEY:-/etc/nginx/tls/loglens.key}"

command -v envsubst >/dev/null || { echo "render_nginx.sh: envsubst missing (apt-get install gettext-base)" >&2; exit 1; }
# shellcheck disable=SC2016  # literal names for envsubst, not expansions
vars='${NGINX_WORKER_PROCESSES} ${NGINX_RUN_DIR} ${NGINX_LOG_DIR} ${NGINX_TEMP_DIR} ${NGINX_UPSTREAM_FILE}
${NGINX_HTTP_LISTEN} ${NGINX_HTTPS_LISTEN} ${NGINX_HTTPS_PORT_SUFFIX} ${NGINX_STATUS_LISTEN} ${NGINX_SERVER_NAME} ${NGINX_TLS_CERT} ${NGINX_TLS_KEY}'
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
envsubst "$vars" <"$template" >"$tmp"
mv -f "$tmp" "$out"
for d in "$NGINX_TEMP_DIR" "$NGINX_LOG_DIR" "$NGINX_RUN_DIR"; do mkdir -p "$d"; done
echo "rendered $out (https ${NGINX_HTTPS_LISTEN}, http ${NGINX_HTTP_LISTEN}, upstream include ${NGINX_UPSTREAM_FILE})"
