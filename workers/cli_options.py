"""What the `prepay` commands share: the connection options (each also an environment
variable), the consoles, and how a command fails in words rather than a traceback.

Kept apart from `workers.cli` so that command modules (`workers.cli_ops` and others) can use
them without importing the CLI that registers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from workers.config import Settings

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="PREPAY_DATABASE_URL",
        show_envvar=True,
        help="sqlite:///path or postgresql://... [default: sqlite:///prepay.db]",
    ),
]
AmqpUrl = Annotated[
    str | None,
    typer.Option(
        "--amqp-url",
        envvar="PREPAY_AMQP_URL",
        show_envvar=True,
        help="RabbitMQ [default: amqp://guest:guest@127.0.0.1:5672/]",
    ),
]
MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        envvar="PREPAY_METRICS_PORT",
        show_envvar=True,
        min=0,
        max=65535,
        help="HTTP port for metrics and health; 0 picks a free one",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

console = Console()
errors = Console(stderr=True)


def settings_from(**given: Any) -> Settings:
    """The environment's settings, with the options given on the command line on top."""
    return Settings(**{name: value for name, value in given.items() if value is not None})


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def broker(url: str) -> Iterator[None]:
    """A broker that cannot be reached is an operator's problem, not a traceback."""
    from pika.exceptions import AMQPError

    try:
        yield
    except (AMQPError, OSError) as error:
        reason = str(error) or repr(error)  # pika's errors say it only in their repr
        raise fail(f"RabbitMQ at {safe_url(url)}: {reason}") from None


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def order_report_or_fail(order_id: str, database_url: str | None) -> dict[str, Any]:
    """The order's report from the database (`workers.order_report`), or a clean exit."""
    from workers import db
    from workers.order_report import load_report

    settings = settings_from(database_url=database_url)
    engine = db.make_engine(settings.database_url)
    try:
        report = load_report(engine, order_id)
    finally:
        engine.dispose()
    if report is None:
        raise fail(f"no order {order_id!r} in {safe_url(settings.database_url)}")
    return report
