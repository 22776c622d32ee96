"""The Lambda Runtime API over plain HTTP/1.1 sockets.

Not http.client: it cannot send trailers, and importing it (email parser, ssl) adds ~35 ms to each cold
start. The Runtime API is a local, well-behaved server, so the little HTTP needed here is written out.
"""

import json
import socket
import sys

from lambda_streaming import __version__, wire

BASE = "/2018-06-01/runtime"
_USER_AGENT = f"lambda-streaming/{__version__} python/{sys.version_info.major}.{sys.version_info.minor}"
_MAX_LINE = 65536


class RuntimeApiError(Exception):
    """The Runtime API answered a request with an unexpected status."""


class Invocation:
    __slots__ = (
        "body",
        "client_context",
        "cognito_identity",
        "deadline_ms",
        "invoked_function_arn",
        "request_id",
        "tenant_id",
        "trace_id",
    )

    def __init__(self, headers: dict[str, str], body: bytes):
        self.request_id = headers["lambda-runtime-aws-request-id"]
        self.deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn", "")
        self.trace_id = headers.get("lambda-runtime-trace-id")
        self.client_context = headers.get("lambda-runtime-client-context")
        self.cognito_identity = headers.get("lambda-runtime-cognito-identity")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        self.body = body


class Connection:
    """One TCP connection to the Runtime API, with Nagle off: streamed chunks must leave at once."""

    def __init__(self, address: str):
        host, _, port = address.rpartition(":")
        self.host = address
        self._sock = socket.create_connection((host.strip("[]"), int(port)))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = self._sock.makefile("rb")
        self.reusable = True

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        while True:
            status, headers = self._read_head()
            if status >= 200:  # skip 1xx interim responses
                break
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:
            body = self._reader.read()
            self.reusable = False
        if headers.get("connection", "").lower() == "close":
            self.reusable = False
        return status, headers, body

    def close(self) -> None:
        self._reader.close()
        self._sock.close()

    def _read_head(self) -> tuple[int, dict[str, str]]:
        parts = self._readline().split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ConnectionError(f"malformed status line from the Runtime API: {parts!r}")
        headers: dict[str, str] = {}
        while line := self._readline().rstrip(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        return int(parts[1]), headers

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._readline().split(b";", 1)[0], 16):
            parts.append(self._read_exact(size))
            self._readline()
        while self._readline().rstrip(b"\r\n"):
            pass  # trailers: none expected from the Runtime API
        return b"".join(parts)

    def _readline(self) -> bytes:
        line = self._reader.readline(_MAX_LINE)
        if not line.endswith(b"\n"):
            raise ConnectionError("the Runtime API closed the connection")
        return line

    def _read_exact(self, size: int) -> bytes:
        data = self._reader.read(size)
        if len(data) < size:
            raise ConnectionError("the Runtime API closed the connection mid-body")
        return data


def request_head(method: str, path: str, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {_USER_AGENT}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class RuntimeApi:
    """/next and the error endpoints over one kept-alive connection; each streamed response on its own."""

    def __init__(self, address: str):
        self.address = address
        self._conn: Connection | None = None

    def next_invocation(self) -> Invocation:
        status, headers, body = self._call("GET", f"{BASE}/invocation/next")
        if status != 200:
            raise RuntimeApiError(f"GET /invocation/next answered {status}: {body[:200]!r}")
        return Invocation(headers, body)

    def invocation_error(self, request_id: str, error: dict) -> None:
        # The stock Python runtime's header value; the detail is in the body's errorType.
        self._post_error(f"{BASE}/invocation/{request_id}/error", "Unhandled", error)

    def init_error(self, error: dict) -> None:
        self._post_error(f"{BASE}/init/error", error["errorType"], error)

    def open_response(self, request_id: str) -> "ResponseStream":
        return ResponseStream(Connection(self.address), f"{BASE}/invocation/{request_id}/response")

    def _post_error(self, path: str, error_type: str, error: dict) -> None:
        body = json.dumps(error).encode()
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Lambda-Runtime-Function-Error-Type": wire.header_value(error_type),
        }
        status, _, answer = self._call("POST", path, headers, body)
        if status != 202:
            raise RuntimeApiError(f"POST {path} answered {status}: {answer[:200]!r}")

    def _call(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        while True:
            fresh = self._conn is None
            if self._conn is None:
                self._conn = Connection(self.address)
            conn = self._conn
            try:
                conn.send(request_head(method, path, conn.host, headers or {}) + body)
                status, answer_headers, answer = conn.read_response()
            except OSError:
                self._drop()
                if fresh:
                    raise
                continue  # a kept-alive connection went stale: retry once on a new one
            if not conn.reusable:
                self._drop()
            return status, answer_headers, answer

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ResponseStream:
    """POST /response with a chunked body whose framing (and trailers) this class writes itself."""

    def __init__(self, conn: Connection, path: str):
        self._conn = conn
        self._path = path

    def start(self, first: bytes) -> None:
        """Send the request head and the first chunk (the prelude, maybe with the body) in one write."""
        head = request_head(
            "POST",
            self._path,
            self._conn.host,
            {
                "Lambda-Runtime-Function-Response-Mode": "streaming",
                "Transfer-Encoding": "chunked",
                "Content-Type": "application/vnd.awslambda.http-integration-response",
                "Trailer": wire.TRAILER_NAMES,
            },
        )
        self._conn.send(head + wire.chunk(first))

    def write(self, data: bytes) -> None:
        self._conn.send(wire.chunk(data))

    def finish(self, last_chunk: bytes = wire.LAST_CHUNK) -> int:
        """End the body (with trailers if given) and read the Runtime API's answer; returns its status."""
        self._conn.send(last_chunk)
        status, _, _ = self._conn.read_response()
        return status

    def close(self) -> None:
        self._conn.close()
