"""OpenSearch client factories: the only module of the core that imports opensearch-py."""

from __future__ import annotations

from typing import Any

from opensearchpy import AsyncOpenSearch, OpenSearch

from loglens.config import Settings


def _common_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "hosts": [settings.opensearch_url],
        "timeout": settings.opensearch_timeout_s,
        "max_retries": 0,  # retries are ours (tenacity / consumer backoff), not hidden in the client
        "retry_on_timeout": False,
    }
    if settings.opensearch_user:
        kwargs["http_auth"] = (settings.opensearch_user, settings.opensearch_password or "")
    if settings.opensearch_url.startswith("https"):
        kwargs["use_ssl"] = True
        kwargs["verify_certs"] = True
        if settings.opensearch_ca_certs is not None:
            kwargs["ca_certs"] = str(settings.opensearch_ca_certs)
    return kwargs


def sync_client(settings: Settings) -> OpenSearch:
    return OpenSearch(**_common_kwargs(settings))


def async_client(settings: Settings) -> AsyncOpenSearch:
    return AsyncOpenSearch(**_common_kwargs(settings))
