"""The fallback route: a Messages request answered by Amazon Bedrock (InvokeModel / InvokeModelWithResponseStream
with the native Anthropic body), re-emitted as exactly the SSE or JSON Anthropic would have sent.

The translation is pure (``overspill.bedrock``); this module is the transport: credentials → client, the call,
one retry after a 400 that names an unsupported beta or field (remembered per model for the instance's life),
and the answer's bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError
from urllib3.exceptions import HTTPError as TransportBroke  # botocore lets urllib3's mid-body errors through

from overspill.bedrock.errors import BedrockFailure
from overspill.bedrock.events import StreamTranslator, translate_message, usage_from_metrics
from overspill.bedrock.models import ModelMap, ResolvedModel
from overspill.bedrock.rejections import offending_item
from overspill.bedrock.request import to_bedrock_body
from overspill.credentials.clients import BedrockClient, BedrockClients
from overspill.credentials.domain import CredentialsUnavailable
from overspill.errors import GatewayError
from overspill.observability import logger

_VALIDATION = "validationexception"
_MAX_ATTEMPTS = 4


@dataclass(slots=True)
class _Learned:
    """What a model's Bedrock endpoint refused, learned from its 400s."""

    betas: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)


class BedrockStreamAnswer:
    def __init__(self, response: dict[str, Any], model: ResolvedModel) -> None:
        self._stream = response["body"]
        self._model = model
        self.status = 200
        self.request_id = response.get("ResponseMetadata", {}).get("RequestId")
        self.headers = [("content-type", "text/event-stream; charset=utf-8")]
        if self.request_id:
            self.headers.append(("request-id", self.request_id))
        self.model_id = model.invoke_id
        self.translator = StreamTranslator(model.requested)

    def iter_bytes(self) -> Iterator[bytes]:
        feed = self.translator.feed
        try:
            for event in self._stream:
                chunk = event.get("chunk")
                if chunk is not None:
                    yield feed(chunk["bytes"])
        except ClientError as error:  # EventStreamError: throttlingException, modelStreamErrorException …
            failure = BedrockFailure.from_error(error, model=self._model.requested)
            logger.warning("bedrock stream failed", extra={"code": failure.code, "model_id": self.model_id})
            yield failure.sse()
        except (BotoCoreError, TransportBroke, OSError, ValueError) as error:  # a dropped connection, a bad chunk
            logger.warning("bedrock stream broke", extra={"error": type(error).__name__, "model_id": self.model_id})
            yield BedrockFailure.from_code("ModelStreamErrorException", "the stream from Bedrock broke",
                                           model=self._model.requested).sse()

    def billed_usage(self) -> dict[str, int]:
        """Bedrock's own token counts (from ``amazon-bedrock-invocationMetrics``): what AWS bills."""
        return usage_from_metrics(self.translator.invocation_metrics)

    def close(self) -> None:
        self._stream.close()


class BedrockJsonAnswer:
    def __init__(self, response: dict[str, Any], model: ResolvedModel) -> None:
        self._response = response
        self._model = model
        self.status = 200
        self.request_id = response.get("ResponseMetadata", {}).get("RequestId")
        self.headers = [("content-type", "application/json")]
        if self.request_id:
            self.headers.append(("request-id", self.request_id))
        self.model_id = model.invoke_id

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            body = self._response["body"].read()
        except (BotoCoreError, OSError) as error:
            raise BedrockFailure.from_code("ModelStreamErrorException", type(error).__name__,
                                           model=self._model.requested) from None
        yield translate_message(body, self._model.requested)

    def close(self) -> None:
        self._response["body"].close()


class BedrockUpstream:
    name = "bedrock"

    def __init__(self, clients: BedrockClients, models: ModelMap, *, drop_betas: frozenset[str] = frozenset(),
                 drop_fields: frozenset[str] = frozenset()) -> None:
        self._clients = clients
        self._models = models
        # Known refusals an admin configured, for every model; what Bedrock's 400s teach is added per model.
        self._always_drop = _Learned(set(drop_betas), set(drop_fields))
        self._learned: dict[str, _Learned] = {}
        self._lock = threading.Lock()

    def messages(self, user_id: str, body: Any, beta_header: str | None) -> BedrockStreamAnswer | BedrockJsonAnswer:
        model = self._models.resolve(body.model)
        try:
            return self._invoke(model, user_id, body, beta_header)
        except GatewayError as failure:
            failure.tried_model_id = model.invoke_id
            raise

    def _invoke(self, model: ResolvedModel, user_id: str, body: Any,
                beta_header: str | None) -> BedrockStreamAnswer | BedrockJsonAnswer:
        client = self._client(user_id)
        # Each 400 that names a beta or field not yet dropped earns one retry without it: dropping a beta often
        # makes Bedrock refuse the field it enabled next, and Claude Code does not retry a 400 itself.
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            payload = self._payload(model, body.parsed, beta_header)
            try:
                if body.stream:
                    return BedrockStreamAnswer(client.client.invoke_model_with_response_stream(
                        modelId=model.invoke_id, body=payload, contentType="application/json",
                        accept="application/json"), model)
                return BedrockJsonAnswer(client.client.invoke_model(
                    modelId=model.invoke_id, body=payload, contentType="application/json",
                    accept="application/json"), model)
            except ClientError as error:
                if attempt < _MAX_ATTEMPTS and self._learn(model, error):
                    continue
                failure = BedrockFailure.from_error(error, model=model.requested)
                logger.warning("bedrock refused", extra={"code": failure.code, "model_id": model.invoke_id,
                                                         "credentials": client.source})
                raise failure from None
            except (ConnectionError, ReadTimeoutError) as error:
                logger.warning("bedrock unreachable", extra={"error": type(error).__name__})
                said = "Bedrock did not answer in time" if isinstance(error, ReadTimeoutError) else \
                    "Bedrock could not be reached"
                raise BedrockFailure.from_code("ServiceUnavailableException", said, model=model.requested) from None
            except BotoCoreError as error:  # NoCredentialsError, a bad parameter…: a problem on the gateway's side
                raise _gateway_side(error) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def count_tokens(self, user_id: str, body: Any, beta_header: str | None) -> bytes:
        model = self._models.resolve(body.model)
        if model.foundation_id is None:
            raise GatewayError(400, f"Overspill (Bedrock fallback): token counting is not available for "
                                    f"{body.model!r} while requests go to Bedrock (its mapping names no foundation "
                                    "model). Claude Code estimates the count itself.")
        client = self._client(user_id)
        # CountTokens takes an InvokeModel body, which must have max_tokens; count_tokens requests have none.
        parsed = body.parsed if "max_tokens" in body.parsed else {**body.parsed, "max_tokens": 1}
        payload = self._payload(model, parsed, beta_header)
        try:
            answer = client.client.count_tokens(modelId=model.foundation_id,
                                                input={"invokeModel": {"body": payload}})
        except ClientError as error:
            failure = BedrockFailure.from_error(error, model=model.requested)
            if failure.status == 400:  # this model cannot count on Bedrock: say so, never invent a number
                raise GatewayError(400, f"Overspill (Bedrock fallback): Bedrock cannot count tokens for "
                                        f"{body.model!r} ({failure.code}). Claude Code estimates the count "
                                        "itself.") from None
            raise failure from None
        except (ConnectionError, ReadTimeoutError):
            raise BedrockFailure.from_code("ServiceUnavailableException", None, model=model.requested) from None
        except BotoCoreError as error:
            raise _gateway_side(error) from None
        return orjson.dumps({"input_tokens": int(answer["inputTokens"])})

    def _client(self, user_id: str) -> BedrockClient:
        try:
            return self._clients.for_user(user_id)
        except CredentialsUnavailable as problem:
            if problem.transient:
                # Nothing wrong with the credentials: KMS (or their table) failed us for a moment.
                logger.warning("bedrock credentials could not be opened now", extra={"reason": problem.reason})
                raise GatewayError(
                    503, "Overspill: your Anthropic plan cannot take this request and the Bedrock fallback could "
                         "not open your Bedrock credentials just now, because AWS KMS (or the gateway's "
                         f"credentials store) is unavailable ({problem.reason}). This is a temporary problem on "
                         "the gateway's side, not with your request or your credentials; retrying should work.",
                    should_retry=True) from None
            logger.error("bedrock credentials unusable", extra={"reason": problem.reason})
            raise GatewayError(
                429, "Overspill: your Anthropic plan cannot take this request and the Bedrock fallback is "
                     f"unavailable because your Bedrock credentials could not be used ({problem.reason}). Ask "
                     "your Overspill admin to check them.", should_retry=False) from None

    def _payload(self, model: ResolvedModel, parsed: dict, beta_header: str | None) -> bytes:
        with self._lock:
            learned = self._learned.get(model.invoke_id) or _Learned()
            drop_betas = frozenset(learned.betas | self._always_drop.betas)
            drop_fields = frozenset(learned.fields | self._always_drop.fields)
        return to_bedrock_body(parsed, beta_header, extra_betas=model.extra_betas, drop_betas=drop_betas,
                               drop_fields=drop_fields)

    def _learn(self, model: ResolvedModel, error: ClientError) -> bool:
        """A 400 naming one beta or field this model does not take: drop it from now on. True to retry."""
        details = error.response.get("Error", {})
        if str(details.get("Code", "")).lower() != _VALIDATION:
            return False
        rejection = offending_item(str(details.get("Message", "")))
        if rejection is None:
            return False
        with self._lock:
            learned = self._learned.setdefault(model.invoke_id, _Learned())
            known = learned.betas if rejection.kind == "beta" else learned.fields
            if rejection.name in known:
                return False  # dropping it did not help: give the developer Bedrock's answer
            known.add(rejection.name)
        logger.warning("bedrock refused a %s; dropping it for this model from now on", rejection.kind,
                       extra={"model_id": model.invoke_id, "dropped": rejection.name})
        return True


def _gateway_side(error: BotoCoreError) -> GatewayError:
    """Bedrock was never asked: botocore itself failed (no credentials, a parameter it refused…)."""
    logger.error("bedrock call failed before reaching Bedrock", extra={"error": type(error).__name__})
    return GatewayError(
        502, f"Overspill (Bedrock fallback): the call failed on the gateway's side ({type(error).__name__}) "
             "before reaching Bedrock. Retrying will not help; ask your Overspill admin to check the gateway's logs.",
        should_retry=False)
