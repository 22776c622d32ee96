"""Faults on the developer's side of the gateway."""

from tests.integration.faults.matrix import Client, Row

ROWS = [
    Row(
        id="client-disconnects-mid-stream",
        fault="The client disconnects mid-stream (the developer presses Esc)",
        injected="the httpx client closes its connection after the first text delta of a 4 s plan stream",
        client=Client(200, route="plan", sees="the events it read before leaving"),
        breaker="untouched (closed): the plan answered",
        usage="route plan, status 200, client_disconnected true, the input tokens of `message_start`; the call to "
              "Anthropic is cancelled at the gateway's next write (fake Anthropic sees its connection closed "
              "before the stream's end)",
    ),
    Row(
        id="client-disconnects-mid-stream-bedrock",
        fault="The client disconnects mid-stream, on the Bedrock route",
        injected="as client-disconnects-mid-stream, while the plan is limited and Bedrock answers",
        client=Client(200, route="bedrock", sees="the events it read before leaving"),
        breaker="opened by the plan limit, until its reset; the disconnect changes nothing",
        usage="route bedrock, fallback_reason plan_limit, status 200, client_disconnected true, the input tokens "
              "of `message_start`; the Bedrock stream is closed at the gateway's next write (fake Bedrock sees its "
              "connection closed before the stream's end)",
    ),
    Row(
        id="client-slow-reader",
        fault="A slow reader",
        injected="a 24 MB plan stream; the client (64 KB receive buffer) reads 64 KB, stops reading for 0.5 s, "
                 "then reads the rest",
        client=Client(200, route="plan", sees="the whole answer, byte for byte"),
        breaker="untouched (closed)",
        usage="route plan, status 200, the answer's tokens, client_disconnected false. While the client does "
              "not read, Anthropic's stream waits too (TCP back-pressure through the gateway) and the gateway's "
              "own allocations stay under 2 MB: it holds a chunk, not the answer",
    ),
    Row(
        id="client-oversized-headers",
        fault="Oversized request headers",
        injected="a header line over 64 KB; more than 100 headers; 20 headers of 60 KB (over the 1 MB Lambda allows "
                 "for the request line and headers); one test each",
        client=Client(431, sees="`{\"Message\": \"Request Header Fields Too Large\"}` from the Function URL "
                                "(emulator); the next request is served as usual"),
        breaker="untouched: the request never reaches the gateway's code",
        usage="nothing: no function ran, nothing was forwarded to Anthropic",
    ),
]
