"""Where export files are written: the exports bucket, and (for ``overspill export --out``) a local directory
with the same layout. The bucket also reads back what was written, for the admin API's exports page."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from overspill.aws import client
from overspill.config import Settings

_MISSING = ("NoSuchKey", "404", "NotFound")


class Destination(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def describe(self) -> str: ...


class ExportsBucket:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.exports_bucket
        self._settings = settings
        self._s3: Any = client("s3", settings)
        self._signer: Any = None

    def put(self, key: str, body: bytes, content_type: str) -> None:
        # S3 checks the body against our SHA-256 (the manifest's own), so a torn upload is refused, not stored.
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())

    def describe(self) -> str:
        return f"s3://{self.bucket}/"

    def keys_between(self, prefix: str, after: str, last: str) -> list[str]:
        """The keys under ``prefix`` that sort after ``after`` and up to ``last``, in order: S3 lists from
        ``after`` on, and listing stops at ``last`` (one request per 1,000 keys of the range, never the prefix)."""
        found: list[str] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix,
                                                                   StartAfter=after)
        for page in pages:
            for item in page.get("Contents", ()):
                if item["Key"] > last:
                    return found
                found.append(item["Key"])
        return found

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def download_url(self, key: str, *, expires_in: int, filename: str) -> str:
        """A pre-signed GET URL for the object, saved by a browser as ``filename``."""
        if self._signer is None:
            # SigV4: buckets created since mid-2020 refuse SigV2 URLs (botocore's default for presigning).
            # The regional virtual-host name needs no redirect outside us-east-1; a local endpoint needs paths.
            style = "path" if self._settings.aws_endpoint_url else "virtual"
            self._signer = client("s3", self._settings, signature_version="s3v4", s3={"addressing_style": style})
        return self._signer.generate_presigned_url(
            "get_object", ExpiresIn=expires_in,
            Params={"Bucket": self.bucket, "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"'})


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
