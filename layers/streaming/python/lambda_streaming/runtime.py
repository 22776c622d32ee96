"""The runtime loop: fetch an invocation, call the handler, stream its response, repeat."""

import json
import os
import sys

from lambda_streaming import errors, wire
from lambda_streaming.api import Invocation, RuntimeApi, RuntimeApiError
from lambda_streaming.context import LambdaContext
from lambda_streaming.response import MarshalError, Response, body_closer, check_chunk, from_result


class InitError(Exception):
    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None):
        super().__init__(message)
        self.error = errors.make_error(error_type, message, stack_trace)


def main() -> int:
    set_sys_path(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    # Prints reach CloudWatch line by line, as with the stock runtime (stdout is a pipe, block-buffered).
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        errors.log_error("AWS_LAMBDA_RUNTIME_API is not set", errors.make_error("Runtime.Misconfigured", ""))
        return 1
    api = RuntimeApi(address)
    try:
        handler = load_handler(os.environ.get("_HANDLER"))
    except InitError as exc:
        return _init_failed(api, exc.error)
    except Exception as exc:  # noqa: BLE001 - anything the module raises at import is an init failure
        return _init_failed(api, errors.from_exception(exc))
    try:
        Runtime(api, handler).run_forever()
    except (OSError, RuntimeApiError) as exc:
        # Lambda starts a new execution environment; there is nothing to resume here.
        errors.log_error("Lost the Runtime API", errors.from_exception(exc))
    return 1


def set_sys_path(task_root: str) -> None:
    """The stock bootstrap's order: task root, the layers' site-packages, /opt/python, then the rest."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    first = [task_root, f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    sys.path[:] = first + [p for p in sys.path if p not in first]


def load_handler(spec: str | None):
    if not spec or "." not in spec:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': expected module.function")
    module_name, function_name = spec.rsplit(".", 1)
    module_name = module_name.replace("/", ".")
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        raise InitError("Runtime.BuiltInModuleConflict", message)
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise InitError("Runtime.ImportModuleError", message) from exc
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        ) from exc
    handler = getattr(module, function_name, None)
    if not callable(handler):
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise InitError("Runtime.HandlerNotFound", message)
    return handler


def _init_failed(api: RuntimeApi, error: dict) -> int:
    errors.log_error("Function initialisation failed", error)
    try:
        api.init_error(error)
    except (OSError, RuntimeApiError) as exc:
        errors.log_error("Could not report the init error", errors.from_exception(exc))
    return 1


class Runtime:
    def __init__(self, api: RuntimeApi, handler):
        self._api = api
        self._handler = handler

    def run_forever(self) -> None:
        while True:
            self.invoke(self._api.next_invocation())

    def invoke(self, invocation: Invocation) -> None:
        request_id = invocation.request_id
        _set_trace_id(invocation.trace_id)
        try:
            context = _context(invocation)
            try:
                event = json.loads(invocation.body)
            except ValueError as exc:
                raise _Fault("Runtime.UnmarshalError", f"Unable to parse the event as JSON: {exc}") from None
            result = self._handler(event, context)
        except _Fault as fault:
            return self._fail(request_id, fault.error)
        except Exception as exc:  # noqa: BLE001 - the handler's failure is reported, the loop goes on
            return self._fail(request_id, errors.from_exception(exc))

        close = body_closer(result)
        try:
            try:
                response = from_result(result)
            except MarshalError as exc:
                return self._fail(request_id, errors.make_error("Runtime.MarshalError", str(exc)))
            self._stream(request_id, response)
        finally:
            if close is not None:
                _call_close(close, request_id)

    def _fail(self, request_id: str, error: dict) -> None:
        """An error before any response byte: POST /error, which Lambda accepts only at this point."""
        error = {**error, "requestId": request_id}
        errors.log_error("Invocation failed before the response started", error, request_id)
        self._api.invocation_error(request_id, error)

    def _stream(self, request_id: str, response: Response) -> None:
        try:
            stream = self._api.open_response(request_id)
        except OSError as exc:
            errors.log_error("Could not open the response stream", errors.from_exception(exc), request_id)
            return
        try:
            head = wire.prelude(response.status, response.headers, response.cookies)
            if isinstance(response.body, bytes):
                stream.start(head + response.body)
                last = wire.LAST_CHUNK
            else:
                # Status and headers are known now: send them before the body's first chunk is produced.
                stream.start(head)
                last = self._stream_body(stream, response.body, request_id)
            status = stream.finish(last)
            if not 200 <= status < 300:
                errors.log_error(
                    "The Runtime API refused the response",
                    errors.make_error("Runtime.ResponseRejected", f"POST /response answered {status}"),
                    request_id,
                )
        except OSError as exc:
            # The Runtime API dropped the connection (deadline, size limit): the body is abandoned and closed.
            errors.log_error("The response stream broke", errors.from_exception(exc), request_id)
        finally:
            stream.close()

    @staticmethod
    def _stream_body(stream, body, request_id: str) -> bytes:
        """Send each chunk as it is produced; returns the last chunk, with error trailers if the body failed.

        Errors from the body (even OSError) go into trailers; errors writing to the Runtime API propagate.
        """
        try:
            chunks = iter(body)
        except Exception as exc:  # noqa: BLE001 - a body failure after the prelude can only go in trailers
            return _body_failed(exc, request_id)
        while True:
            try:
                data = check_chunk(next(chunks))
            except StopIteration:
                return wire.LAST_CHUNK
            except Exception as exc:  # noqa: BLE001 - as above
                return _body_failed(exc, request_id)
            if data:
                stream.write(data)


def _body_failed(exc: Exception, request_id: str) -> bytes:
    error = errors.from_exception(exc)
    errors.log_error("The response body failed after streaming began", error, request_id)
    return wire.error_trailer(error)


class _Fault(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error = errors.make_error(error_type, message)


def _context(invocation: Invocation) -> LambdaContext:
    return LambdaContext(
        aws_request_id=invocation.request_id,
        deadline_ms=invocation.deadline_ms,
        invoked_function_arn=invocation.invoked_function_arn,
        identity=_json_header(invocation.cognito_identity, "Cognito Identity"),
        client_context=_json_header(invocation.client_context, "Client Context"),
        tenant_id=invocation.tenant_id,
    )


def _json_header(value: str | None, name: str) -> dict | None:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise _Fault("Runtime.LambdaContextUnmarshalError", f"Unable to parse {name} JSON: {exc}") from None


def _set_trace_id(trace_id: str | None) -> None:
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def _call_close(close, request_id: str) -> None:
    try:
        close()
    except Exception as exc:  # noqa: BLE001 - an after-response hook must not take the runtime down
        errors.log_error("The response body's close() failed", errors.from_exception(exc), request_id)
