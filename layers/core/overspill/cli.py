"""The ``overspill`` command."""

from __future__ import annotations

import click

from overspill.admin.cli import admin_command
from overspill.config import Settings, SettingsError
from overspill.exports.command import export_command
from overspill.usage.rollup_command import rollups_command


@click.group()
def main() -> None:
    """Overspill: Claude Code on your Anthropic plan, Amazon Bedrock when the plan runs out."""


@main.command()
@click.option("--host", envvar="OVERSPILL_HOST", default=None, help="Address to listen on [127.0.0.1].")
@click.option("--port", envvar="OVERSPILL_PORT", type=int, default=None, help="Port to listen on [8787].")
@click.option("--anthropic-url", envvar="OVERSPILL_ANTHROPIC_URL", default=None,
              help="Plan upstream [https://api.anthropic.com]; point it at a fake for offline work.")
@click.option("--bedrock-endpoint-url", envvar="OVERSPILL_BEDROCK_ENDPOINT_URL", default=None,
              help="Bedrock runtime endpoint for the fallback (a fake for offline work) [AWS's own].")
@click.option("--state-dir", envvar="OVERSPILL_STATE_DIR", default=None, type=click.Path(file_okay=False),
              help="Where local state (tables, pepper, demo key) is kept across restarts [.overspill].")
@click.option("--aws-port", envvar="OVERSPILL_AWS_PORT", type=int, default=0, show_default=True,
              help="Port of the embedded AWS emulator (0: any free port).")
@click.option("--no-rollups", envvar="OVERSPILL_NO_ROLLUPS", is_flag=True, default=False,
              help="Do not run the rollup function on the usage stream (load tests: it reads every event back "
                   "out of the emulator). Usage events are still written; the dashboard's totals stay still.")
@click.option("--snapshot-every", envvar="OVERSPILL_SNAPSHOT_EVERY", type=click.FloatRange(min=0), default=30.0,
              show_default=True, help="Seconds between saves of the local state while it is used (none while "
                                      "idle); 0: only on stop (load tests: each save reads every table whole).")
def dev(host: str | None, port: int | None, anthropic_url: str | None, bedrock_endpoint_url: str | None,
        state_dir: str | None, aws_port: int, no_rollups: bool, snapshot_every: float) -> None:
    """Run Overspill locally on the embedded AWS emulator."""
    from overspill.local import dev as local_dev

    try:
        settings = Settings.from_env(host=host, port=port, anthropic_url=anthropic_url, state_dir=state_dir,
                                     bedrock_endpoint_url=bedrock_endpoint_url)
    except SettingsError as error:
        raise click.BadParameter(str(error)) from None
    try:
        local_dev.run(settings, aws_port=aws_port, rollups=not no_rollups, snapshot_every_s=snapshot_every)
    except OSError as error:
        raise click.ClickException(f"cannot start: {error}") from None


main.add_command(admin_command)
main.add_command(export_command)
main.add_command(rollups_command)
