"""`python -m lambda_streaming`: the runtime loop, as started by /opt/streaming-bootstrap."""

import sys

from lambda_streaming.runtime import main

sys.exit(main())
