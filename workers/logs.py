"""Logging, configured in this one place: structlog renders JSON when stderr is not a
terminal and readable lines when it is; the standard library's loggers (pika, SQLAlchemy)
go through the same processors, so every line carries the bound command context.

While a command is handled, `workers.processing` binds its command id, correlation id, command
type and order id (structlog's contextvars); every line logged meanwhile on that thread, by
prepay or by a library, carries them."""

from __future__ import annotations

import logging
import sys

import structlog

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged, not when it was configured
    (a test runner may swap it in between)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(level: str = "INFO", *, json: bool | None = None) -> None:
    """Idempotent: configuring again replaces prepay's handler, and leaves any other."""
    as_json = not sys.stderr.isatty() if json is None else json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StderrHandler)]
    root.addHandler(handler)
    known = isinstance(logging.getLevelName(level.upper()), int)
    root.setLevel(level.upper() if known else logging.INFO)
    # The libraries are chatty at INFO (pika logs every connection step).
    for name in ("pika", "sqlalchemy", "alembic"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    if not known:
        structlog.get_logger("prepay.logs").warning("logs.unknown_level", given=level)
