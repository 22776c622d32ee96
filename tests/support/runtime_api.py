"""A Lambda Runtime API on loopback that records streamed responses as they arrive (PROTOCOL.md §5).

AWS's Runtime Interface Emulator has no streaming endpoint, so this is the fixture the streaming runtime is
tested against: `/next` hands out queued events, `/response` reads the chunked body itself (raw bytes, the
arrival time of every chunk, trailers) and checks the streaming headers, `/error` and `/init/error` record
what the runtime reported.
Times are `time.monotonic()`, which on Linux is one clock for every process, so a handler subprocess can write
timestamps that tests compare with these.
"""

import base64
import itertools
import json
import queue
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = "/2018-06-01/runtime"
DELIMITER = b"\0" * 8
DEFAULT_ARN = "arn:aws:lambda:us-east-1:123456789012:function:streaming-test"
REQUIRED_STREAM_HEADERS = {
    "lambda-runtime-function-response-mode": "streaming",
    "transfer-encoding": "chunked",
    "content-type": "application/vnd.awslambda.http-integration-response",
}
TRAILER_NAMES = {"lambda-runtime-function-error-type", "lambda-runtime-function-error-body"}


@dataclass
class Chunk:
    at: float
    data: bytes


@dataclass
class Exchange:
    """One invocation: the event handed out and whatever the runtime sent back for its request id."""

    request_id: str
    event_body: bytes
    next_headers: dict[str, str]
    drop_after_chunks: int | None = None
    delivered_at: float | None = None
    kind: str | None = None  # "response" or "error"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""  # the request body exactly as it came off the socket (chunk framing, trailers)
    chunks: list[Chunk] = field(default_factory=list)
    trailers: dict[str, str] = field(default_factory=dict)
    error_body: bytes = b""
    problems: list[str] = field(default_factory=list)
    dropped: bool = False
    ended_at: float | None = None  # the last chunk (and trailers) arrived
    answered_at: float | None = None  # just before the emulator answered the POST
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _done: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(c.data for c in self.chunks)

    @property
    def prelude(self) -> dict:
        head, delimiter, _ = self.body.partition(DELIMITER)
        assert delimiter, f"no 8-NUL delimiter in {self.body[:200]!r}"
        return json.loads(head)

    @property
    def payload(self) -> bytes:
        return self.body.partition(DELIMITER)[2]

    @property
    def error(self) -> dict:
        """The error the runtime reported: the /error body, or the decoded Error-Body trailer."""
        if self.kind == "error":
            return json.loads(self.error_body)
        encoded = self.trailers["lambda-runtime-function-error-body"]
        return json.loads(base64.b64decode(encoded, validate=True))

    def wait(self, timeout: float = 5.0) -> "Exchange":
        return self.wait_for(lambda ex: ex._done, timeout, "the runtime to finish answering")

    def wait_for(
        self, predicate: Callable[["Exchange"], bool], timeout: float = 5.0, what: str = ""
    ) -> "Exchange":
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"timed out waiting for {what or predicate}: {self!r}")
        return self

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the lock while the server thread records something, then wake the waiting tests."""
        with self._changed:
            yield
            self._changed.notify_all()


@dataclass
class InitError:
    headers: dict[str, str]
    body: dict


class RuntimeApiEmulator:
    """`with RuntimeApiEmulator() as api: api.invoke({...}).wait()`.

    Point the runtime's AWS_LAMBDA_RUNTIME_API at `api.address`.
    """

    def __init__(self) -> None:
        self._pending: queue.Queue[Exchange | None] = queue.Queue()
        self._lock = threading.Lock()
        self.exchanges: dict[str, Exchange] = {}
        self.init_errors: list[InitError] = []
        self.next_clients: list[tuple[str, int]] = []  # peer address of every /next: shows connection reuse
        # Close the connection after answering /next, without saying so: the runtime finds it stale on reuse.
        self.drop_next_connections = False
        self._init_error_seen = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counter = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> "RuntimeApiEmulator":
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        self._server = server
        # A short poll interval: stop() waits for the serve loop to notice, and every test stops one.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="runtime-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for _ in range(8):
            self._pending.put(None)  # release /next requests still waiting
        self._server = None

    def __enter__(self) -> "RuntimeApiEmulator":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    # -- what tests call ------------------------------------------------------------------------------

    def invoke(
        self,
        event: object = None,
        *,
        raw_event: bytes | None = None,
        request_id: str | None = None,
        deadline_ms: int | None = None,
        trace_id: str | None = None,
        function_arn: str = DEFAULT_ARN,
        client_context: dict | None = None,
        cognito_identity: dict | None = None,
        tenant_id: str | None = None,
        drop_after_chunks: int | None = None,
    ) -> Exchange:
        """Queue an event for the next /next; returns its Exchange to wait on.

        drop_after_chunks: close the /response connection after that many body chunks, as Lambda does when a
        stream is cut off.
        """
        request_id = request_id or f"req-{next(self._counter)}-{uuid.uuid4().hex[:8]}"
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms or int(time.time() * 1000) + 30_000),
            "Lambda-Runtime-Invoked-Function-Arn": function_arn,
        }
        if trace_id:
            headers["Lambda-Runtime-Trace-Id"] = trace_id
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = json.dumps(client_context)
        if cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = json.dumps(cognito_identity)
        if tenant_id:
            headers["Lambda-Runtime-Aws-Tenant-Id"] = tenant_id
        body = raw_event if raw_event is not None else json.dumps(event).encode()
        exchange = Exchange(request_id, body, headers, drop_after_chunks)
        with self._lock:
            self.exchanges[request_id] = exchange
        self._pending.put(exchange)
        return exchange

    def wait_init_error(self, timeout: float = 5.0) -> InitError:
        if not self._init_error_seen.wait(timeout):
            raise AssertionError("timed out waiting for POST /runtime/init/error")
        return self.init_errors[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a runtime parked in /next must not hold up stop()
    emulator: RuntimeApiEmulator

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a runtime killed mid-request is expected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # PROTOCOL §6: small writes otherwise stall ~40 ms
    server: _Server

    @property
    def emulator(self) -> RuntimeApiEmulator:
        return self.server.emulator

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        if self.path != f"{BASE}/invocation/next":
            return self._answer(404, {"errorMessage": f"unknown path {self.path}"})
        self.emulator.next_clients.append(self.client_address[:2])
        exchange = self.emulator._pending.get()
        if exchange is None:  # stop(): the runtime waiting here is gone or about to be
            self.close_connection = True
            return None
        with exchange._changing():
            exchange.delivered_at = time.monotonic()
        self.send_response(200)
        for name, value in exchange.next_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(exchange.event_body)))
        self.end_headers()
        self.wfile.write(exchange.event_body)
        if self.emulator.drop_next_connections:
            self.wfile.flush()
            self.close_connection = True

    def do_POST(self) -> None:
        if self.path == f"{BASE}/init/error":
            return self._init_error()
        prefix = f"{BASE}/invocation/"
        request_id, _, action = self.path.removeprefix(prefix).partition("/")
        exchange = self.emulator.exchanges.get(request_id)
        if not self.path.startswith(prefix) or exchange is None or action not in ("response", "error"):
            self._read_sized_body()
            return self._answer(404, {"errorMessage": f"unknown invocation path {self.path}"})
        headers = {name.lower(): value for name, value in self.headers.items()}
        with exchange._changing():
            exchange.kind = action
            exchange.headers = headers
        if action == "response":
            self._check_stream_headers(exchange, headers)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            if not self._read_chunked(exchange):
                return
        else:
            body = self._read_sized_body()
            with exchange._changing():
                exchange.error_body = body
        self._finish(exchange)

    # -- helpers --------------------------------------------------------------------------------------

    def _check_stream_headers(self, exchange: Exchange, headers: dict[str, str]) -> None:
        problems = [
            f"{name}: expected {want!r}, got {headers.get(name)!r}"
            for name, want in REQUIRED_STREAM_HEADERS.items()
            if headers.get(name, "").lower() != want
        ]
        declared = {t.strip().lower() for t in headers.get("trailer", "").split(",") if t.strip()}
        if declared != TRAILER_NAMES:
            problems.append(f"trailer: expected {sorted(TRAILER_NAMES)}, got {headers.get('trailer')!r}")
        with exchange._changing():
            exchange.problems.extend(problems)

    def _read_chunked(self, exchange: Exchange) -> bool:
        """Read the body chunk by chunk, recording each as it arrives. False if the connection was dropped."""
        raw = bytearray()
        problems = []

        def line() -> bytes:
            data = self.rfile.readline(65537)
            if not data.endswith(b"\n"):
                raise ConnectionError("runtime closed the connection mid-body")
            if not data.endswith(b"\r\n"):
                problems.append(f"line without CRLF: {data!r}")
            raw.extend(data)
            return data

        try:
            while size := int(line().split(b";", 1)[0], 16):
                data = self.rfile.read(size)
                raw.extend(data)
                if len(data) < size:
                    raise ConnectionError("runtime closed the connection mid-chunk")
                if line() != b"\r\n":
                    problems.append("chunk data not followed by CRLF")
                with exchange._changing():
                    exchange.chunks.append(Chunk(time.monotonic(), data))
                    exchange.raw = bytes(raw)
                limit = exchange.drop_after_chunks
                if limit is not None and len(exchange.chunks) >= limit:
                    self._drop(exchange, problems)
                    return False
            trailers = {}
            while (trailer := line()) != b"\r\n":
                name, sep, value = trailer.decode("latin-1").rstrip("\r\n").partition(":")
                if not sep:
                    problems.append(f"malformed trailer line {trailer!r}")
                trailers[name.strip().lower()] = value.strip()
        except (ConnectionError, ValueError) as exc:
            problems.append(f"broken chunked body: {exc}")
            self._drop(exchange, problems)
            return False
        with exchange._changing():
            exchange.trailers.update(trailers)
            exchange.raw = bytes(raw)
            exchange.problems.extend(problems)
            exchange.ended_at = time.monotonic()
        return True

    def _drop(self, exchange: Exchange, problems: list[str]) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        with exchange._changing():
            exchange.problems.extend(problems)
            exchange.dropped = True
            exchange._done = True

    def _finish(self, exchange: Exchange) -> None:
        with exchange._changing():
            exchange.answered_at = time.monotonic()
        self._answer(202, {"status": "OK"})
        with exchange._changing():
            exchange._done = True

    def _init_error(self) -> None:
        body = self._read_sized_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.emulator.init_errors.append(InitError(headers, json.loads(body)))
        self._answer(202, {"status": "OK"})
        self.emulator._init_error_seen.set()

    def _read_sized_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
