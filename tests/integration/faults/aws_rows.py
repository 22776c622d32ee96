"""Fault-matrix rows: the AWS services the gateway depends on (DynamoDB, SQS, KMS, Secrets Manager).

Every fault is injected at the botocore level in front of moto (tests/support/aws_faults.py): the call is answered
with the AWS error, or fails to connect, on every attempt botocore makes (the tests run with
``OVERSPILL_AWS_MAX_ATTEMPTS=2``: one retry, after botocore's backoff; deployed: 4 attempts).
"""

from tests.integration.faults.matrix import Client, Row

_KEY_CHECK = ("a message saying the gateway could not check the key and to retry in a few seconds (never a 401: "
              "the key is fine)")
_NOT_ROUTED = "not consulted: the request stops before routing"
_NO_USAGE = "none: nobody is authenticated yet (the log has the key's display prefix, never the key)"
_SPILLED = ("the write is retried (botocore's backoff), then the item goes to the usage spill queue (SQS); the "
            "usage_replay function stores it in the usage table, exactly once however often it is delivered")

ROWS: list[Row] = [
    Row(
        id="dynamodb-key-lookup-throttled",
        fault="DynamoDB throttles the access-key lookup",
        injected="the read of the access-keys table answered ThrottlingException, every attempt",
        client=Client(503, "api_error", should_retry=True, sees=_KEY_CHECK),
        breaker=_NOT_ROUTED,
        usage=_NO_USAGE + "; the next request looks the key up again (nothing cached) and is answered",
    ),
    Row(
        id="dynamodb-key-lookup-unreachable",
        fault="DynamoDB unreachable on the access-key lookup",
        injected="every DynamoDB call fails to connect (EndpointConnectionError)",
        client=Client(503, "api_error", should_retry=True, sees=_KEY_CHECK),
        breaker=_NOT_ROUTED,
        usage=_NO_USAGE,
    ),
    Row(
        id="dynamodb-breaker-read-throttled",
        fault="DynamoDB throttles the breaker read",
        injected="GetItem on the breakers table answered ProvisionedThroughputExceededException, every attempt; "
                 "the stored breaker says open",
        client=Client(200, route="plan", sees="the plan's answer: the gateway fails open to the plan"),
        breaker="not read: the request is routed as if closed (a warning is logged); the stored item is left as "
                "it was. Had the plan been limited, its 429 would have sent the request to Bedrock as usual",
        usage="one event, route plan",
    ),
    Row(
        id="dynamodb-unreachable-on-a-warm-instance",
        fault="DynamoDB unreachable for an instance that has the key cached",
        injected="every DynamoDB call fails to connect, after a first request cached the key",
        client=Client(200, route="plan", sees="the plan's answer: the cached key authenticates, the breaker read "
                                              "fails open to the plan"),
        breaker="not read (a warning is logged); nothing written",
        usage=_SPILLED,
    ),
    Row(
        id="dynamodb-usage-write-throttled",
        fault="DynamoDB throttles the usage write",
        injected="PutItem on the usage table answered ThrottlingException, every attempt",
        client=Client(200, route="plan", sees="the whole answer: the write runs after the response has ended"),
        breaker="unaffected (stays closed)",
        usage=_SPILLED + "; the table's stream shows one INSERT",
    ),
    Row(
        id="dynamodb-usage-write-throttled-once",
        fault="DynamoDB throttles the usage write once",
        injected="PutItem on the usage table answered ProvisionedThroughputExceededException, first attempt only",
        client=Client(200, route="plan", sees="the whole answer"),
        breaker="unaffected (stays closed)",
        usage="stored by botocore's retry, after its backoff; nothing goes to the spill queue",
    ),
    Row(
        id="dynamodb-and-sqs-unavailable-on-the-usage-write",
        fault="DynamoDB and SQS both fail the usage write",
        injected="PutItem on the usage table answered InternalServerError and SendMessage fails to connect, every "
                 "attempt",
        client=Client(200, route="plan", sees="the whole answer"),
        breaker="unaffected (stays closed)",
        usage="the last resort: one ERROR log line (\"USAGE EVENT NOT STORED\") holding the spill message, which "
              "has no key, credential or prompt text; sent to the spill queue by hand, the replay stores it once",
    ),
    Row(
        id="dynamodb-budget-read-throttled",
        fault="DynamoDB throttles the budget check on the fallback",
        injected="Query on the rollups table answered ThrottlingException, every attempt; the developer has a "
                 "budget and the plan is limited",
        client=Client(200, route="bedrock", sees="Bedrock's answer: with no spend figure to go by, the budget "
                                                 "is not enforced for this request (a warning is logged)"),
        breaker="opened by the plan's 429 until its reset, as usual",
        usage="one event, route bedrock, with its cost (the rollups, and so the budget, count it)",
    ),
    Row(
        id="kms-unreachable",
        fault="KMS unreachable when opening a user's Bedrock credentials",
        injected="every KMS call fails to connect; the plan is limited and the user has stored credentials",
        client=Client(503, "api_error", should_retry=True, route="bedrock",
                      sees="a message naming KMS as a temporary problem on the gateway's side and saying that "
                           "retrying should work (a disabled key or a denied one is a 429 naming the admin)"),
        breaker="opened by the plan's 429 until its reset; the next request goes to Bedrock and opens the "
                "credentials then",
        usage="one event, status 503, route bedrock, reason plan_limit",
    ),
    Row(
        id="kms-throttled",
        fault="KMS throttles the decrypt of a user's Bedrock credentials",
        injected="Decrypt answered ThrottlingException, every attempt; the plan is limited",
        client=Client(503, "api_error", should_retry=True, route="bedrock",
                      sees="the same message as KMS unreachable"),
        breaker="opened by the plan's 429 until its reset",
        usage="one event, status 503, route bedrock",
    ),
    Row(
        id="secrets-manager-unavailable-at-cold-start",
        fault="Secrets Manager unavailable when a new instance first needs the key pepper",
        injected="GetSecretValue fails to connect on the first request of a fresh proxy, then works",
        client=Client(503, "api_error", should_retry=True, sees=_KEY_CHECK + "; the instance keeps running and "
                                                                             "the next request reads the secret "
                                                                             "again and is answered"),
        breaker=_NOT_ROUTED,
        usage=_NO_USAGE,
    ),
]
