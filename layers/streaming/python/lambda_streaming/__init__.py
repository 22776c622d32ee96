"""A Lambda Runtime API client that streams a Python handler's HTTP response.

The handler contract is in layers/streaming/README.md.
"""

__version__ = "0.1.0"
