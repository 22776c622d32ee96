"""The streaming runtime layer, run for real: the exec wrapper starts `python -m lambda_streaming` as a
subprocess against the Runtime API emulator, and the tests read the exact bytes it sends back."""

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.runtime_api import DEFAULT_ARN, DELIMITER, RuntimeApiEmulator

REPO = Path(__file__).resolve().parents[2]
WRAPPER = REPO / "layers" / "streaming" / "streaming-bootstrap"
LAYER_PYTHON = REPO / "layers" / "streaming" / "python"

HANDLERS = '''
import base64, json, os, sys, time


def static(event, context):
    return {
        "statusCode": 201,
        "headers": {"content-type": "text/plain; charset=utf-8", "x-served-by": "streaming"},
        "cookies": ["session=abc; Path=/; HttpOnly", "theme=dark"],
        "body": "héllo, world",
    }


def empty(event, context):
    return {"statusCode": 204, "headers": {"x-empty": "yes"}}


def base64_body(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "body": base64.b64encode(b"\\x00\\x01binary\\xff").decode(),
        "isBase64Encoded": True,
    }


def bytes_body(event, context):
    return {"statusCode": 200, "headers": {}, "body": b"raw \\x00 bytes"}


def plain_dict(event, context):
    return {"hello": "world", "n": 1}


def plain_str(event, context):
    return "just a string"


def echo(event, context):
    return {"statusCode": 200, "headers": {}, "body": json.dumps(event)}


def waits_for_flag(event, context):
    """Yields a chunk, then blocks until the test has seen that chunk arrive."""
    def body():
        yield b"first"
        deadline = time.monotonic() + 5
        while not os.path.exists(event["flag"]) and time.monotonic() < deadline:
            time.sleep(0.002)
        yield b""  # empty chunks are skipped: a zero-length chunk would end the body
        yield b"second"
    return {"statusCode": 200, "headers": {"content-type": "text/event-stream"}, "body": body()}


def slow_stream(event, context):
    def body():
        yield b"early"
        time.sleep(0.5)
        yield b"late"
    return {"statusCode": 200, "headers": {}, "body": body()}


def raises(event, context):
    raise ValueError("bad input")


def bad_status(event, context):
    return {"statusCode": "200", "headers": {}, "body": Body([b"never sent"], event["marker"])}


class Body:
    """An iterable with close(), like a WSGI response; close() appends its time to a marker file."""

    def __init__(self, chunks, marker, fail=None, close_fails=False):
        self.chunks, self.marker, self.fail, self.close_fails = chunks, marker, fail, close_fails

    def __iter__(self):
        yield from self.chunks
        if self.fail:
            raise self.fail

    def close(self):
        with open(self.marker, "a") as f:
            f.write(f"{time.monotonic()}\\n")
        if self.close_fails:
            raise OSError("close went wrong")


def with_close(event, context):
    return {"statusCode": 200, "headers": {}, "body": Body([b"a", b"bc"], event["marker"])}


def fails_mid_stream(event, context):
    error = RuntimeError("upstream broke\\r\\nInjected: header")
    return {"statusCode": 200, "headers": {}, "body": Body([b"partial"], event["marker"], fail=error)}


def os_error_mid_stream(event, context):
    error = ConnectionResetError("upstream reset")
    return {"statusCode": 200, "headers": {}, "body": Body([b"partial"], event["marker"], fail=error)}


def str_chunk(event, context):
    return {"statusCode": 200, "headers": {}, "body": iter([b"ok", "not bytes"])}


def close_fails(event, context):
    return {"statusCode": 200, "headers": {}, "body": Body([b"fine"], event["marker"], close_fails=True)}


def endless(event, context):
    def body():
        produced = 0
        try:
            while True:
                produced += 1
                yield b"x" * 1024
                time.sleep(0.002)
        finally:
            with open(event["marker"], "w") as f:
                f.write(str(produced))
    return {"statusCode": 200, "headers": {}, "body": body()}


def context_fields(event, context):
    fields = {
        name: getattr(context, name)
        for name in (
            "aws_request_id", "function_name", "function_version", "invoked_function_arn",
            "memory_limit_in_mb", "log_group_name", "log_stream_name", "tenant_id",
        )
    }
    fields["remaining"] = context.get_remaining_time_in_millis()
    fields["identity"] = [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id]
    cc = context.client_context
    fields["client_context"] = cc and [cc.client.app_title, cc.custom, cc.env]
    fields["trace"] = os.environ.get("_X_AMZN_TRACE_ID")
    return {"statusCode": 200, "headers": {}, "body": json.dumps(fields)}


def paths(event, context):
    import lambda_streaming
    body = json.dumps({"sys_path": sys.path[:3], "package": lambda_streaming.__file__})
    return {"statusCode": 200, "headers": {}, "body": body}
'''

TASK_FILES = {
    "handlers.py": HANDLERS,
    "broken_import.py": "import module_that_does_not_exist_anywhere\n",
    "raises_at_import.py": "raise RuntimeError('configuration missing')\n",
    "bad_syntax.py": "def handler(event, context)\n    return 1\n",
    "pkg/__init__.py": "",
    "pkg/nested.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'nested'}\n",
}

SENSITIVE = "sk-ant-event-secret-1234"  # appears in events; must never appear in the runtime's logs


class Runtime:
    """The runtime subprocess and where its output went."""

    def __init__(self, process: subprocess.Popen, stderr: Path):
        self.process = process
        self.stderr_path = stderr

    def error_logs(self) -> list[dict]:
        lines = self.stderr_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def stderr(self) -> str:
        return self.stderr_path.read_text()


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    for name, source in TASK_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def start_runtime(
    runtime_api: RuntimeApiEmulator, task_root: Path, tmp_path: Path
) -> Iterator[Callable[..., Runtime]]:
    """Start the runtime through the exec wrapper, the way Lambda does; always killed at teardown."""
    processes: list[subprocess.Popen] = []

    def start(handler: str) -> Runtime:
        # A bare environment: only the wrapper's PYTHONPATH can make lambda_streaming importable.
        env = {
            "PATH": os.environ["PATH"],
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_RUNTIME_API": runtime_api.address,
            "AWS_LAMBDA_FUNCTION_NAME": "streaming-test",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/streaming-test",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2025/01/01/[$LATEST]abc",
            "PYTHONDONTWRITEBYTECODE": "1",  # keep the layer directory free of __pycache__
        }
        stderr = tmp_path / f"runtime-{len(processes)}.stderr"
        with open(stderr, "wb") as err, open(tmp_path / f"runtime-{len(processes)}.stdout", "wb") as out:
            process = subprocess.Popen(
                [str(WRAPPER), sys.executable, "/var/runtime/bootstrap.py"],
                env=env,
                cwd=task_root,
                stdout=out,
                stderr=err,
            )
        processes.append(process)
        return Runtime(process, stderr)

    yield start
    for process in processes:
        process.kill()
        process.wait(timeout=5)


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)


def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text()):
            return text
        time.sleep(0.005)
    raise AssertionError(f"{path} was not written within {timeout}s")


# -- responses -------------------------------------------------------------------------------------------


def test_str_body_is_sent_as_prelude_delimiter_and_body_with_cookies(runtime_api, start_runtime):
    start_runtime("handlers.static")

    exchange = runtime_api.invoke({}).wait()

    assert exchange.problems == []
    assert exchange.kind == "response"
    assert exchange.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert exchange.headers["transfer-encoding"] == "chunked"
    assert exchange.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    assert exchange.headers["trailer"] == (
        "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    )
    prelude = (
        b'{"statusCode":201,"headers":{"content-type":"text/plain; charset=utf-8","x-served-by":"streaming"},'
        b'"cookies":["session=abc; Path=/; HttpOnly","theme=dark"]}'
    )
    assert exchange.body == prelude + DELIMITER + "héllo, world".encode()
    assert exchange.raw == chunked(exchange.body) + b"0\r\n\r\n"
    assert exchange.trailers == {}


def test_empty_body_still_sends_prelude_and_delimiter(runtime_api, start_runtime):
    start_runtime("handlers.empty")

    exchange = runtime_api.invoke({}).wait()

    assert exchange.problems == []
    assert exchange.body == b'{"statusCode":204,"headers":{"x-empty":"yes"},"cookies":[]}' + DELIMITER
    assert exchange.raw.endswith(b"\r\n0\r\n\r\n")


def test_base64_str_body_is_decoded_before_sending(runtime_api, start_runtime):
    start_runtime("handlers.base64_body")
    exchange = runtime_api.invoke({}).wait()
    assert exchange.prelude == {
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "cookies": [],
    }
    assert exchange.payload == b"\x00\x01binary\xff"


def test_bytes_body_is_sent_as_is(runtime_api, start_runtime):
    start_runtime("handlers.bytes_body")
    assert runtime_api.invoke({}).wait().payload == b"raw \x00 bytes"


def test_a_return_without_status_code_is_a_json_body_with_status_200(runtime_api, start_runtime):
    start_runtime("handlers.plain_dict")
    exchange = runtime_api.invoke({}).wait()
    assert exchange.prelude == {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "cookies": [],
    }
    assert json.loads(exchange.payload) == {"hello": "world", "n": 1}


def test_a_str_return_is_a_json_string_body(runtime_api, start_runtime):
    start_runtime("handlers.plain_str")
    exchange = runtime_api.invoke({}).wait()
    assert exchange.prelude["statusCode"] == 200
    assert exchange.payload == b'"just a string"'


def test_dotted_handler_module_is_loaded_from_the_task_root(runtime_api, start_runtime):
    start_runtime("pkg.nested.handler")
    assert runtime_api.invoke({}).wait().payload == b"nested"


# -- streaming -------------------------------------------------------------------------------------------


def test_first_chunk_reaches_lambda_while_the_handler_is_still_producing(
    runtime_api, start_runtime, tmp_path
):
    start_runtime("handlers.waits_for_flag")
    flag = tmp_path / "flag"

    exchange = runtime_api.invoke({"flag": str(flag)})
    # The handler holds its second chunk until this flag exists: a buffering runtime would never send "first".
    exchange.wait_for(lambda ex: ex.payload == b"first", timeout=3, what="the first chunk")
    assert exchange.ended_at is None
    flag.touch()
    exchange.wait()

    assert exchange.problems == []
    assert exchange.prelude == {
        "statusCode": 200,
        "headers": {"content-type": "text/event-stream"},
        "cookies": [],
    }
    assert [c.data for c in exchange.chunks[1:]] == [b"first", b"second"]
    assert exchange.raw.endswith(chunked(b"first", b"second") + b"0\r\n\r\n")


def test_prelude_and_each_chunk_are_sent_as_soon_as_they_exist(runtime_api, start_runtime):
    start_runtime("handlers.slow_stream")

    exchange = runtime_api.invoke({}).wait()

    prelude, early, late = exchange.chunks
    assert prelude.data.endswith(DELIMITER)
    assert (early.data, late.data) == (b"early", b"late")
    # The handler sleeps 0.5 s between its chunks; nothing before the sleep may wait for what comes after it.
    assert late.at - early.at > 0.4
    assert early.at - prelude.at < 0.3


def test_several_invocations_are_served_by_one_process_over_one_kept_alive_connection(
    runtime_api, start_runtime
):
    runtime = start_runtime("handlers.echo")

    answers = [runtime_api.invoke({"n": n}).wait() for n in range(3)]

    assert [json.loads(a.payload) for a in answers] == [{"n": 0}, {"n": 1}, {"n": 2}]
    runtime_api.invoke({"n": 3}).wait_for(lambda ex: ex.delivered_at is not None)
    assert len(runtime_api.next_clients) == 4
    assert len(set(runtime_api.next_clients)) == 1, "each /next should reuse the same connection"
    assert runtime.process.poll() is None


def test_a_kept_alive_connection_the_runtime_api_closed_is_replaced(runtime_api, start_runtime):
    runtime = start_runtime("handlers.raises")
    runtime_api.drop_next_connections = True

    # Each /error goes out on the connection /next used, which the emulator has closed in the meantime.
    answers = [runtime_api.invoke({}).wait() for _ in range(3)]

    assert [a.error["errorType"] for a in answers] == ["ValueError"] * 3
    assert len(set(runtime_api.next_clients)) == 3
    assert runtime.process.poll() is None


# -- errors ----------------------------------------------------------------------------------------------


def test_handler_exception_before_the_first_byte_is_posted_to_the_error_endpoint(runtime_api, start_runtime):
    runtime = start_runtime("handlers.raises")

    exchange = runtime_api.invoke({"api_key": SENSITIVE}).wait()

    assert exchange.kind == "error"
    assert exchange.headers["lambda-runtime-function-error-type"] == "Unhandled"
    error = exchange.error
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input"
    assert error["requestId"] == exchange.request_id
    assert all(isinstance(line, str) for line in error["stackTrace"])
    assert "handlers.py" in error["stackTrace"][0], "the trace starts in the function's code"
    assert not any("lambda_streaming" in line for line in error["stackTrace"])
    # The process survives and serves the next invocation.
    runtime.process.poll()
    assert runtime.process.returncode is None
    [log] = runtime.error_logs()
    assert log["level"] == "ERROR"
    assert log["errorType"] == "ValueError"
    assert log["requestId"] == exchange.request_id
    assert SENSITIVE not in runtime.stderr()


def test_invalid_return_is_a_marshal_error_and_the_body_is_still_closed(runtime_api, start_runtime, tmp_path):
    start_runtime("handlers.bad_status")
    marker = tmp_path / "closed"

    exchange = runtime_api.invoke({"marker": str(marker)}).wait()

    assert exchange.kind == "error"
    assert exchange.error["errorType"] == "Runtime.MarshalError"
    assert "statusCode" in exchange.error["errorMessage"]
    assert len(wait_for_file(marker).splitlines()) == 1


def test_event_that_is_not_json_is_an_unmarshal_error(runtime_api, start_runtime):
    start_runtime("handlers.echo")

    exchange = runtime_api.invoke(raw_event=b"{not json").wait()

    assert exchange.kind == "error"
    assert exchange.error["errorType"] == "Runtime.UnmarshalError"


def test_body_failure_after_the_first_byte_ends_the_stream_with_error_trailers(
    runtime_api, start_runtime, tmp_path
):
    runtime = start_runtime("handlers.fails_mid_stream")
    marker = tmp_path / "closed"

    exchange = runtime_api.invoke({"marker": str(marker), "api_key": SENSITIVE}).wait()

    assert exchange.problems == []
    assert exchange.kind == "response"
    assert exchange.payload == b"partial"
    assert exchange.trailers["lambda-runtime-function-error-type"] == "RuntimeError"
    error = exchange.error
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "upstream broke\r\nInjected: header"  # carried inside base64, not raw
    assert "handlers.py" in "".join(error["stackTrace"])
    trailer_block = (
        b"0\r\nLambda-Runtime-Function-Error-Type: RuntimeError\r\nLambda-Runtime-Function-Error-Body: "
        + exchange.trailers["lambda-runtime-function-error-body"].encode()
        + b"\r\n\r\n"
    )
    assert exchange.raw.endswith(b"partial\r\n" + trailer_block)
    assert "injected" not in exchange.trailers
    assert len(wait_for_file(marker).splitlines()) == 1
    [log] = runtime.error_logs()
    assert log["errorType"] == "RuntimeError"
    assert SENSITIVE not in runtime.stderr()


def test_an_os_error_from_the_body_is_reported_in_trailers_not_mistaken_for_a_dropped_stream(
    runtime_api, start_runtime, tmp_path
):
    start_runtime("handlers.os_error_mid_stream")

    exchange = runtime_api.invoke({"marker": str(tmp_path / "closed")}).wait()

    assert exchange.payload == b"partial"
    assert exchange.error["errorType"] == "ConnectionResetError"


def test_a_chunk_that_is_not_bytes_is_reported_in_trailers(runtime_api, start_runtime):
    start_runtime("handlers.str_chunk")

    exchange = runtime_api.invoke({}).wait()

    assert exchange.payload == b"ok"
    assert exchange.error["errorType"] == "TypeError"
    assert "bytes" in exchange.error["errorMessage"]


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("broken_import.handler", "Runtime.ImportModuleError", "Unable to import module 'broken_import'"),
        ("handlers.does_not_exist", "Runtime.HandlerNotFound", "Handler 'does_not_exist' missing"),
        ("handlers", "Runtime.MalformedHandlerName", "Bad handler 'handlers'"),
        ("bad_syntax.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'bad_syntax'"),
        ("raises_at_import.handler", "RuntimeError", "configuration missing"),
    ],
)
def test_init_failure_is_posted_to_init_error_and_the_process_exits(
    runtime_api, start_runtime, handler, error_type, message
):
    runtime = start_runtime(handler)

    init_error = runtime_api.wait_init_error()

    assert init_error.headers["lambda-runtime-function-error-type"] == error_type
    assert init_error.body["errorType"] == error_type
    assert message in init_error.body["errorMessage"]
    assert isinstance(init_error.body["stackTrace"], list)
    assert runtime.process.wait(timeout=5) != 0
    assert [log["errorType"] for log in runtime.error_logs()] == [error_type]


# -- the after-response hook -----------------------------------------------------------------------------


def test_close_is_called_once_after_the_runtime_api_answered(runtime_api, start_runtime, tmp_path):
    start_runtime("handlers.with_close")
    marker = tmp_path / "closed"

    exchange = runtime_api.invoke({"marker": str(marker)}).wait()

    [closed_at] = [float(t) for t in wait_for_file(marker).splitlines()]
    assert exchange.payload == b"abc"
    assert closed_at > exchange.ended_at
    assert closed_at > exchange.answered_at
    # Still exactly once after the next invocation has gone through.
    runtime_api.invoke({"marker": str(tmp_path / "other")}).wait()
    assert len(marker.read_text().splitlines()) == 1


def test_close_errors_are_logged_and_the_loop_goes_on(runtime_api, start_runtime, tmp_path):
    runtime = start_runtime("handlers.close_fails")

    first = runtime_api.invoke({"marker": str(tmp_path / "one")}).wait()
    second = runtime_api.invoke({"marker": str(tmp_path / "two")}).wait()

    assert first.payload == second.payload == b"fine"
    wait_for_file(tmp_path / "two")
    deadline = time.monotonic() + 5
    while len(runtime.error_logs()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [(log["errorType"], log["errorMessage"]) for log in runtime.error_logs()] == [
        ("OSError", "close went wrong")
    ] * 2


def test_a_dropped_response_connection_stops_the_body_and_closes_it(runtime_api, start_runtime, tmp_path):
    runtime = start_runtime("handlers.endless")
    marker = tmp_path / "produced"

    exchange = runtime_api.invoke({"marker": str(marker)}, drop_after_chunks=3).wait()

    assert exchange.dropped
    produced = int(wait_for_file(marker))
    assert produced < 200, "the runtime kept pulling from the body after the connection dropped"
    # The runtime logged the broken stream and carries on with the next invocation.
    assert runtime_api.invoke({"marker": str(tmp_path / "next")}, drop_after_chunks=1).wait().dropped
    assert any(log["message"] == "The response stream broke" for log in runtime.error_logs())
    assert runtime.process.poll() is None


# -- context and environment -----------------------------------------------------------------------------


def test_context_carries_the_invocation_and_function_fields(runtime_api, start_runtime):
    start_runtime("handlers.context_fields")
    deadline_ms = int(time.time() * 1000) + 60_000

    exchange = runtime_api.invoke(
        {},
        request_id="req-context",
        deadline_ms=deadline_ms,
        trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
        client_context={"client": {"app_title": "cli"}, "custom": {"k": "v"}, "env": {"platform": "linux"}},
        tenant_id="tenant-7",
    ).wait()

    fields = json.loads(exchange.payload)
    remaining = fields.pop("remaining")
    assert 50_000 < remaining <= 60_000
    assert fields == {
        "aws_request_id": "req-context",
        "function_name": "streaming-test",
        "function_version": "$LATEST",
        "invoked_function_arn": DEFAULT_ARN,
        "memory_limit_in_mb": 256,
        "log_group_name": "/aws/lambda/streaming-test",
        "log_stream_name": "2025/01/01/[$LATEST]abc",
        "tenant_id": "tenant-7",
        "identity": ["id-1", "pool-1"],
        "client_context": ["cli", {"k": "v"}, {"platform": "linux"}],
        "trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
    }


def test_trace_id_is_set_for_each_invocation_and_unset_when_absent(runtime_api, start_runtime):
    start_runtime("handlers.context_fields")

    traced = runtime_api.invoke({}, trace_id="Root=1-aaaa;Sampled=0").wait()
    untraced = runtime_api.invoke({}).wait()
    traced_again = runtime_api.invoke({}, trace_id="Root=1-bbbb;Sampled=1").wait()

    assert [json.loads(e.payload)["trace"] for e in (traced, untraced, traced_again)] == [
        "Root=1-aaaa;Sampled=0",
        None,
        "Root=1-bbbb;Sampled=1",
    ]
    assert json.loads(untraced.payload)["identity"] == [None, None]
    assert json.loads(untraced.payload)["client_context"] is None


def test_sys_path_puts_the_task_root_then_the_layer_directories_first(runtime_api, start_runtime, task_root):
    start_runtime("handlers.paths")

    answer = json.loads(runtime_api.invoke({}).wait().payload)

    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert answer["sys_path"] == [str(task_root), f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    # Found through the wrapper's PYTHONPATH (the layer's python/ directory), as it would be in /opt/python.
    assert Path(answer["package"]).resolve().is_relative_to(LAYER_PYTHON.resolve())


def test_trailer_error_type_never_contains_line_breaks():
    from lambda_streaming import wire

    block = wire.error_trailer({"errorType": "Bad\r\nType", "errorMessage": "m\r\n", "stackTrace": []})

    lines = block.split(b"\r\n")
    assert lines[0] == b"0"
    assert lines[1] == b"Lambda-Runtime-Function-Error-Type: BadType"
    assert json.loads(base64.b64decode(lines[2].split(b": ", 1)[1]))["errorMessage"] == "m\r\n"
    assert lines[3:] == [b"", b""]
