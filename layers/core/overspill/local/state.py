"""Local state that survives a restart of ``overspill dev``: the tables' items, the pepper and the admin
password, in files under the state directory. (moto keeps everything in memory; this is the local run's disk.)"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from overspill.aws import client
from overspill.config import Settings
from overspill.store.schema import all_table_specs

PEPPER_FILE = "pepper"
TABLES_FILE = "tables.json"
DEMO_KEY_FILE = "demo-access-key"
# The generated admin password's file (moto forgets the user pool on every restart). A file name, not a password.
ADMIN_PASSWORD_FILE = "admin-password"  # nosec B105
CONFIG_FILE = "config.json"     # the dashboard's and the CLI's runtime config, as served at /config.json
RUNTIME_FILE = "runtime.json"   # the running instance's settings, for the other local commands


class LocalState:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)  # holds the pepper, the demo key and the admin password

    def read(self, name: str) -> str | None:
        path = self.directory / name
        return path.read_text().strip() if path.exists() else None

    def write_secret(self, name: str, value: str) -> None:
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")

    def write(self, name: str, value: str) -> None:
        """A file that is no secret, replaced whole: a reader never sees half of it."""
        temporary = self.directory / (name + ".tmp")
        temporary.write_text(value)
        temporary.replace(self.directory / name)

    def write_runtime(self, settings: Settings, *, pid: int) -> None:
        document = {"pid": pid, "environment": settings.as_env()}
        self.write_secret(RUNTIME_FILE, orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())

    def read_runtime(self) -> dict | None:
        text = self.read(RUNTIME_FILE)
        return orjson.loads(text) if text else None

    def clear_runtime(self) -> None:
        (self.directory / RUNTIME_FILE).unlink(missing_ok=True)

    def save_tables(self, settings: Settings) -> int:
        """Write every table's items (DynamoDB JSON); returns how many items were saved. Written a scan page at a
        time: a save holds one page of items in memory, not every table whole (the usage table grows all day)."""
        dynamodb = client("dynamodb", settings)
        temporary = self.directory / (TABLES_FILE + ".tmp")
        saved = 0
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(b"{")
            for index, spec in enumerate(all_table_specs()):
                out.write((b"," if index else b"") + orjson.dumps(spec.settings_field) + b":[")
                in_table = 0
                for page in dynamodb.get_paginator("scan").paginate(TableName=getattr(settings, spec.settings_field)):
                    if page["Items"]:
                        out.write((b"," if in_table else b"") + b",".join(orjson.dumps(item) for item in page["Items"]))
                        in_table += len(page["Items"])
                out.write(b"]")
                saved += in_table
            out.write(b"}")
        os.chmod(temporary, 0o600)
        temporary.replace(self.directory / TABLES_FILE)  # atomic: a crash never leaves half a snapshot
        return saved

    def restore_tables(self, settings: Settings) -> int:
        path = self.directory / TABLES_FILE
        if not path.exists():
            return 0
        snapshot = orjson.loads(path.read_bytes())
        dynamodb = client("dynamodb", settings)
        restored = 0
        for spec in all_table_specs():
            for item in snapshot.get(spec.settings_field, []):
                dynamodb.put_item(TableName=getattr(settings, spec.settings_field), Item=item)
                restored += 1
        return restored
