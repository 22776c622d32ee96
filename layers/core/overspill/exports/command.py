"""``overspill export``: the export function's code, run from a terminal against the local run or a deployed
stack, writing into the exports bucket and into a local directory with the same layout."""

from __future__ import annotations

from pathlib import Path

import click

from overspill.exports.destinations import LocalDirectory
from overspill.exports.periods import ExportRequestError, parse_day
from overspill.exports.service import Exporter, ExportSummary
from overspill.local.targets import TargetError, local_settings, stack_settings


def _day(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return parse_day(value).isoformat()  # click names the option itself
    except ExportRequestError as error:
        raise click.BadParameter(str(error)) from None


@click.command("export")
@click.option("--from", "first", required=True, metavar="YYYY-MM-DD", callback=_day,
              help="First day to export (UTC).")
@click.option("--to", "last", required=True, metavar="YYYY-MM-DD", callback=_day,
              help="Last day to export (UTC, inclusive); months covered whole get a monthly file too.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the files into too (same layout as the bucket).")
@click.option("--state-dir", envvar="OVERSPILL_STATE_DIR", default=".overspill", show_default=True,
              type=click.Path(file_okay=False), help="State directory of the running `overspill dev`.")
@click.option("--stack", default=None, help="Export from this deployed stack instead of the local run.")
@click.option("--region", default=None, help="The stack's region [OVERSPILL_REGION, else us-east-1].")
@click.pass_context
def export_command(ctx: click.Context, first: str, last: str, out: Path, state_dir: str, stack: str | None,
                   region: str | None) -> None:
    """Write daily (and whole-month) usage CSV files and their manifests for --from … --to."""
    if region and not stack:
        raise click.UsageError("--region is for --stack; the local run has its own")
    if stack and ctx.get_parameter_source("state_dir") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("pass either --state-dir (the local run) or --stack (a deployment), not both")
    if out.exists() and not out.is_dir():
        raise click.BadParameter(f"{out} exists and is not a directory", param_hint="--out")
    try:
        settings = stack_settings(stack, region) if stack else local_settings(state_dir)
    except TargetError as error:
        raise click.ClickException(str(error)) from None
    exporter = Exporter(settings)
    try:
        export = exporter.plan(first, last)
    except ExportRequestError as error:
        raise click.UsageError(str(error)) from None

    with click.progressbar(length=len(export.days), label=f"exporting {len(export.days)} day(s)",
                           show_pos=True, file=click.get_text_stream("stderr")) as bar:
        summary = exporter.run(export, also_to=[LocalDirectory(out)], on_day_done=lambda _: bar.update(1))
    click.echo(describe(summary))


def describe(summary: ExportSummary) -> str:
    result = summary.as_dict()
    files = result["files"]
    daily = [f for f in files if f["kind"] == "daily"]
    monthly = [f for f in files if f["kind"] == "monthly"]
    totals = result["totals"]
    lines = [
        f"exported {result['from']} … {result['to']}: {len(daily)} daily and {len(monthly)} monthly file(s) "
        f"to {' and '.join(result['destinations'])}",
        f"  {result['events_read']:,} events → {sum(f['rows'] for f in daily):,} daily rows; "
        f"{totals['requests']:,} requests, {totals['errors']:,} errors, cost ${totals['cost_usd']}"
        + (f", {totals['unpriced_requests']:,} unpriced" if totals["unpriced_requests"] else ""),
    ]
    lines += [f"  {f['csv_key']}: {f['rows']:,} rows, ${f['cost_usd']}" for f in monthly]
    incomplete = [f["period"] for f in files if not f["complete"]]
    if incomplete:
        lines.append(f"  not final yet (usage may still arrive; export again later): {', '.join(incomplete)}")
    return "\n".join(lines)
