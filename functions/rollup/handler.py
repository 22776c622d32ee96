"""Rollup function: DynamoDB Streams records of usage events in, a partial batch response out."""

from functools import cache

from overspill.aws import client
from overspill.config import Settings
from overspill.observability import logger
from overspill.store.models import bind_models
from overspill.store.rollups import RollupRepository
from overspill.usage.rollup_stream import FailureQueue, RollupStream


@cache
def rollup_stream() -> RollupStream:
    # Once per instance: the table bindings and the SQS client serve every batch after the first.
    settings = Settings.from_env()
    bind_models(settings)
    return RollupStream(RollupRepository(), FailureQueue(client("sqs", settings), settings.rollup_failure_queue_url))


# Never log the event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it holds keys, credentials, tokens, prompts.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event, context):
    return rollup_stream().process(event, context)
