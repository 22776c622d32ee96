"""Run-time settings admins change (price overrides, model mappings): one versioned JSON document per name.

Each document carries a version (1 after the first write, one more with each write), so that two admins
editing at once cannot overwrite each other unseen: ``replace`` writes only over the version its caller read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pynamodb.exceptions import DoesNotExist, PutError

from overspill.store.models import ConfigModel

PRICE_OVERRIDES = "price_overrides"   # {"models": {...overrides...}, "bedrock_multipliers": {...}}
MODEL_MAP = "bedrock_model_map"       # {"<requested model>": "<Bedrock model id, inference-profile id or ARN>"}

_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True, slots=True)
class ConfigDocument:
    name: str
    value: Any | None             # None: never written
    version: int                  # 0: never written
    updated_at: datetime | None
    updated_by: str | None


class StaleVersion(Exception):
    """The document changed since the caller read it (or was created, or never existed)."""

    def __init__(self, name: str, expected: int, current: int) -> None:
        super().__init__(f"{name} is at version {current}, not {expected}")
        self.name, self.expected, self.current = name, expected, current


class ConfigRepository:
    def get(self, name: str) -> Any | None:
        """The document, numbers as they were written (money is written as text), or None."""
        try:
            return orjson.loads(ConfigModel.get(name).value)
        except DoesNotExist:
            return None

    def read(self, name: str) -> ConfigDocument:
        """The document with its version and who last wrote it (version 0 and no value if never written)."""
        try:
            item = ConfigModel.get(name, consistent_read=True)
        except DoesNotExist:
            return ConfigDocument(name, None, 0, None, None)
        return ConfigDocument(name, orjson.loads(item.value), int(item.version or 0), item.updated_at,
                              item.updated_by)

    def replace(self, name: str, value: Any, *, expected_version: int, updated_by: str | None) -> ConfigDocument:
        """Write ``value`` if the stored version is still ``expected_version`` (0: not written yet); raises
        StaleVersion otherwise, leaving the document as it was."""
        item = ConfigModel(name, value=orjson.dumps(value).decode(), updated_at=datetime.now(UTC),
                           updated_by=updated_by)
        # pynamodb's VersionAttribute turns this into the condition "version = n" (unset: "no item yet").
        if expected_version:
            item.version = expected_version
        try:
            item.save()
        except PutError as error:
            if error.cause_response_code != _CONDITION_FAILED:
                raise
            raise StaleVersion(name, expected_version, self.read(name).version) from None
        return ConfigDocument(name, value, int(item.version), item.updated_at, updated_by)

    def put(self, name: str, value: Any, *, updated_by: str | None = None) -> None:
        """Write unconditionally (tests, and hand edits of a local run)."""
        now = datetime.now(UTC)
        try:
            item = ConfigModel.get(name)
        except DoesNotExist:
            item = ConfigModel(name)
        item.value = orjson.dumps(value).decode()
        item.updated_at, item.updated_by = now, updated_by
        item.save()
