"""Constructs of the Overspill app, one per concern: data, auth (Cognito), proxy, admin, rollup, exports,
athena, monitoring (web comes with the dashboard)."""
