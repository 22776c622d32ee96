"""Deployment configuration: CDK context in, one validated, frozen object out.

Every value has a default in cdk.json and can be overridden per deploy (``cdk deploy -c stage=prod``).
Values given with ``-c`` arrive as strings; they are converted and checked here, with errors that name the
context key, so a typo fails at synth rather than half-way through a deployment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from infra.bedrock_access import UngrantableModel, bedrock_access
from overspill.bedrock.models import GEOGRAPHIES, parse_model_map
from overspill.config import SettingsError

PRODUCTION_STAGES = frozenset({"prod", "production"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Lowercase so names derived from it (stack, tags) are valid everywhere; short so they stay readable.
_STAGE = re.compile(r"[a-z][a-z0-9-]{0,15}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
LAMBDA_MEMORY_MB = (128, 10_240)
# The map travels in an environment variable; Lambda allows 4 KB for all of them together.
MODEL_MAP_MAX_CHARS = 2048
# The admin function's timeout: long enough for an on-demand export, at most Lambda's limit.
ADMIN_TIMEOUT_S = (30, 900)
# Concurrent batches per stream shard (Lambda's range for DynamoDB Streams).
PARALLELIZATION_FACTOR = (1, 10)
# The optional API Gateway front: stage throttling (API Gateway's default account quotas are 10,000 requests/s with
# bursts of 5,000) and the WAF rate-based rule's per-IP limit over 5 minutes (AWS WAF's range).
REST_API_RATE_LIMIT = (1, 10_000)
REST_API_BURST_LIMIT = (1, 5_000)
WAF_RATE_LIMIT_PER_5MIN = (10, 2_000_000_000)
# The proxy's optional throttle of repeated rejected access keys per source address (overspill/proxy/abuse.py):
# rejections one address may have within the window (0: off), and the window, at most an hour (a longer one would
# lock a shared office address out for longer than anyone would wait).
KEY_FAILURE_LIMIT = (0, 10_000)
KEY_FAILURE_WINDOW_S = (1, 3_600)
# Deliberately plain: one address, no display name or list (SNS confirms it by mail before anything is sent).
_EMAIL = re.compile(r"[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[A-Za-z]{2,}")
# A DNS name CloudFront can serve: lowercase labels of letters, digits and '-', at least two, no wildcard.
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
# A regional ACM certificate (API Gateway's regional domains); CloudFront takes its certificates from ACM in
# us-east-1 only, whatever the stack's Region.
_REGIONAL_CERTIFICATE = re.compile(
    r"arn:aws[a-z-]*:acm:[a-z]{2}(-[a-z]+){1,2}-\d{1,2}:\d{12}:certificate/[0-9a-f-]{36}")
_CLOUDFRONT_CERTIFICATE = re.compile(r"arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}")


class ConfigError(ValueError):
    """A context value is missing or malformed; the message names the context key."""


def _check_whole_numbers(*checks: tuple[str, Any, tuple[int, int], str]) -> None:
    """Each (context key, value, (lowest, highest), what it means): a whole number in range, else a ConfigError."""
    for key, value, (low, high), what in checks:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"context {key!r} must be a whole number from {low} to {high} ({what}); got {value!r}")


@dataclass(frozen=True, slots=True)
class DeployConfig:
    stage: str = "dev"
    bedrock_region: str = "us-east-1"
    # The inference-profile prefix the proxy puts on Bedrock model ids (overspill.bedrock.models.GEOGRAPHIES).
    bedrock_geography: str = "us"
    # Extra or replaced model mappings (requested name → Bedrock id, profile id or ARN), sorted by name. The IAM
    # policy is derived from them, so a mapping takes effect only through a deploy.
    bedrock_model_map: tuple[tuple[str, str], ...] = ()
    proxy_memory_mb: int = 1024
    usage_retention_days: int = 400
    anthropic_url: str = "https://api.anthropic.com"
    log_level: str = "INFO"
    # The export function reads a whole month of events when the monthly schedule runs.
    export_memory_mb: int = 512
    # Batches of one usage-stream shard processed at once by the rollup function (order does not matter to it:
    # its additions commute; more means more transaction conflicts on the shared org rows).
    rollup_parallelization_factor: int = 1
    # Days an overwritten or deleted export file is kept (the bucket is versioned): a re-run never loses a file.
    exports_noncurrent_version_days: int = 90
    # Where the alarms are mailed (an SNS email subscription); "" for none (subscribe to the topic otherwise).
    alarm_email: str = ""
    # The Bedrock fallback-share alarm: Bedrock's percentage of all requests over 15 minutes above which it fires.
    fallback_alarm_percent: int = 50
    # The admin function answers the dashboard and the CLI; an on-demand export runs inside one of its requests
    # (a month of days), so its timeout is minutes, not seconds.
    admin_memory_mb: int = 512
    admin_timeout_s: int = 300
    # The dashboard's origin when it is served from elsewhere than the admin API (CORS); "" for none.
    admin_cors_origin: str = ""
    # An API Gateway REST API with AWS WAF in front of the proxy (infra/components/rest_api.py), besides the
    # Function URL. Its stage's steady rate and burst (requests/s, all clients together) and the WAF's per-IP limit
    # (requests per 5 minutes: an office behind one NAT address shares it).
    rest_api: bool = False
    rest_api_rate_limit: int = 100
    rest_api_burst_limit: int = 200
    waf_rate_limit_per_5min: int = 3000
    # The REST front under a domain of its own and that domain's ACM certificate in the stack's Region: both or
    # neither (and only with restApi); "" keeps API Gateway's execute-api name.
    rest_api_domain_name: str = ""
    rest_api_certificate_arn: str = ""
    # The dashboard under a domain of its own (a CloudFront alternate name) and that domain's ACM certificate in
    # us-east-1: both or neither; "" serves it under the distribution's *.cloudfront.net name.
    web_domain_name: str = ""
    web_certificate_arn: str = ""
    # Off by default (docs/decisions.md): keys cannot be guessed, and a shared address would lock out everyone on it.
    key_failure_limit: int = 0
    key_failure_window_s: int = 60

    def __post_init__(self) -> None:
        if not isinstance(self.stage, str) or not _STAGE.fullmatch(self.stage) or self.stage.endswith("-"):
            raise ConfigError(
                f"context 'stage' must be 1-16 characters of lowercase letters, digits and '-', starting with "
                f"a letter and not ending with '-' (it names the stack Overspill-<stage>); got {self.stage!r}")
        if not isinstance(self.bedrock_region, str) or not _REGION.fullmatch(self.bedrock_region):
            raise ConfigError(f"context 'bedrockRegion' must be an AWS region such as 'us-east-1'; "
                              f"got {self.bedrock_region!r}")
        if self.bedrock_geography not in GEOGRAPHIES:
            raise ConfigError(f"context 'bedrockGeography' must be one of {', '.join(GEOGRAPHIES)} (the Bedrock "
                              f"inference-profile prefix); got {self.bedrock_geography!r}")
        self._check_model_map()
        low, high = LAMBDA_MEMORY_MB
        if not low <= self.proxy_memory_mb <= high:
            raise ConfigError(f"context 'proxyMemoryMb' must be a whole number of MB from {low} to {high} "
                              f"(Lambda's limits); got {self.proxy_memory_mb}")
        if not low <= self.export_memory_mb <= high:
            raise ConfigError(f"context 'exportMemoryMb' must be a whole number of MB from {low} to {high} "
                              f"(Lambda's limits); got {self.export_memory_mb}")
        low, high = PARALLELIZATION_FACTOR
        if not low <= self.rollup_parallelization_factor <= high:
            raise ConfigError(f"context 'rollupParallelizationFactor' must be from {low} to {high} (batches per "
                              f"stream shard at once, Lambda's limits); got {self.rollup_parallelization_factor}")
        if not 1 <= self.exports_noncurrent_version_days <= 3650:
            raise ConfigError(f"context 'exportsNoncurrentVersionDays' must be from 1 to 3650 days (how long a "
                              f"replaced export file is kept); got {self.exports_noncurrent_version_days}")
        if not isinstance(self.alarm_email, str) or (self.alarm_email and not _EMAIL.fullmatch(self.alarm_email)):
            raise ConfigError(f"context 'alarmEmail' must be one email address (e.g. ops@example.com) to receive the "
                              f"alarms, or empty for none; got {self.alarm_email!r}")
        if not 1 <= self.fallback_alarm_percent <= 100:
            raise ConfigError(f"context 'fallbackAlarmPercent' must be from 1 to 100 (Bedrock's share of all requests "
                              f"over 15 minutes above which the alarm fires); got {self.fallback_alarm_percent}")
        low, high = LAMBDA_MEMORY_MB
        if not low <= self.admin_memory_mb <= high:
            raise ConfigError(f"context 'adminMemoryMb' must be a whole number of MB from {low} to {high} "
                              f"(Lambda's limits); got {self.admin_memory_mb}")
        low, high = ADMIN_TIMEOUT_S
        if not low <= self.admin_timeout_s <= high:
            raise ConfigError(f"context 'adminTimeoutSeconds' must be from {low} to {high} seconds (an on-demand "
                              f"export runs within one admin request; Lambda allows 900); got {self.admin_timeout_s}")
        self._check_cors_origin()
        self._check_rest_api()
        self._check_web_domain()
        self._check_key_failure_throttle()
        if not 1 <= self.usage_retention_days <= 3650:
            raise ConfigError(f"context 'usageRetentionDays' must be from 1 to 3650 days; "
                              f"got {self.usage_retention_days}")
        parts = urlsplit(self.anthropic_url) if isinstance(self.anthropic_url, str) else None
        if parts is None or parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"context 'anthropicUrl' must be an https URL without query or fragment "
                              f"(e.g. https://api.anthropic.com); got {self.anthropic_url!r}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"context 'logLevel' must be one of {', '.join(LOG_LEVELS)}; "
                              f"got {self.log_level!r}")

    def _check_model_map(self) -> None:
        pairs = self.bedrock_model_map
        if not isinstance(pairs, tuple) or not all(
                isinstance(p, tuple) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs):
            raise ConfigError(f"context 'bedrockModelMap' must be a JSON object from model name to Bedrock model "
                              f"id; got {pairs!r}")
        if len(self.bedrock_model_map_json) > MODEL_MAP_MAX_CHARS:
            raise ConfigError(f"context 'bedrockModelMap' is {len(self.bedrock_model_map_json)} characters as JSON; "
                              f"at most {MODEL_MAP_MAX_CHARS} fit in the function's environment (Lambda: 4 KB for "
                              "all variables)")
        try:
            # What the proxy will do with the variable: the same parser, the same errors; and every target
            # must have resources an exact IAM grant can name (the account is a stand-in here).
            parse_model_map(self.bedrock_model_map_json or None)
            bedrock_access(geography=self.bedrock_geography, overrides=dict(pairs), region=self.bedrock_region,
                           account="123456789012", partition="aws")
        except (SettingsError, UngrantableModel) as error:
            raise ConfigError(f"context 'bedrockModelMap': {error}") from None

    def _check_cors_origin(self) -> None:
        origin = self.admin_cors_origin
        parts = urlsplit(origin) if isinstance(origin, str) else None
        if origin == "":
            return
        # What a browser sends as Origin, exactly: scheme, host and port, nothing else (no trailing slash).
        if (parts is None or parts.scheme not in ("https", "http") or not parts.hostname or parts.path
                or parts.query or parts.fragment or parts.username or "*" in origin):
            raise ConfigError(f"context 'adminCorsOrigin' must be the dashboard's origin, e.g. "
                              f"https://admin.example.com (scheme, host and port only), or empty for none; "
                              f"got {origin!r}")

    def _check_web_domain(self) -> None:
        domain, certificate = self.web_domain_name, self.web_certificate_arn
        if not isinstance(domain, str) or not isinstance(certificate, str) or bool(domain) != bool(certificate):
            raise ConfigError(f"context 'webDomainName' and 'webCertificateArn' go together: give both (the "
                              f"dashboard's domain and its ACM certificate in us-east-1) or neither; got "
                              f"webDomainName={domain!r}, webCertificateArn={certificate!r}")
        if not domain:
            return
        if not _DOMAIN.fullmatch(domain):
            raise ConfigError(f"context 'webDomainName' must be a domain name such as admin.example.com (no scheme, "
                              f"path or wildcard); got {domain!r}")
        if not _CLOUDFRONT_CERTIFICATE.fullmatch(certificate):
            raise ConfigError(f"context 'webCertificateArn' must be the ARN of an ACM certificate in us-east-1 "
                              f"(CloudFront uses no other Region), e.g. arn:aws:acm:us-east-1:123456789012:"
                              f"certificate/<id>; got {certificate!r}")

    def _check_key_failure_throttle(self) -> None:
        _check_whole_numbers(
            ("keyFailureLimit", self.key_failure_limit, KEY_FAILURE_LIMIT,
             "requests with a rejected access key from one address within the window before it gets 429s; 0: off"),
            ("keyFailureWindowSeconds", self.key_failure_window_s, KEY_FAILURE_WINDOW_S,
             "seconds over which the proxy counts one address's rejected access keys"))

    def _check_rest_api(self) -> None:
        if not isinstance(self.rest_api, bool):
            raise ConfigError(f"context 'restApi' must be true or false; got {self.rest_api!r}")
        _check_whole_numbers(
            ("restApiRateLimit", self.rest_api_rate_limit, REST_API_RATE_LIMIT,
             "requests per second through the API Gateway stage, all clients together"),
            ("restApiBurstLimit", self.rest_api_burst_limit, REST_API_BURST_LIMIT,
             "requests the API Gateway stage takes at once above its rate"),
            ("wafRateLimitPer5Min", self.waf_rate_limit_per_5min, WAF_RATE_LIMIT_PER_5MIN,
             "requests from one IP address in 5 minutes before AWS WAF blocks it"))
        domain, certificate = self.rest_api_domain_name, self.rest_api_certificate_arn
        if not isinstance(domain, str) or not isinstance(certificate, str) or bool(domain) != bool(certificate):
            raise ConfigError(f"context 'restApiDomainName' and 'restApiCertificateArn' go together: give both (the "
                              f"REST front's domain and its ACM certificate in the stack's Region) or neither; got "
                              f"restApiDomainName={domain!r}, restApiCertificateArn={certificate!r}")
        if not domain:
            return
        if not self.rest_api:
            raise ConfigError("context 'restApiDomainName' needs restApi=true (it names the REST front)")
        if not _DOMAIN.fullmatch(domain):
            raise ConfigError(f"context 'restApiDomainName' must be a domain name such as claude.example.com (no "
                              f"scheme, path or wildcard); got {domain!r}")
        if not _REGIONAL_CERTIFICATE.fullmatch(certificate):
            raise ConfigError(f"context 'restApiCertificateArn' must be the ARN of an ACM certificate, e.g. "
                              f"arn:aws:acm:eu-west-1:123456789012:certificate/<id>; got {certificate!r}")

    @property
    def model_overrides(self) -> dict[str, str]:
        return dict(self.bedrock_model_map)

    @property
    def bedrock_model_map_json(self) -> str:
        """``OVERSPILL_BEDROCK_MODEL_MAP``: compact JSON, or "" when there are no overrides."""
        if not self.bedrock_model_map:
            return ""
        return json.dumps(dict(self.bedrock_model_map), separators=(",", ":"), sort_keys=True)

    @property
    def is_production(self) -> bool:
        """Production-like stages keep their data: deletion protection, RETAIN, point-in-time recovery."""
        return self.stage in PRODUCTION_STAGES

    @property
    def stack_name(self) -> str:
        return f"Overspill-{self.stage}"

    @property
    def log_retention_days(self) -> int:
        return 365 if self.is_production else 30

    @classmethod
    def from_context(cls, context: Callable[[str], Any] | Mapping[str, Any]) -> DeployConfig:
        """Read from a CDK node's ``try_get_context`` (or a plain mapping, for tests)."""
        get = context.get if isinstance(context, Mapping) else context
        values: dict[str, Any] = {}
        for key, (field_name, convert) in _CONTEXT_KEYS.items():
            raw = get(key)
            if raw is None or raw == "":
                continue
            values[field_name] = convert(key, raw)
        return cls(**values)


def _text(key: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ConfigError(f"context {key!r} must be a string; got {raw!r}")
    return raw.strip()


def _integer(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"context {key!r} must be a whole number; got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
        return int(raw)
    raise ConfigError(f"context {key!r} must be a whole number; got {raw!r}")


def _boolean(key: str, raw: Any) -> bool:
    """true/false in cdk.json, "true"/"false" with -c."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ConfigError(f"context {key!r} must be true or false; got {raw!r}")


def _upper(key: str, raw: Any) -> str:
    return _text(key, raw).upper()


def _lower(key: str, raw: Any) -> str:
    return _text(key, raw).lower()


def _model_map(key: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """A JSON object: as such in cdk.json, as a string with ``-c bedrockModelMap='{"…": "…"}'``."""
    if isinstance(raw, Mapping):
        text = json.dumps(dict(raw))
    elif isinstance(raw, str):
        text = raw
    else:
        raise ConfigError(f"context {key!r} must be a JSON object from model name to Bedrock model id; got {raw!r}")
    try:
        mapping = parse_model_map(text)
    except SettingsError as error:
        raise ConfigError(f"context {key!r}: {error}") from None
    return tuple(sorted(mapping.items()))


_CONTEXT_KEYS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "stage": ("stage", _text),
    "bedrockRegion": ("bedrock_region", _text),
    "bedrockGeography": ("bedrock_geography", _lower),
    "bedrockModelMap": ("bedrock_model_map", _model_map),
    "proxyMemoryMb": ("proxy_memory_mb", _integer),
    "usageRetentionDays": ("usage_retention_days", _integer),
    "anthropicUrl": ("anthropic_url", _text),
    "logLevel": ("log_level", _upper),
    "exportMemoryMb": ("export_memory_mb", _integer),
    "rollupParallelizationFactor": ("rollup_parallelization_factor", _integer),
    "exportsNoncurrentVersionDays": ("exports_noncurrent_version_days", _integer),
    "alarmEmail": ("alarm_email", _text),
    "fallbackAlarmPercent": ("fallback_alarm_percent", _integer),
    "adminMemoryMb": ("admin_memory_mb", _integer),
    "adminTimeoutSeconds": ("admin_timeout_s", _integer),
    "adminCorsOrigin": ("admin_cors_origin", _text),
    "restApi": ("rest_api", _boolean),
    "restApiRateLimit": ("rest_api_rate_limit", _integer),
    "restApiBurstLimit": ("rest_api_burst_limit", _integer),
    "wafRateLimitPer5Min": ("waf_rate_limit_per_5min", _integer),
    "restApiDomainName": ("rest_api_domain_name", _lower),
    "restApiCertificateArn": ("rest_api_certificate_arn", _text),
    "webDomainName": ("web_domain_name", _lower),
    "webCertificateArn": ("web_certificate_arn", _text),
    "keyFailureLimit": ("key_failure_limit", _integer),
    "keyFailureWindowSeconds": ("key_failure_window_s", _integer),
}
CONTEXT_KEYS = tuple(_CONTEXT_KEYS)
