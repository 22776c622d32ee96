"""Prices and model mappings: what the gateway charges and which Bedrock model answers each name.

GET (finance or admin) shows the effective result and the stored admin document with its version; PUT (admin)
replaces the document, sending back the version it read (409 if someone changed it since). Changes reach
every proxy instance within ``refresh_s`` seconds, without a redeploy.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter
from pydantic import BaseModel, Field

from overspill.admin.api import actor, endpoint, scope
from overspill.admin.identity import Role
from overspill.admin.pricing import MappingState, PricingState
from overspill.admin.schemas import STRICT
from overspill.pricing.prices import AS_OF

router = LambdaFunctionUrlRouter()
TAGS = ["pricing"]

Version = Annotated[int, Field(strict=True, ge=0, description="The version you read (0 when there was none yet)")]


# --- prices ---------------------------------------------------------------------------------------------------

class LongContextView(BaseModel):
    above_input_tokens: int = Field(description="A request whose input (with cache writes and reads) exceeds "
                                                "this pays the factors on every token")
    input_factor: Decimal
    output_factor: Decimal


class ModelPrice(BaseModel):
    """A model's list prices in USD per million tokens (plan traffic; Bedrock adds its geography multiplier)."""

    model: str
    aliases: list[str] = Field(description="Other names priced by this entry (undated names)")
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    long_context: LongContextView | None
    bedrock_geography_premium: bool = Field(description="Bedrock charges its geography multiplier for it")
    overridden: bool = Field(description="An admin override changes or adds this entry")
    source: str


class PriceOverrides(BaseModel):
    models: dict[str, Any]
    bedrock_multipliers: dict[str, Any]


class PricingView(BaseModel):
    table_as_of: str = Field(description="When the built-in list prices were read")
    models: list[ModelPrice]
    bedrock_multipliers: dict[str, Decimal] = Field(
        description="Bedrock price = list price x the multiplier of the geography its model id names")
    overrides: PriceOverrides = Field(description="The overrides document as stored")
    version: int
    updated_at: datetime | None
    updated_by: str | None
    refresh_s: float = Field(description="Every proxy instance applies a change within this many seconds")
    problem: str | None = Field(description="Set when the stored document is invalid (and so ignored)")


class PriceOverridesInput(BaseModel):
    model_config = STRICT

    version: Version
    models: dict[str, Any] = Field(
        max_length=200,
        description="Model name -> the fields it changes: input, output, cache_write_5m, cache_write_1h, "
                    "cache_read (USD per million tokens, as strings), bedrock_geography_premium, long_context "
                    "({above_input_tokens, input_factor, output_factor} or null). A model not in the table "
                    "needs all five prices.",
        examples=[{"claude-opus-4-8": {"input": "4.50", "output": "22.50"}}])
    bedrock_multipliers: dict[str, Any] = Field(
        default_factory=dict, max_length=50,
        description="Geography (inference-profile prefix, in-region, unknown) -> multiplier",
        examples=[{"eu": "1.15"}])


def _pricing_view(state: PricingState) -> PricingView:
    table = state.table
    aliases: dict[str, list[str]] = {}
    for alias, name in table.aliases.items():
        aliases.setdefault(name, []).append(alias)
    models = []
    for name in sorted(table.prices):
        price = table.prices[name]
        tier = price.long_context
        models.append(ModelPrice(
            model=name, aliases=sorted(aliases.get(name, [])), input=price.input, output=price.output,
            cache_write_5m=price.cache_write_5m, cache_write_1h=price.cache_write_1h, cache_read=price.cache_read,
            long_context=None if tier is None else LongContextView(
                above_input_tokens=tier.above_input_tokens, input_factor=tier.input_factor,
                output_factor=tier.output_factor),
            bedrock_geography_premium=price.bedrock_geography_premium, overridden=name in state.overridden,
            source=price.source))
    document = state.document
    return PricingView(table_as_of=AS_OF, models=models, bedrock_multipliers=dict(table.bedrock_multipliers),
                       overrides=PriceOverrides(models=state.models, bedrock_multipliers=state.bedrock_multipliers),
                       version=document.version, updated_at=document.updated_at, updated_by=document.updated_by,
                       refresh_s=scope().services.pricing.refresh_s, problem=state.problem)


@endpoint(router, "GET", "/api/pricing", role=Role.FINANCE, tags=TAGS,
          summary="Effective prices of every model, Bedrock geography multipliers and the stored overrides")
def get_pricing() -> PricingView:
    return _pricing_view(scope().services.pricing.pricing())


@endpoint(router, "PUT", "/api/pricing/overrides", role=Role.ADMIN, tags=TAGS,
          summary="Replace the price overrides (send the version you read; 409 if it changed)")
def put_price_overrides(body: PriceOverridesInput) -> PricingView:
    state = scope().services.pricing.replace_overrides(actor(), version=body.version, models=body.models,
                                                        bedrock_multipliers=body.bedrock_multipliers)
    return _pricing_view(state)


# --- model mappings -------------------------------------------------------------------------------------------

class EffectiveMappingView(BaseModel):
    model: str = Field(description="The model name a client asks for")
    bedrock_model_id: str | None = Field(description="What Bedrock is called with; null: not available")
    foundation_model_id: str | None = Field(description="For token counting; null when the id does not say")
    source: Literal["admin", "settings", "built_in"]
    problem: str | None


class ModelMappingsView(BaseModel):
    geography: str = Field(description="The inference-profile prefix of the built-in mappings")
    built_in: dict[str, str]
    settings: dict[str, str] = Field(description="OVERSPILL_BEDROCK_MODEL_MAP, set at deploy time")
    admin: dict[str, str] = Field(description="The admins' map, over the settings map")
    version: int
    updated_at: datetime | None
    updated_by: str | None
    effective: list[EffectiveMappingView]
    refresh_s: float = Field(description="Every proxy instance applies a change within this many seconds")
    problem: str | None = Field(description="Set when the stored map is invalid (and so ignored)")


class ModelMappingsInput(BaseModel):
    model_config = STRICT

    version: Version
    mappings: dict[str, str] = Field(
        max_length=200,
        description="Requested model name -> Bedrock model id, inference-profile id or ARN. The proxy's own role "
                    "may invoke only the models granted at deploy time (bedrockModelMap); a new target works for "
                    "users with their own Bedrock credentials, or once granted.",
        examples=[{"claude-opus-5": "us.anthropic.claude-opus-5-v1:0"}])


def _mappings_view(state: MappingState) -> ModelMappingsView:
    document = state.document
    return ModelMappingsView(
        geography=state.geography, built_in=state.built_in, settings=state.settings, admin=state.admin,
        version=document.version, updated_at=document.updated_at, updated_by=document.updated_by,
        effective=[EffectiveMappingView(model=m.model, bedrock_model_id=m.bedrock_model_id,
                                        foundation_model_id=m.foundation_model_id, source=m.source, problem=m.problem)
                   for m in state.effective],
        refresh_s=scope().services.pricing.refresh_s, problem=state.problem)


@endpoint(router, "GET", "/api/model-mappings", role=Role.FINANCE, tags=TAGS,
          summary="Which Bedrock model answers each model name: built in, deployment, admin map and the result")
def get_model_mappings() -> ModelMappingsView:
    return _mappings_view(scope().services.pricing.mappings())


@endpoint(router, "PUT", "/api/model-mappings", role=Role.ADMIN, tags=TAGS,
          summary="Replace the admin model map (send the version you read; 409 if it changed)")
def put_model_mappings(body: ModelMappingsInput) -> ModelMappingsView:
    return _mappings_view(scope().services.pricing.replace_mappings(actor(), version=body.version,
                                                                    mappings=body.mappings))
