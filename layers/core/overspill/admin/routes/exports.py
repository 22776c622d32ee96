"""Finance exports: GET /api/exports (what the bucket holds), GET /api/exports/<kind>/<period>/download (a
15-minute link to the CSV) and POST /api/exports (run the export for a range now; admins only)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter
from pydantic import BaseModel, Field, field_serializer

from overspill.admin.api import actor, endpoint, scope
from overspill.admin.exports import ExportRecord
from overspill.admin.identity import Role
from overspill.admin.schemas import STRICT, Day
from overspill.exports.files import totals_document
from overspill.exports.periods import PeriodKind

router = LambdaFunctionUrlRouter()

# Checked by the exporter itself, whose messages (the same as the export function's) say what is wrong.
DayText = Annotated[str, Field(max_length=40, description="A UTC date, YYYY-MM-DD", examples=["2026-02-01"])]


class ExportTotals(BaseModel):
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    cost_usd: Decimal = Field(description="Priced requests only; an exact decimal, as a string")
    unpriced_requests: int

    @field_serializer("cost_usd")
    def _fixed_point(self, cost: Decimal) -> str:
        return format(cost, "f")   # as in the CSV: "0.0000000000", never "0E-10"


class ExportView(BaseModel):
    kind: PeriodKind
    period: str = Field(description="YYYY-MM-DD (daily) or YYYY-MM (monthly)")
    rows: int
    events_read: int
    totals: ExportTotals
    complete: bool = Field(description="Whether the period had settled when it was read; if not, running it "
                                       "again later may find late usage")
    generated_at: datetime
    csv_bytes: int
    sha256: str = Field(description="SHA-256 of the CSV, hex")


class ExportList(BaseModel):
    kind: PeriodKind
    first: date = Field(serialization_alias="from")
    last: date = Field(serialization_alias="to")
    items: list[ExportView] = Field(description="Newest period first")


class DownloadView(BaseModel):
    url: str = Field(description="Pre-signed GET of the CSV")
    expires_at: datetime
    filename: str
    manifest_url: str = Field(description="Pre-signed GET of the manifest (JSON), good as long as url")


class ExportRunRequest(BaseModel):
    model_config = STRICT
    kind: PeriodKind = Field(description="daily: at most 31 days; monthly: whole months, at most 12. Months a "
                                         "daily range covers whole get their monthly file too, as in the "
                                         "export function")
    first: DayText = Field(alias="from")
    last: DayText = Field(alias="to")


class ExportRunView(BaseModel):
    kind: PeriodKind
    first: date = Field(serialization_alias="from")
    last: date = Field(serialization_alias="to")
    events_read: int
    totals: ExportTotals = Field(description="Of the daily files written")
    written: list[ExportView] = Field(description="Each file written, with its manifest's figures, in the order "
                                                  "written")


def _view(record: ExportRecord) -> ExportView:
    return ExportView(kind=record.kind, period=record.period, rows=record.rows, events_read=record.events_read,
                      totals=ExportTotals(**record.totals), complete=record.complete,
                      generated_at=record.generated_at, csv_bytes=record.csv_bytes, sha256=record.sha256)


@endpoint(router, "GET", "/api/exports", role=Role.FINANCE, tags=["exports"],
          summary="List the exports in the bucket for a range (default: the last 30 days, or 12 months)")
def list_exports(
    kind: Annotated[PeriodKind, Query()] = PeriodKind.DAILY,
    first: Annotated[Day | None, Query(alias="from")] = None,
    last: Annotated[Day | None, Query(alias="to")] = None,
) -> ExportList:
    listing = scope().services.exports.list(kind, first, last)
    return ExportList(kind=listing.kind, first=listing.first, last=listing.last,
                      items=[_view(r) for r in listing.items])


@endpoint(router, "GET", "/api/exports/<kind>/<period>/download", role=Role.FINANCE, tags=["exports"],
          summary="A 15-minute download link for one export's CSV (and its manifest)",
          responses={404: {"description": "There is no export of that kind for that period"}})
def download_export(
    kind: Annotated[PeriodKind, Path()],
    period: Annotated[str, Path(pattern=r"^\d{4}-\d{2}(-\d{2})?$", description="YYYY-MM-DD or YYYY-MM")],
) -> DownloadView:
    link = scope().services.exports.download(kind, period)
    return DownloadView(url=link.url, expires_at=link.expires_at, filename=link.filename,
                        manifest_url=link.manifest_url)


@endpoint(router, "POST", "/api/exports", role=Role.ADMIN, tags=["exports"], status_code=201,
          summary="Run the export for a range now (same files as the scheduled export)")
def run_export(request: Annotated[ExportRunRequest, Body()]) -> ExportRunView:
    run = scope().services.exports.run(actor(), request.kind, request.first, request.last)
    return ExportRunView(kind=run.kind, first=run.first, last=run.last, events_read=run.summary.events_read,
                         totals=ExportTotals(**totals_document(run.summary.totals())),
                         written=[_view(r) for r in run.written])
