"""``overspill rollups``: operator commands on the usage rollups (today: rebuilding days from the raw events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from overspill.config import Settings


@click.group("rollups")
def rollups_command() -> None:
    """The usage rollups: sums per user, team, model and route, kept from the usage events' stream."""


@rollups_command.command()
@click.option("--from", "start", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day to rebuild (UTC), YYYY-MM-DD.")
@click.option("--to", "end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Last day to rebuild (UTC, inclusive); it must have ended at least an hour ago.")
@click.option("--state-dir", envvar="OVERSPILL_STATE_DIR", default=".overspill", show_default=True,
              type=click.Path(file_okay=False), help="The local run (`overspill dev`) to work on.")
@click.option("--stack", default=None, help="A deployed stack (e.g. Overspill-prod) to work on instead.")
@click.option("--region", default=None, help="The stack's region [OVERSPILL_REGION or us-east-1].")
def rebuild(start: datetime, end: datetime, state_dir: str, stack: str | None, region: str | None) -> None:
    """Recompute the rollups of whole days from the raw usage events (a repair), then their months.

    Idempotent: running it twice gives the same rows. Usage events are kept for OVERSPILL_USAGE_TTL_DAYS
    (400 days); older days are refused (rebuilding them would empty their rows)."""
    from overspill.local.targets import TargetError, local_settings, stack_settings
    from overspill.store.models import bind_models
    from overspill.store.rollups import RebuildRangeError, RollupContention, RollupRepository, check_rebuild_range

    first, last = start.date(), end.date()

    def check(retention: timedelta | None = None) -> None:
        try:
            check_rebuild_range(first, last, datetime.now(UTC), retention=retention)
        except RebuildRangeError as error:
            raise click.BadParameter(str(error), param_hint="--from/--to") from None

    check()  # before looking for the target: a wrong range needs no running instance to be told so
    try:
        settings: Settings = stack_settings(stack, region) if stack else local_settings(state_dir)
    except TargetError as error:
        raise click.ClickException(str(error)) from None
    retention = timedelta(days=settings.usage_ttl_days)
    check(retention)
    bind_models(settings)
    target = f"stack {stack}" if stack else f"the local run in {state_dir}"
    click.echo(f"Rebuilding the rollups of {first} to {last} on {target} "
               f"(events from {settings.usage_table}, rows in {settings.rollups_table})")
    days = (last - first).days + 1
    try:
        with click.progressbar(length=days, label="days", show_pos=True) as bar:
            summary = RollupRepository().rebuild(first, last, progress=lambda _day: bar.update(1),
                                                 retention=retention)
    except (RebuildRangeError, RollupContention) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{summary.days} day(s), {summary.events} event(s) counted"
               + (f", {summary.skipped_events} uncountable left out (see the log)" if summary.skipped_events else "")
               + f"; rows written: {summary.day_rows_written} day, {summary.month_rows_written} month; "
               f"rows deleted: {summary.day_rows_deleted} day, {summary.month_rows_deleted} month.")
