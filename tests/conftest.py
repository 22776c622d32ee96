"""Settings for every test tier."""

import os

# EMF metric lines are printed on stdout; tests that check metrics switch them back on themselves.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
