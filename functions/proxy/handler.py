"""Proxy function: a Function URL event in, a streamed response out (served by layers/streaming)."""

from overspill.observability import logger
from overspill.proxy.app import handle_function_url_event


# Never log the event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it holds keys, credentials, tokens, prompts.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event, context):
    return handle_function_url_event(event, context)
