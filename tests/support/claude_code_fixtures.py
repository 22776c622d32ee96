"""Real Claude Code requests (sanitised), copied from shared/fixtures/claude-code into tests/fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"


@dataclass(frozen=True)
class RecordedClaudeCodeRequest:
    name: str
    method: str
    path: str                 # as Claude Code sent it, /ak/<key>/v1/messages?beta=true
    headers: dict[str, str]
    body: bytes               # compact JSON, as Claude Code serialises it

    def path_for_key(self, key: str) -> str:
        return self.path.replace("/ak/testkey", f"/ak/{key}", 1)

    @property
    def streams(self) -> bool:
        return json.loads(self.body).get("stream") is True


def load_all() -> list[RecordedClaudeCodeRequest]:
    fixtures = []
    for path in sorted(FIXTURE_DIR.glob("*.json")):
        raw = json.loads(path.read_text())
        body = json.dumps(raw["body"], separators=(",", ":"), ensure_ascii=False).encode()
        fixtures.append(RecordedClaudeCodeRequest(path.stem, raw["method"], raw["path"], raw["headers"], body))
    if not fixtures:
        raise FileNotFoundError(f"no Claude Code fixtures in {FIXTURE_DIR}")
    return fixtures
