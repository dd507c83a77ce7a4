"""LogLens shared core: event model, index contracts, embedder port, settings, CLI."""

__version__ = "0.1.0"
