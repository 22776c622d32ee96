"""Constructs of the Overspill app, one per concern (data, proxy; later admin, rollup, export, web, monitoring)."""
