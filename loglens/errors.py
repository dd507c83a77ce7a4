"""One exception tree for LogLens. Each error says whether retrying may help."""

from __future__ import annotations


class LogLensError(Exception):
    """Base of every LogLens error."""

    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retriable is not None:
            self.retriable = retriable


class ConfigError(LogLensError):
    """A setting is missing or wrong; fix the configuration."""


class DependencyUnavailable(LogLensError):
    """Kafka, OpenSearch or the LLM cannot be reached right now."""

    retriable = True

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message, retriable=True)
        self.dependency = dependency


class BadEvent(LogLensError):
    """A record cannot be turned into a log event; it goes to the dead-letter topic."""

    def __init__(self, stage: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.reason = reason


class IndexingError(LogLensError):
    """A bulk item failed; ``retriable`` tells whether a retry may succeed."""
