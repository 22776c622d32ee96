"""A Function URL emulator: HTTP requests → payload-v2.0 events → a handler → a truly streamed response.

It drives handlers through the same contract as ``layers/streaming`` on Lambda — ``handler(event, context)``
returning ``{"statusCode", "headers", "cookies", "body"}`` where ``body`` may be an iterable of bytes whose
``close()`` is called once the response has ended — so one handler serves both unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

Handler = Callable[[dict[str, Any], Any], Any]
Answer = tuple[int, dict[str, str], bytes]  # status, headers, body: a response the server gives itself
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded")
_MAX_REQUEST_BYTES = 64 * 1024 * 1024
# Lambda's quota on "the total combined size of request line and header values" (1 MB). http.server itself refuses
# a header line over 64 KB and more than 100 headers, both with a 431 as well.
_MAX_HEADER_BYTES = 1024 * 1024


@dataclass
class LocalContext:
    """The context object Lambda passes, with the fields handlers (and Powertools) read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    timeout_s: float = 900.0
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionUrlServer(ThreadingHTTPServer):
    """One port for a main function (``handler``) and, optionally, more functions by path prefix and a static
    site. Paths under ``owned_prefixes`` go straight to the main function: its requests pay one prefix check.
    Any other path goes to the function whose prefix it is under (``functions``: ``"/api"`` takes ``/api`` and
    ``/api/…``), else, for GET and HEAD, to ``site`` (an answer for the path, or None to pass), else to the
    main function."""

    daemon_threads = True
    request_queue_size = 256  # bursts of concurrent Claude Code sessions must not be refused

    def __init__(self, address: tuple[str, int], handler: Handler, *, function_name: str = "proxy",
                 extra_routes: dict[str, Callable[[], Answer]] | None = None,
                 owned_prefixes: tuple[str, ...] = (),
                 functions: dict[str, tuple[Handler, str]] | None = None,
                 site: Callable[[str], Answer | None] | None = None) -> None:
        self.handler = handler
        self.function_name = function_name
        self.extra_routes = extra_routes or {}
        self.functions = [(prefix.rstrip("/"), function) for prefix, function in (functions or {}).items()]
        self.site = site
        # Without other functions or a site, every path is the main function's ("" prefixes them all).
        self.owned_prefixes = owned_prefixes if (self.functions or site) else ("",)
        # A body's close() (usage writes) runs here, after its response ended, so that the next request on
        # the same keep-alive connection does not wait for it. On Lambda the instance does the same work
        # before taking its next invocation; a busy instance's next request goes to another one.
        self.after_response = ThreadPoolExecutor(max_workers=16, thread_name_prefix="after-response")
        super().__init__(address, _RequestHandler)

    def server_close(self) -> None:
        super().server_close()
        self.after_response.shutdown(wait=True)  # finish every pending usage write before exiting

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="function-url", daemon=True)
        thread.start()
        return thread


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one SSE event per write must not wait for the peer's delayed ACK
    server: FunctionUrlServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method (QUERY, PROPFIND, …) reaches the handler too, which answers it (405), as on Lambda.
        if name.startswith("do_"):
            return self.do_GET
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # request lines carry access keys in their paths: never print them

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (a request line or headers it cannot parse) would echo the request line — and
        # the access key in it — as an HTML page, or answer without a status line when CR/LF cut the line short.
        # Answer as the Function URL front does instead: its JSON error, the status, nothing of the request.
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._write_buffered(code, {"content-type": "application/json", "connection": "close"}, [],
                             orjson.dumps({"Message": HTTPStatus(code).phrase}))

    def _serve(self) -> None:
        if len(self.requestline) + sum(len(name) + len(value) for name, value in self.headers.items()) \
                > _MAX_HEADER_BYTES:
            self.send_error(431)  # the front refuses it: nothing reaches a function
            return
        path, _, query = _origin_form(self.path).partition("?")
        extra = self.server.extra_routes.get(path)
        if extra is not None:
            status, headers, payload = extra()
            self._write_buffered(status, headers, [], payload)
            return
        if path.startswith(self.server.owned_prefixes):
            self._invoke(self.server.handler, self.server.function_name, path, query)
            return
        self._serve_other(path, query)

    def _serve_other(self, path: str, query: str) -> None:
        for prefix, (handler, function_name) in self.server.functions:
            if path == prefix or path.startswith(prefix + "/"):
                self._invoke(handler, function_name, path, query)
                return
        if self.server.site is not None and self.command in ("GET", "HEAD"):
            answer = self.server.site(path)
            if answer is not None:
                status, headers, payload = answer
                self._write_buffered(status, headers, [], payload)
                return
        self._invoke(self.server.handler, self.server.function_name, path, query)

    def _invoke(self, handler: Handler, function_name: str, path: str, query: str) -> None:
        try:
            body = self._read_body()
        except _TooLarge:
            self.send_error(413)  # as Lambda: an invocation payload over its limit never reaches the function
            return
        except ValueError:
            self.send_error(400)
            return
        event = self._event(path, query, body)
        context = LocalContext(function_name)
        try:
            result = handler(event, context)
        except Exception as error:  # noqa: BLE001 - Function URLs answer 502 when the function fails
            print(f'{{"level":"ERROR","message":"handler failed","error":"{type(error).__name__}"}}',
                  file=sys.stderr)
            self._write_buffered(502, {"content-type": "application/json"}, [],
                                 b'{"Message":"Internal Server Error"}')
            return
        self._write_result(result)

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            size = 0
            while True:
                length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                if length < 0:
                    raise ValueError("negative chunk size")
                size += length
                if size > _MAX_REQUEST_BYTES:
                    raise _TooLarge
                parts.append(self.rfile.read(length))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative content-length")  # read(-1) would wait for the client to close
        if length > _MAX_REQUEST_BYTES:
            raise _TooLarge
        return self.rfile.read(length) if length else b""

    def _event(self, path: str, query: str, body: bytes) -> dict[str, Any]:
        return function_url_event(self.command, path, query, list(self.headers.items()), body,
                                  source_ip=self.client_address[0])

    def _write_result(self, result: Any) -> None:
        if not isinstance(result, dict) or "statusCode" not in result:
            self._write_buffered(200, {"content-type": "application/json"}, [], orjson.dumps(result))
            return
        status = int(result["statusCode"])
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        cookies = list(result.get("cookies") or [])
        body = result.get("body")
        if body is None or isinstance(body, (bytes, str)):
            payload = body or b""
            if isinstance(payload, str):
                payload = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
            self._write_buffered(status, headers, cookies, payload)
            return
        self._write_streamed(status, headers, cookies, body)

    def _start(self, status: int, headers: dict[str, str], cookies: list[str]) -> None:
        self.send_response_only(status)
        self.send_header("date", self.date_time_string())
        for name, value in headers.items():
            if name not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        for cookie in cookies:
            self.send_header("set-cookie", cookie)

    def _write_buffered(self, status: int, headers: dict[str, str], cookies: list[str], payload: bytes) -> None:
        self._start(status, headers, cookies)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)
        self.wfile.flush()

    def _write_streamed(self, status: int, headers: dict[str, str], cookies: list[str],
                        body: Iterable[bytes]) -> None:
        # An event stream goes out event by event. Any other answer (a JSON message) is of no use to the client
        # until it is whole: it goes out in as few writes as it arrives in — the headers with the first chunk,
        # the last chunk with the end of the body — so that under load it does not wait for the interpreter
        # between writes (each socket write gives up the GIL and must win it back).
        sse = headers.get("content-type", "").startswith("text/event-stream")
        socket_writer = self.wfile
        coalesced = None if sse else _Coalescing(socket_writer)
        if coalesced is not None:
            self.wfile = coalesced
        try:
            self._start(status, headers, cookies)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            if self.command != "HEAD":
                for chunk in body:
                    if chunk:
                        self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            if coalesced is not None:
                coalesced.drain()
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            # The client left: stop producing (close() below cancels the upstream) and drop the connection.
            self.close_connection = True
        except Exception as error:  # noqa: BLE001 - as on Lambda: the stream ends without its last chunk
            print(f'{{"level":"ERROR","message":"response stream failed","error":"{type(error).__name__}"}}',
                  file=sys.stderr)
            self.close_connection = True
            if coalesced is not None:
                with contextlib.suppress(OSError):
                    coalesced.drain()  # what had arrived goes out (without the body's end), as it would have
        finally:
            self.wfile = socket_writer
            self.server.after_response.submit(_close, body)


class _Coalescing:
    """A writer that holds what is written (``flush`` holds it too) until ``drain``, or until it holds enough to
    be worth a write of its own: a large answer still goes out as it arrives, in ``limit``-sized writes."""

    def __init__(self, writer: Any, limit: int = 256 * 1024) -> None:
        self._writer = writer
        self._limit = limit
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._held.append(bytes(data))
        self._size += len(data)
        if self._size >= self._limit:
            self.drain()
        return len(data)

    def flush(self) -> None:
        pass  # held until drain: that is the point

    def drain(self) -> None:
        if self._held:
            self._writer.write(b"".join(self._held))
            self._held, self._size = [], 0
        self._writer.flush()


class _TooLarge(ValueError):
    pass


def _origin_form(target: str) -> str:
    """The path and query of a request target. An absolute-form target (``POST http://host/path``, which clients
    send to proxies) only names this server (RFC 9112 §3.2.2): its host is never connected to, its path is served."""
    if target.startswith("/"):
        return target
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return target


def _close(body: Any) -> None:
    close = getattr(body, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception as error:  # noqa: BLE001
        print(f'{{"level":"ERROR","message":"body close failed","error":"{type(error).__name__}"}}',
              file=sys.stderr)


def function_url_event(method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes,
                       *, source_ip: str = "127.0.0.1") -> dict[str, Any]:
    """The payload-v2.0 event a Lambda Function URL would deliver for this HTTP request."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            # Function URLs join repeated headers with commas, like this.
            joined[name] = f"{joined[name]},{value}" if name in joined else value
    content_type = joined.get("content-type", "")
    if body and content_type.startswith(_TEXT_TYPES):
        try:
            encoded, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            encoded, is_base64 = base64.b64encode(body).decode(), True
    else:
        encoded, is_base64 = base64.b64encode(body).decode(), bool(body)
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": cookies or None,
        "headers": joined,
        "queryStringParameters": _query_parameters(query),
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": joined.get("host", "localhost"),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": encoded if body else None,
        "isBase64Encoded": is_base64,
    }


def _query_parameters(query: str) -> dict[str, str] | None:
    """As Function URLs give them: decoded, a repeated name's values joined with commas; None without a query."""
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    return parameters or None
