"""Error bodies in Lambda's shape, and the one-JSON-line error log."""

import json
import os
import sys
import time

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def make_error(error_type: str, message: str, stack_trace: list[str] | None = None) -> dict:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack_trace or []}


def from_exception(exc: BaseException, error_type: str | None = None) -> dict:
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    # Start the trace in the function's code, as the stock bootstrap does, not in this runtime's frames.
    while frames and frames[0].filename.startswith(_PACKAGE_DIR):
        frames.pop(0)
    return make_error(error_type or type(exc).__name__, str(exc), traceback.format_list(frames))


def log_error(message: str, error: dict, request_id: str | None = None) -> None:
    """One line on stderr, so CloudWatch keeps a traceback in one event. Never the event or the response."""
    now = time.time()
    line = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
        "level": "ERROR",
        "message": message,
        **({"requestId": request_id} if request_id else {}),
        **error,
    }
    try:
        sys.stderr.write(json.dumps(line, default=str) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed: nothing better to do with a log line
