"""Usage: reading token counts from answers on the way through, and the usage event recorded per request."""
