"""Upstreams: Anthropic (the developer's plan) and, later, Bedrock — one small interface (``base``)."""
