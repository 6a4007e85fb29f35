"""`prepay`: run the service, publish a command, show an order, inspect and replay dead letters,
migrate the database, and watch it run (queues, tail, replay, demo, bench).

Configuration comes from the environment (PREPAY_*, see `workers.config.Settings`); the
options below override it for one call.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from workers import cli_ops, cli_reconcile
from workers.cli_options import (
    AmqpUrl,
    AsJson,
    DatabaseUrl,
    MetricsPort,
    console,
    fail,
    order_report_or_fail,
    settings_from,
)
from workers.cli_options import broker as _broker
from workers.cli_options import safe_url as _safe_url

# Each command imports what it needs when it runs: `prepay publish` should not pay seconds
# for loading SQLAlchemy and the domain it never touches.

# No locals in tracebacks: they would print connection URLs, passwords included.
app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False, help=__doc__
)
order_app = typer.Typer(no_args_is_help=True, help="Orders as the database holds them.")
dead_app = typer.Typer(no_args_is_help=True, help="The dead-letter queue.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
app.add_typer(order_app, name="order")
app.add_typer(dead_app, name="dead")
app.add_typer(db_app, name="db")
app.command()(cli_reconcile.reconcile)
app.add_typer(cli_ops.ops_app)  # queues, tail, replay, demo, bench
order_app.command("documents")(cli_ops.order_documents)


@app.callback()
def _configure_logging() -> None:
    # Every command logs through the one pipeline (`workers.logs`), pika's lines included.
    from workers import logs

    logs.configure(os.environ.get("PREPAY_LOG_LEVEL", "INFO"))


@app.command()
def serve(
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Worker processes on this machine.")
    ] = 1,
    database_url: DatabaseUrl = None,
    amqp_url: AmqpUrl = None,
    metrics_port: MetricsPort = None,
) -> None:
    """Run the service (consumers, outbox relay, /metrics /healthz /readyz) until SIGTERM."""
    from workers import serving

    settings = settings_from(
        database_url=database_url, amqp_url=amqp_url, metrics_port=metrics_port
    )
    if status := serving.run(settings, workers):
        raise typer.Exit(status)


@app.command()
def publish(
    command_type: Annotated[str, typer.Argument(metavar="TYPE", help="e.g. order.create")],
    data: Annotated[
        str, typer.Option("--data", "-d", help="The command's data: JSON, @file, or @- (stdin).")
    ],
    command_id: Annotated[
        str | None, typer.Option("--id", help="The command id (idempotency key) [default: new]")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(help="Ordering key [default: data.order_id, party_id or item_id]"),
    ] = None,
    amqp_url: AmqpUrl = None,
) -> None:
    """Publish one command to prepay.commands (confirmed by the broker); prints its id."""
    from workers.publishing import PublishFailed, command_publisher

    settings = settings_from(amqp_url=amqp_url)
    try:
        payload = json.loads(_read_data(data))
    except (OSError, ValueError) as error:
        raise fail(f"--data: {error}") from None
    if not isinstance(payload, dict):
        raise fail("--data must be a JSON object")
    try:
        with (
            _broker(settings.amqp_url),
            command_publisher(settings.amqp_url, settings.shards) as publisher,
        ):
            sent = publisher.publish(command_type, payload, command_id=command_id, subject=subject)
    except PublishFailed as error:
        raise fail(str(error)) from None
    print(sent)


def _read_data(data: str) -> str:
    if data == "@-":
        return sys.stdin.read()
    if data.startswith("@"):
        return Path(data[1:]).read_text(encoding="utf-8")
    return data


@order_app.command("show")
def order_show(
    order_id: Annotated[str, typer.Argument(metavar="ID")],
    json_output: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """An order: state, lines with their prepayment fields, documents, payments, history."""
    from workers.cli_render import render_order
    from workers.order_report import as_json

    report = order_report_or_fail(order_id, database_url)
    if json_output:
        print(as_json(report))
    else:
        render_order(console, report)


@dead_app.command("list")
def dead_list(
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 100,
    json_output: AsJson = False,
    amqp_url: AmqpUrl = None,
) -> None:
    """Dead letters with the reason they were parked; all stay in the queue."""
    from workers.cli_render import render_dead_letters
    from workers.dead_letters import dead_letter_queue
    from workers.order_report import as_json

    settings = settings_from(amqp_url=amqp_url)
    with _broker(settings.amqp_url), dead_letter_queue(settings.amqp_url, settings.shards) as queue:
        total = queue.count()
        letters = [letter.summary() for letter in queue.peek(limit)]
    if json_output:
        print(as_json(letters))
    else:
        render_dead_letters(console, letters, total)


@dead_app.command("replay")
def dead_replay(
    letter_id: Annotated[
        str | None, typer.Option("--id", help="The dead letter's id, as `dead list` shows it.")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
    amqp_url: AmqpUrl = None,
) -> None:
    """Publish dead letters to prepay.commands again, then remove them from the queue."""
    from workers.dead_letters import dead_letter_queue
    from workers.publishing import PublishFailed

    if (letter_id is None) == (not replay_all):
        raise fail("give either --id ID or --all", code=2)
    settings = settings_from(amqp_url=amqp_url)
    try:
        with (
            _broker(settings.amqp_url),
            dead_letter_queue(settings.amqp_url, settings.shards) as queue,
        ):
            replayed = queue.replay(lambda letter: replay_all or letter.key == letter_id)
    except PublishFailed as error:
        raise fail(str(error)) from None
    if letter_id is not None and not replayed:
        raise fail(f"no dead letter {letter_id!r}")
    for letter in replayed:
        print(f"replayed {letter.key} ({letter.routing_key})")
    if replay_all:
        print(f"{len(replayed)} dead letter(s) replayed")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or migrate the schema to the latest revision."""
    from workers import db

    settings = settings_from(database_url=database_url)
    db.upgrade(settings.database_url)
    print(f"{_safe_url(settings.database_url)} is up to date")


if __name__ == "__main__":
    app()
