"""`prepay reconcile`, registered by `workers.cli`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from workers.cli_options import AsJson, DatabaseUrl, fail, safe_url, settings_from

OutboxGrace = Annotated[
    float,
    typer.Option(
        "--outbox-grace",
        min=0,
        help="Seconds an event may wait in the outbox before it counts as a violation "
        "(a running relay publishes within milliseconds).",
    ),
]


def reconcile(
    json_output: AsJson = False,
    outbox_grace: OutboxGrace = 10.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Check every order against its invariants (documents sum to its fields, ledgers balance,
    deducted <= invoiced, payments add up, state and history agree) and that the outbox is
    drained and the number series gapless. Prints each violation; exits 1 if there are any,
    2 if the database cannot be read."""
    from datetime import timedelta

    from sqlalchemy.exc import SQLAlchemyError

    from workers import db
    from workers.reconcile import reconcile as run
    from workers.reconcile import render

    settings = settings_from(database_url=database_url)
    engine = db.make_engine(settings.database_url)
    try:
        result = run(engine, outbox_grace=timedelta(seconds=outbox_grace))
    except SQLAlchemyError as error:
        detail = str(error).strip().splitlines()[0]
        raise fail(f"cannot read {safe_url(settings.database_url)}: {detail}", code=2) from None
    finally:
        engine.dispose()
    print(json.dumps(result.as_dict(), indent=2) if json_output else render(result))
    if not result.clean:
        raise typer.Exit(1)
