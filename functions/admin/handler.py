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


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return admin_api().handle(event, context)
