"""The admin API's routes, one module per area. Each registers its endpoints with ``overspill.admin.api.endpoint``
(which records who may call them) on a Powertools router, and calls a service for the work."""

from overspill.admin.routes import (
    audit,
    breakers,
    credentials,
    exports,
    health,
    keys,
    pricing,
    teams,
    usage,
    users,
)

ROUTERS = [health.router, users.router, teams.router, keys.router, credentials.router, breakers.router, usage.router,
           pricing.router, exports.router, audit.router]
