"""Proxy function: a Function URL event in, a streamed response out (served by layers/streaming)."""

from overspill.observability import logger
from overspill.proxy.app import handle_function_url_event


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return handle_function_url_event(event, context)
