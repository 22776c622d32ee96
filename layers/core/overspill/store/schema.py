"""Table definitions derived from the pynamodb models: the single source for both the local emulator
(``create_tables``) and the CDK app (``infra``), so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model

from overspill.store.models import ALL_MODELS


@dataclass(frozen=True, slots=True)
class KeyAttr:
    name: str
    type: str  # "S" | "N" | "B"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    partition_key: KeyAttr
    sort_key: KeyAttr | None
    projection: str  # "ALL" | "KEYS_ONLY"


@dataclass(frozen=True, slots=True)
class TableSpec:
    settings_field: str  # the Settings field (and OVERSPILL_* variable) holding the table's name
    default_name: str
    partition_key: KeyAttr
    sort_key: KeyAttr | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None
    stream_view_type: str | None


def table_spec(model: type[Model]) -> TableSpec:
    schema = model._get_schema()
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}

    def keys(key_schema: list[dict[str, str]]) -> tuple[KeyAttr, KeyAttr | None]:
        by_kind = {k["KeyType"]: KeyAttr(k["AttributeName"], types[k["AttributeName"]]) for k in key_schema}
        return by_kind["HASH"], by_kind.get("RANGE")

    partition, sort = keys(schema["key_schema"])
    indexes = []
    for index in schema["global_secondary_indexes"]:
        index_partition, index_sort = keys(index["key_schema"])
        indexes.append(IndexSpec(index["index_name"], index_partition, index_sort,
                                 index["projection"]["ProjectionType"]))
    ttl = next((a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)), None)
    return TableSpec(
        settings_field=model.Meta.settings_field,
        default_name=model.Meta.table_name,
        partition_key=partition,
        sort_key=sort,
        indexes=tuple(indexes),
        ttl_attribute=ttl,
        stream_view_type=getattr(model.Meta, "stream_view_type", None),
    )


def all_table_specs() -> tuple[TableSpec, ...]:
    return tuple(table_spec(model) for model in ALL_MODELS)


def create_table_request(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """The CreateTable request the CDK app's table amounts to (on-demand billing)."""
    attributes = {spec.partition_key, *(k for k in (spec.sort_key,) if k)}
    for index in spec.indexes:
        attributes.update(k for k in (index.partition_key, index.sort_key) if k)

    def key_schema(partition: KeyAttr, sort: KeyAttr | None) -> list[dict[str, str]]:
        schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
        if sort:
            schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
        return schema

    request: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a.name, "AttributeType": a.type}
                                 for a in sorted(attributes, key=lambda a: a.name)],
        "KeySchema": key_schema(spec.partition_key, spec.sort_key),
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": key_schema(i.partition_key, i.sort_key),
             "Projection": {"ProjectionType": i.projection}}
            for i in spec.indexes
        ]
    if spec.stream_view_type:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
    return request
