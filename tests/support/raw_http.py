"""A raw HTTP/1.1 client for abuse tests: it sends exactly the bytes given (CR/LF in a path, ``..`` segments, bytes
that are not UTF-8, absolute-form targets — what an HTTP client library refuses or normalises) and reads the answer."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def request(method: str, target: bytes, body: bytes = b"", headers: tuple[bytes, ...] = (), *,
            framing: bytes | None = None) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: gateway.example",
             b"x-api-key: sk-ant-api03-secret", b"content-type: application/json", b"Connection: close",
             framing if framing is not None else b"content-length: %d" % len(body), *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def send_raw(url: str, data: bytes, *, source: str = "127.0.0.1", timeout: float = 10) -> RawAnswer:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        sock.sendall(data)
        reader = sock.makefile("rb")
        status_line = reader.readline()
        assert status_line.startswith(b"HTTP/1.1 "), status_line  # a real status line, never HTTP/0.9 HTML
        headers: dict[str, str] = {}
        while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = reader.read(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            chunks = []
            while size := int(reader.readline().strip() or b"0", 16):
                chunks.append(reader.read(size))
                reader.readline()
            body = b"".join(chunks)
        else:
            body = reader.read()
    return RawAnswer(int(status_line.split()[1]), headers, body)
