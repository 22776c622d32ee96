"""Admin function: the admin REST API (Function URL events) for the dashboard and the CLI."""

from functools import cache

from overspill.admin.api import AdminApi
from overspill.admin.services import AdminServices
from overspill.config import Settings
from overspill.observability import logger


@cache
def admin_api() -> AdminApi:
    # Once per instance: settings, table bindings, the token verifier (and its cached signing keys).
    return AdminApi(AdminServices(Settings.from_env()))


# Never log the event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it holds keys, credentials, tokens, prompts.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event, context):
    return admin_api().handle(event, context)
