"""DynamoDB storage: pynamodb models (``models``), their table definitions (``schema``) and the
repositories that the rest of the package talks to (``users``, ``access_keys``, ``usage``)."""
