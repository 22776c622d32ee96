"""Run-time settings admins change (price overrides, …): one versioned JSON document per name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pynamodb.exceptions import DoesNotExist

from overspill.store.models import ConfigModel

PRICE_OVERRIDES = "price_overrides"   # {"models": {...overrides...}, "bedrock_multipliers": {...}}


class ConfigRepository:
    def get(self, name: str) -> Any | None:
        """The document, numbers as they were written (money is written as text), or None."""
        try:
            return orjson.loads(ConfigModel.get(name).value)
        except DoesNotExist:
            return None

    def put(self, name: str, value: Any, *, updated_by: str | None = None) -> None:
        now = datetime.now(UTC)
        try:
            item = ConfigModel.get(name)
        except DoesNotExist:
            item = ConfigModel(name)
        item.value = orjson.dumps(value).decode()
        item.updated_at, item.updated_by = now, updated_by
        item.save()
