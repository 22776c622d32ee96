"""Usage replay function: messages of the usage spill queue (SQS) in, a partial batch response out."""

from datetime import timedelta
from functools import cache

from overspill.config import Settings
from overspill.observability import logger
from overspill.store.models import bind_models
from overspill.store.usage import UsageRepository
from overspill.usage.replay import UsageReplay


@cache
def usage_replay() -> UsageReplay:
    # Once per instance: the table binding serves every batch after the first.
    settings = Settings.from_env()
    bind_models(settings)
    return UsageReplay(UsageRepository(retention=timedelta(days=settings.usage_ttl_days)))


# Never log the event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it holds keys, credentials, tokens, prompts.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event, context):
    return usage_replay().process(event, context)
