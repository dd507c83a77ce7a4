"""LogLens AI service: /ask over the indexed logs, health, metrics and the chat page."""
