"""`prepay` commands for operating the service: queues, tail, replay, demo, bench, and the
documents of an order. Registered by `workers.cli`; each imports what it needs when it runs."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import typer

from workers.cli_options import (
    AmqpUrl,
    AsJson,
    DatabaseUrl,
    broker,
    console,
    errors,
    fail,
    order_report_or_fail,
    safe_url,
    settings_from,
)

ops_app = typer.Typer()

ManagementUrl = Annotated[
    str | None,
    typer.Option(
        "--management-url",
        envvar="PREPAY_MANAGEMENT_URL",
        show_envvar=True,
        help="RabbitMQ management API [default: http://<AMQP host>:15672]",
    ),
]


@ops_app.command()
def queues(
    management_url: ManagementUrl = None,
    no_management: Annotated[
        bool, typer.Option("--no-management", help="Use passive declares only.")
    ] = False,
    json_output: AsJson = False,
    amqp_url: AmqpUrl = None,
) -> None:
    """Every prepay queue: messages, consumers, and the dead letters parked from it."""
    from workers.queues import report

    settings = settings_from(amqp_url=amqp_url)
    with broker(settings.amqp_url):
        found = report(
            settings.amqp_url,
            settings.shards,
            management_url,
            use_management=not no_management,
        )
    if json_output:
        print(json.dumps(found.as_dict(), indent=2))
        return
    from rich.table import Table

    table = Table(title="prepay queues", title_justify="left", title_style="bold")
    for column in ("queue", "ready", "unacked", "consumers", "dead letters"):
        table.add_column(column, justify="left" if column == "queue" else "right")
    for q in found.queues:
        unacked = "-" if q.unacked is None else str(q.unacked)
        table.add_row(q.name, str(q.ready), unacked, str(q.consumers), str(q.dead_letters))
    console.print(table)
    total, counted = found.dead_letters_total, found.dead_letters_counted
    more = f" (origins counted over the first {counted})" if counted < total else ""
    console.print(f"{total} dead letter(s) in all{more}", highlight=False)
    if found.note:
        console.print(f"{found.note}; ", end="", highlight=False)
    console.print(f"figures from {found.source}", highlight=False)


@ops_app.command()
def tail(
    patterns: Annotated[
        list[str] | None,
        typer.Argument(metavar="[PATTERN]...", help="Event types, topic syntax [default: #]"),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", "-n", min=0, help="Stop after this many events.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Each event's envelope as one JSON line.")
    ] = False,
    amqp_url: AmqpUrl = None,
) -> None:
    """Print events as they are published, until Ctrl-C."""
    from workers.tail import follow, line

    settings = settings_from(amqp_url=amqp_url)
    chosen = patterns or ["#"]

    def show(body: bytes) -> None:
        print(body.decode("utf-8", errors="replace") if json_output else line(body), flush=True)

    def bound() -> None:
        errors.print(
            f"following prepay.events for {' '.join(chosen)} (Ctrl-C to stop)", highlight=False
        )

    try:
        with broker(settings.amqp_url):
            follow(settings.amqp_url, chosen, settings.shards, show, count=count, on_bound=bound)
    except KeyboardInterrupt:
        pass


@ops_app.command()
def replay(
    order_id: Annotated[str, typer.Argument(metavar="ORDER_ID")],
    since: Annotated[
        int, typer.Option(min=0, help="Only events after this history number (`order show`).")
    ] = 0,
    database_url: DatabaseUrl = None,
    amqp_url: AmqpUrl = None,
) -> None:
    """Publish an order's events again, with their original ids, for a consumer that lost them."""
    from workers import db
    from workers.event_replay import ReplayFailed, history_records, republish

    settings = settings_from(database_url=database_url, amqp_url=amqp_url)
    engine = db.make_engine(settings.database_url)
    try:
        records = history_records(engine, order_id, since)
    finally:
        engine.dispose()
    if not records:
        raise fail(f"no events of order {order_id!r} in {safe_url(settings.database_url)}")
    try:
        with broker(settings.amqp_url):
            republish(settings.amqp_url, settings.shards, records, settings.source)
    except ReplayFailed as error:
        raise fail(str(error)) from None
    for record in records:
        print(f"{record.id:>6}  {record.type:<28} {record.event_id}")
    print(f"{len(records)} event(s) of {order_id} published again")


@ops_app.command()
def demo(
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for each answer.")] = 30.0,
    amqp_url: AmqpUrl = None,
) -> None:
    """Run a sample sales and purchase order through the running service; print each document.

    Needs `prepay serve` running against the same broker."""
    from workers.cli_documents import render_documents
    from workers.demo import DemoFailed, run

    settings = settings_from(amqp_url=amqp_url)

    def on_document(document: dict[str, Any], order_id: str) -> None:
        console.print()
        render_documents(console, [document], order_id)

    try:
        with broker(settings.amqp_url):
            documents = run(
                settings.amqp_url,
                settings.shards,
                on_step=lambda step: console.print(step, highlight=False, soft_wrap=True),
                on_document=on_document,
                timeout=timeout,
            )
    except DemoFailed as error:
        raise fail(str(error)) from None
    console.print(f"{len(documents)} documents posted; `prepay order show ID` shows an order.")


@ops_app.command()
def bench(
    commands: Annotated[int, typer.Option("--commands", "-n", min=4, help="Commands to send.")],
    workers: Annotated[int, typer.Option("--workers", "-w", min=1)] = 1,
    rate: Annotated[
        float | None,
        typer.Option("--rate", min=1, help="Commands per second to send (default: at once)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Also print the figures as one JSON line, last.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Purge the shard queues even if they hold commands.")
    ] = False,
    split: Annotated[
        bool,
        typer.Option(
            "--split",
            help="Also split each latency where the worker recorded the event (p50/p99 of "
            "publish to recorded, and of recorded to received), overall and per round.",
        ),
    ] = False,
    mix: Annotated[
        Literal["rounds", "steady"],
        typer.Option(
            "--mix",
            help="rounds: all creates, then all invoices, ...; steady: the life cycles "
            "overlap, so every moment has the whole run's mix of command types.",
        ),
    ] = "rounds",
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline",
            help="Also give p50/p99/max latency of the commands sent in each second: a "
            "backlog rises over several seconds, a stall stands out in one.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
    amqp_url: AmqpUrl = None,
) -> None:
    """Measure throughput and latency end to end (purges the command shard queues first).

    Starts `prepay serve --workers K`, sends N commands as whole order life cycles (all at
    once, or --rate per second) and waits for their events; the last line with --json is the
    figures as one JSON object."""
    from workers import bench as benchmark

    settings = settings_from(database_url=database_url, amqp_url=amqp_url)
    with broker(settings.amqp_url):
        waiting = benchmark.waiting_commands(settings.amqp_url, settings.shards)
        if waiting and not yes:
            raise fail(
                f"the shard queues hold {waiting} command(s) that the benchmark would purge; "
                "give --yes to purge them, or run it against a broker (vhost) of its own"
            )
        figures = benchmark.run(
            settings, commands, workers, rate, split=split, mix=mix, timeline=timeline
        )
    print(benchmark.report(figures, json_output))


def order_documents(
    order_id: Annotated[str, typer.Argument(metavar="ID")],
    json_output: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The order's posted documents in full: lines, VAT, deductions, totals, ledger entries."""
    from workers.cli_documents import render_documents
    from workers.order_report import as_json

    report = order_report_or_fail(order_id, database_url)
    if json_output:
        print(as_json(report["documents"]))
    else:
        render_documents(console, report["documents"], order_id)
