"""Export function: an EventBridge schedule ({"kind": "daily"} / {"kind": "monthly"}) or an on-demand range
({"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}) in, CSV files and manifests in the exports bucket, a summary out."""

from overspill.exports.invocation import handle_export_event
from overspill.observability import logger


# Never log the event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it holds keys, credentials, tokens, prompts.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event, context):
    return handle_export_event(event)
