"""The Glue tables finance queries with Athena: they read the CSV files exactly as the exporter writes them."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from infra.components.athena import glue_database_name, workgroup_name
from infra.components.exports import LAYOUTS
from overspill.exports.files import columns, render_csv
from overspill.exports.periods import Period, PeriodKind
from overspill.exports.rows import UsageRow
from overspill.usage.rollups import Counters
from tests.infra.conftest import Synth
from tests.infra.iam_policy import render

KINDS = [PeriodKind.DAILY, PeriodKind.MONTHLY]
# The CSV's columns as finance sees them in Athena (written out: a change is a reviewed change).
EXPECTED_COLUMNS = [
    ("period", "string"), ("user_id", "string"), ("user_name", "string"), ("team", "string"),
    ("cost_center", "string"), ("model", "string"), ("route", "string"), ("requests", "bigint"),
    ("errors", "bigint"), ("input_tokens", "bigint"), ("output_tokens", "bigint"),
    ("cache_write_5m_tokens", "bigint"), ("cache_write_1h_tokens", "bigint"), ("cache_read_tokens", "bigint"),
    ("cost_usd", "string"), ("unpriced_requests", "bigint"),
]
# What OpenCSVSerde can read as something other than a string (Athena's documentation).
OPENCSV_TYPES = {"string", "boolean", "int", "bigint", "double"}


def _table(synth: Synth, kind: PeriodKind) -> tuple[str, dict[str, Any]]:
    return synth.resource_of(synth.stack.catalog.tables[kind])


def _bucket_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.exports.bucket)


def test_one_database_named_for_the_stage(any_config):
    database_id, database = any_config.only("AWS::Glue::Database")
    assert database["Properties"] == {
        "CatalogId": {"Ref": "AWS::AccountId"},
        "DatabaseInput": {"Name": glue_database_name(any_config.config.stage),
                          "Description": database["Properties"]["DatabaseInput"]["Description"]},
    }
    assert re.fullmatch(r"[a-z][a-z0-9_]*", glue_database_name(any_config.config.stage))
    assert glue_database_name("my-stage") == "overspill_my_stage"
    assert len(any_config.resources("AWS::Glue::Table")) == 2
    for kind in KINDS:
        assert _table(any_config, kind)[1]["Properties"]["DatabaseName"] == {"Ref": database_id}


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_columns_are_the_csv_columns_in_order_with_readable_types(any_stage, kind):
    descriptor = _table(any_stage, kind)[1]["Properties"]["TableInput"]["StorageDescriptor"]
    got = [(c["Name"], c["Type"]) for c in descriptor["Columns"]]
    assert got == EXPECTED_COLUMNS
    # The same names, in the same order, as the exporter's header — but the first, which is the period.
    header = list(columns(kind))
    assert header[0] == {PeriodKind.DAILY: "date", PeriodKind.MONTHLY: "month"}[kind]
    assert [name for name, _ in got][1:] == header[1:]
    assert {t for _, t in got} <= OPENCSV_TYPES  # no decimal: OpenCSVSerde cannot read it (cast cost_usd)
    cost = next(c for c in descriptor["Columns"] if c["Name"] == "cost_usd")
    assert "CAST(cost_usd AS DECIMAL(38, 10))" in cost["Comment"]


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_the_table_reads_rfc4180_csv_with_a_header(any_stage, kind):
    props = _table(any_stage, kind)[1]["Properties"]["TableInput"]
    descriptor = props["StorageDescriptor"]
    assert props["TableType"] == "EXTERNAL_TABLE"
    assert props["Parameters"]["classification"] == "csv"
    assert props["Parameters"]["skip.header.line.count"] == "1"
    assert descriptor["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        "Parameters": {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
    }
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert descriptor["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert descriptor["Compressed"] is False


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_partitions_are_projected_over_the_exporters_folders(any_stage, kind):
    props = _table(any_stage, kind)[1]["Properties"]["TableInput"]
    layout = LAYOUTS[kind]
    partition = {PeriodKind.DAILY: "dt", PeriodKind.MONTHLY: "month"}[kind]
    assert layout.partition == partition
    assert props["PartitionKeys"] == [{"Name": partition, "Type": "string",
                                       "Comment": props["PartitionKeys"][0]["Comment"]}]
    parameters = props["Parameters"]
    projection = {k: v for k, v in parameters.items() if k.startswith("projection.")}
    assert projection == {
        "projection.enabled": "true",
        f"projection.{partition}.type": "date",
        f"projection.{partition}.format": {PeriodKind.DAILY: "yyyy-MM-dd", PeriodKind.MONTHLY: "yyyy-MM"}[kind],
        f"projection.{partition}.range": {PeriodKind.DAILY: "2025-01-01,NOW", PeriodKind.MONTHLY: "2025-01,NOW"}[kind],
        f"projection.{partition}.interval": "1",
        f"projection.{partition}.interval.unit": {PeriodKind.DAILY: "DAYS", PeriodKind.MONTHLY: "MONTHS"}[kind],
    }
    bucket = f"<{_bucket_id(any_stage)}>"
    # Fn::Sub writes ${!dt} for a literal ${dt}: what Athena gets is the exporter's folder per partition value.
    template = parameters["storage.location.template"]["Fn::Sub"]
    assert template[1] == {"Bucket": {"Ref": _bucket_id(any_stage)}}
    rendered = template[0].replace("${Bucket}", bucket).replace(f"${{!{partition}}}", f"${{{partition}}}")
    assert rendered == layout.location_template(bucket)
    assert render(props["StorageDescriptor"]["Location"]) == f"s3://{bucket}/{layout.prefix}"


def _rows(kind: PeriodKind) -> list[UsageRow]:
    period = Period.day(date(2026, 3, 14)) if kind is PeriodKind.DAILY else Period.month(2026, 3)
    counters = Counters(requests=3, errors=1, input_tokens=1200, output_tokens=340, cache_write_5m_tokens=10,
                        cache_write_1h_tokens=20, cache_read_tokens=30_000, cost_usd=Decimal("0.1234567891"),
                        unpriced_requests=0)
    return [UsageRow(period.label, "usr_ada", 'Lovelace, Ada "Countess"', "platform", "CC-1", "claude-opus-4-8",
                     "bedrock", counters),
            UsageRow(period.label, "usr_bob", None, "", None, "claude-haiku-4-5", "plan", Counters(requests=1))]


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_a_file_the_exporter_writes_fits_the_table(dev, kind):
    """Render a file with the exporter's own code and read it the way the table declares: one header line,
    then as many fields per row as the table has columns, numbers where it says bigint, an exact decimal in
    cost_usd — also when a name has a comma and quotes in it."""
    descriptor = _table(dev, kind)[1]["Properties"]["TableInput"]["StorageDescriptor"]
    body = render_csv(kind, _rows(kind)).decode("utf-8")
    assert "\n" not in body.replace("\r\n", "")  # OpenCSVSerde cannot read line breaks inside a field
    lines = list(csv.reader(io.StringIO(body, newline=""), delimiter=",", quotechar='"', doublequote=True))
    header, *rows = lines
    assert header == list(columns(kind))
    assert len(rows) == 2
    for row in rows:
        assert len(row) == len(descriptor["Columns"])
        for value, column in zip(row, descriptor["Columns"], strict=True):
            if column["Type"] == "bigint":
                assert re.fullmatch(r"\d+", value), (column["Name"], value)
        cost = row[[c["Name"] for c in descriptor["Columns"]].index("cost_usd")]
        assert re.fullmatch(r"\d+\.\d{10}", cost) and Decimal(cost) == Decimal(cost).quantize(Decimal("1E-10"))
    assert rows[0][2] == 'Lovelace, Ada "Countess"'
    assert rows[0][0] == _rows(kind)[0].period  # the period column holds the partition's value


def test_the_workgroup_keeps_results_in_the_bucket_encrypted_and_enforced(any_stage):
    _, workgroup = any_stage.only("AWS::Athena::WorkGroup")
    props = workgroup["Properties"]
    assert props["Name"] == workgroup_name(any_stage.config.stage) == f"overspill-{any_stage.config.stage}"
    assert props["State"] == "ENABLED"
    configuration = props["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    results = configuration["ResultConfiguration"]
    bucket = f"<{_bucket_id(any_stage)}>"
    assert render(results["OutputLocation"]) == f"s3://{bucket}/athena-results/"
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert results["ExpectedBucketOwner"] == {"Ref": "AWS::AccountId"}
    # Results never land where the tables read (they would be read as usage rows).
    assert all(not "athena-results/".startswith(layout.prefix) for layout in LAYOUTS.values())


def test_the_workgroup_is_kept_in_prod_and_deletable_elsewhere(prod, dev):
    _, prod_workgroup = prod.only("AWS::Athena::WorkGroup")
    _, dev_workgroup = dev.only("AWS::Athena::WorkGroup")
    assert prod_workgroup["DeletionPolicy"] == "Retain"
    assert prod_workgroup["Properties"]["RecursiveDeleteOption"] is False
    assert dev_workgroup["DeletionPolicy"] == "Delete"
    assert dev_workgroup["Properties"]["RecursiveDeleteOption"] is True


def test_catalog_names_are_outputs(any_stage):
    outputs = any_stage.json["Outputs"]
    database_id, _ = any_stage.only("AWS::Glue::Database")
    workgroup_id, _ = any_stage.only("AWS::Athena::WorkGroup")
    assert outputs["GlueDatabaseName"]["Value"] == {"Ref": database_id}
    assert outputs["GlueDailyTableName"]["Value"] == {"Ref": _table(any_stage, PeriodKind.DAILY)[0]}
    assert outputs["GlueMonthlyTableName"]["Value"] == {"Ref": _table(any_stage, PeriodKind.MONTHLY)[0]}
    assert outputs["AthenaWorkGroupName"]["Value"] == {"Ref": workgroup_id}
    names = {kind: _table(any_stage, kind)[1]["Properties"]["TableInput"]["Name"] for kind in KINDS}
    assert names == {PeriodKind.DAILY: "usage_daily", PeriodKind.MONTHLY: "usage_monthly"}
