"""Finding secrets in captured logs: every access key, credential, password, token, pepper and prompt text a test
suite made or sent is registered, every process's output is captured to a file, and the files are scanned for any
of them. Only an access key's display prefix may appear (what the product logs to tell keys apart).

A secret counts as leaked when a log holds any run of ``CREDENTIAL_WINDOW`` consecutive characters of it (so a key
cut short or split still counts) outside its visible prefix; texts (prompts, completions) count when a log holds any
``TEXT_WINDOW`` consecutive characters of one of its lines. Each is looked for as written, JSON-escaped (once or
twice) and URL-encoded.
Reports name the file, line and kind of secret, never the secret itself.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

CREDENTIAL_WINDOW = 12
TEXT_WINDOW = 32
# Shorter values cannot be looked for without matching ordinary text; registering one is refused.
MIN_SECRET_CHARS = 8
MIN_TEXT_CHARS = 12
TEXT_KINDS = frozenset({"prompt", "completion"})
_SYSTEM_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_REPLY_WITH = re.compile(r"reply with:[ \t]*([^\r\n]*)", re.IGNORECASE)  # what the fake upstreams answer


@dataclass(frozen=True)
class Secret:
    kind: str                 # "access key", "password", "prompt", …
    value: str
    visible_prefix: int = 0   # leading characters a log may show (an access key's display prefix)

    def needles(self, public: Iterable[str] = ()) -> set[str]:
        """The substrings whose presence in a log means this secret leaked. A text is looked for line by line (a
        log line cannot hold a raw newline), around the paths under a ``public`` directory it holds (its working
        directory, beside the state directories logs name)."""
        if self.kind in TEXT_KINDS:
            window, visible, text = TEXT_WINDOW, "", self.value
            for directory in public:
                text = re.sub(re.escape(directory) + r"[^\s\"'()]*", "\n", text)
            pieces = [line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_TEXT_CHARS]
        else:
            window, visible, pieces = CREDENTIAL_WINDOW, self.value[:self.visible_prefix], [self.value]
        found: set[str] = set()
        for piece in pieces:
            for encode in _ENCODINGS:
                written, prefix = encode(piece), encode(visible)
                if len(written) <= window:
                    if len(written) > len(prefix):
                        found.add(written)
                    continue
                found.update(written[start:start + window] for start in range(len(written) - window + 1)
                             if start + window > len(prefix))
        return found

    def describe(self) -> str:
        return f"{self.kind} ({len(self.value)} characters)"


def _raw(text: str) -> str:
    return text


def _json_escaped(text: str) -> str:
    return json.dumps(text)[1:-1]


def _url_encoded(text: str) -> str:
    return quote(text, safe="")


def _form_encoded(text: str) -> str:
    return quote_plus(text, safe="")


def _json_escaped_twice(text: str) -> str:
    """A JSON body logged as a string inside a JSON log line."""
    return _json_escaped(_json_escaped(text))


_ENCODINGS = (_raw, _json_escaped, _json_escaped_twice, _url_encoded, _form_encoded)


@dataclass(frozen=True)
class Leak:
    source: str
    line: int
    secret: Secret
    registered_by: str = ""

    def __str__(self) -> str:
        origin = f", registered by {self.registered_by}" if self.registered_by else ""
        return f"{self.source}:{self.line}: {self.secret.describe()}{origin}"


class Matcher:
    """Every needle of a set of secrets, by length: a line is checked window by window against a set per length,
    so the cost grows with the log, not with the number of secrets."""

    def __init__(self, secrets: Iterable[Secret], public: Iterable[str] = ()) -> None:
        self.by_length: dict[int, dict[str, list[Secret]]] = {}
        public = sorted(public, key=len, reverse=True)
        for secret in secrets:
            for needle in secret.needles(public):
                self.by_length.setdefault(len(needle), {}).setdefault(needle, []).append(secret)

    def secrets_in(self, line: str) -> set[Secret]:
        found: set[Secret] = set()
        for length, needles in self.by_length.items():
            for start in range(len(line) - length + 1):
                hit = needles.get(line[start:start + length])
                if hit:
                    found.update(hit)
        return found


def find_leaks(lines: Iterable[str], matcher: Matcher, *, source: str, first_line: int = 1,
               shown_once: Counter[str] | None = None, origins: dict[Secret, str] | None = None) -> list[Leak]:
    """Every registered secret the lines hold, one report per secret and line. ``shown_once``: exact lines the
    product prints on purpose (the banner's key and password), each allowed as many times as counted (consumed)."""
    leaks: list[Leak] = []
    for number, line in enumerate(lines, start=first_line):
        if shown_once and shown_once[line.strip()] > 0:
            shown_once[line.strip()] -= 1
            continue
        leaks.extend(Leak(source, number, secret, (origins or {}).get(secret, ""))
                     for secret in matcher.secrets_in(line))
    return sorted(leaks, key=lambda leak: (leak.line, leak.secret.kind))


def scan_text(text: str, secrets: Iterable[Secret], *, source: str = "log", shown_once: Iterable[str] = (),
              public: Iterable[str] = ()) -> list[Leak]:
    """One text against some secrets (what the session scan does per file)."""
    return find_leaks(text.splitlines(), Matcher(secrets, public), source=source,
                      shown_once=Counter(line.strip() for line in shown_once))


@dataclass
class CapturedLog:
    """One process's output in a file. ``shown_once``: lines it prints on purpose, each allowed once.
    ``scanned_to``/``lines_scanned``: how far the scans after each test have read (whole lines only)."""

    path: Path
    label: str
    shown_once: list[str] = field(default_factory=list)
    scanned_to: int = 0
    lines_scanned: int = 0
    allowance: Counter[str] = field(default_factory=Counter)

    def text(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""


class SecretRegistry:
    """What a test session must never find in its logs, and the logs to look in. Thread-safe: the fake upstreams
    register what they receive from their handler threads."""

    def __init__(self) -> None:
        self.log_dir: Path | None = None   # where the session writes the output it captures
        self.log_numbers = count(1)
        self._lock = threading.Lock()
        self._secrets: dict[Secret, str] = {}   # secret → the test that registered it first
        self._logs: dict[Path, CapturedLog] = {}
        self._public: set[str] = set()
        self._matcher: tuple[tuple[int, int], Matcher] | None = None
        self.current_test = ""

    # ---- secrets --------------------------------------------------------------------------------------------

    def add(self, kind: str, value: str, *, visible_prefix: int = 0) -> None:
        if len(value) < MIN_SECRET_CHARS:
            raise ValueError(f"a {kind} of {len(value)} characters cannot be scanned for: use at least "
                             f"{MIN_SECRET_CHARS}")
        self._remember(Secret(kind, value, visible_prefix))

    def add_text(self, kind: str, text: str) -> bool:
        """A prompt or completion; texts too short to look for are skipped (False)."""
        text = text.strip()
        if len(text) < MIN_TEXT_CHARS:
            return False
        self._remember(Secret(kind, text))
        return True

    def add_request(self, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        """What a fake upstream received: the caller's credential and the conversation's texts."""
        for name, value in headers:
            name = name.lower()
            if name == "x-api-key" or (name == "authorization" and value.lower().startswith("bearer ")):
                credential = (value.split(" ", 1)[1] if name == "authorization" else value).strip()
                if len(credential) >= MIN_SECRET_CHARS:
                    self.add("upstream credential", credential)
        for kind, text in conversation_texts(body):
            self.add_text(kind, text)

    def add_public_directory(self, directory: str) -> None:
        """A directory whose paths logs may name and prompts hold too (the session's temporary directory: Claude
        Code tells the model its working directory): those paths are not part of what is looked for in a text."""
        with self._lock:
            self._public.add(directory)

    def _remember(self, secret: Secret) -> None:
        with self._lock:
            self._secrets.setdefault(secret, self.current_test)

    def secrets(self) -> dict[Secret, str]:
        with self._lock:
            return dict(self._secrets)

    def _current_matcher(self) -> tuple[Matcher, dict[Secret, str]]:
        secrets = self.secrets()
        with self._lock:
            public = set(self._public)
        if self._matcher is None or self._matcher[0] != (len(secrets), len(public)):
            self._matcher = ((len(secrets), len(public)), Matcher(secrets, public))
        return self._matcher[1], secrets

    # ---- logs -----------------------------------------------------------------------------------------------

    def capture(self, path: Path, label: str, shown_once: Iterable[str] = ()) -> CapturedLog:
        with self._lock:
            log = self._logs.setdefault(path, CapturedLog(path, label))
            for line in shown_once:
                log.shown_once.append(line.strip())
                log.allowance[line.strip()] += 1
            return log

    def logs(self) -> list[CapturedLog]:
        with self._lock:
            return list(self._logs.values())

    def scan_new(self) -> list[Leak]:
        """The whole lines written to each captured log since the last call, against every secret registered so
        far (run after each test: a leak is reported with the test that caused it)."""
        matcher, origins = self._current_matcher()
        leaks: list[Leak] = []
        for log in self.logs():
            text = log.text()
            end = text.rfind("\n", log.scanned_to) + 1
            if end <= log.scanned_to:
                continue
            lines = text[log.scanned_to:end].splitlines()
            leaks += find_leaks(lines, matcher, source=f"{log.path} ({log.label})",
                                first_line=log.lines_scanned + 1, shown_once=log.allowance, origins=origins)
            log.scanned_to, log.lines_scanned = end, log.lines_scanned + len(lines)
        return leaks

    def scan_all(self) -> list[Leak]:
        """Every log in full against every secret (the session's final check: a secret registered late is looked
        for in what was written before)."""
        matcher, origins = self._current_matcher()
        leaks: list[Leak] = []
        for log in self.logs():
            leaks += find_leaks(log.text().splitlines(), matcher, source=f"{log.path} ({log.label})",
                                shown_once=Counter(log.shown_once), origins=origins)
        return leaks


_process_registry = SecretRegistry()


def process_registry() -> SecretRegistry:
    """The one registry of this test process. (pytest imports a conftest.py of a directory without __init__.py
    as ``conftest``, and test modules import it again as ``tests.e2e.conftest``: state kept there would be two.)"""
    return _process_registry


def conversation_texts(body: bytes) -> Iterator[tuple[str, str]]:
    """The human-written texts of a Messages request: user text (Claude Code's <system-reminder> context left
    out: it holds paths that also appear in logs), tool results, assistant text from earlier turns, and what the
    fake upstreams will answer a "reply with: …" prompt. Not the system prompt: the client's, not the user's."""
    try:
        document = json.loads(body)
    except ValueError:
        return
    if isinstance(document, dict) and isinstance(document.get("input"), dict):  # Bedrock CountTokens
        document = _count_tokens_body(document)
    if not isinstance(document, dict):
        return
    for message in document.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        for text in _texts(message.get("content")):
            text = _SYSTEM_REMINDER.sub("", text)
            if not text.strip():
                continue
            if role == "assistant":
                yield "completion", text
                continue
            yield "prompt", text
            for reply in _REPLY_WITH.findall(text):
                yield "completion", reply


def _texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            yield block["text"]
        elif block.get("type") == "tool_result":
            yield from _texts(block.get("content"))


def _count_tokens_body(document: dict) -> Any:
    invoke = document["input"].get("invokeModel") or {}
    try:
        return json.loads(base64.b64decode(invoke.get("body") or ""))
    except ValueError:
        return None
