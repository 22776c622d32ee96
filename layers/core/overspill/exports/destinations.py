"""Where export files are written: the exports bucket, and (for ``overspill export --out``) a local directory
with the same layout."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

from overspill.aws import client
from overspill.config import Settings


class Destination(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def describe(self) -> str: ...


class ExportsBucket:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.exports_bucket
        self._s3: Any = client("s3", settings)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        # S3 checks the body against our SHA-256 (the manifest's own), so a torn upload is refused, not stored.
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())

    def describe(self) -> str:
        return f"s3://{self.bucket}/"


class LocalDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self.root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Replace atomically: a reader never sees half a file, and an interrupted run leaves the old one.
        temporary = path.with_name(path.name + ".partial")
        temporary.write_bytes(body)
        os.replace(temporary, path)

    def describe(self) -> str:
        return f"{self.root}{os.sep}"
