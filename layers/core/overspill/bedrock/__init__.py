"""The Bedrock route, pure half: Anthropic Messages requests and answers translated to and from Bedrock's
native Anthropic body (InvokeModel / InvokeModelWithResponseStream), with no network and no botocore import.

- ``models``: which Bedrock model id answers a requested Anthropic model name.
- ``request``: the InvokeModel body for a Messages request.
- ``rejections``: what a Bedrock 400 names as unsupported (a beta or a field), so the transport can drop it.
- ``events``: Bedrock's answer back into Anthropic SSE / JSON, byte-identical where possible.
- ``errors``: Bedrock error codes as the Anthropic errors Claude Code understands.
"""
