"""Logging, configured in this one place: structlog renders JSON when stderr is not a
terminal and readable lines when it is; the standard library's loggers (pika, SQLAlchemy)
go through the same processors, so every line carries the bound command context.

While a command is handled, `workers.processing` binds its command id, correlation id, command
type and order id (`command_context`); every line logged meanwhile on that thread, by prepay or
by a library, carries them. structlog's own contextvars work as well, for anything else."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar, Token
from typing import Any

import structlog

# One variable holding a command's ids, merged into a line only when a line is written.
# structlog's `bound_contextvars` sets a variable per key and copies the whole context on
# entry: 8-15 us per command, on every command, while lines are rare on the happy path.
_COMMAND: ContextVar[dict[str, Any] | None] = ContextVar("prepay_command", default=None)


class command_context:  # lowercase, like `contextlib.suppress`: used as a function is
    """Within `with command_context(command_id=..., ...)`, every line logged on this thread
    carries those keys (a key given to the log call itself wins)."""

    __slots__ = ("_ids", "_token")

    def __init__(self, **ids: Any) -> None:
        self._ids = ids
        self._token: Token[dict[str, Any] | None] | None = None

    def __enter__(self) -> None:
        self._token = _COMMAND.set(self._ids)

    def __exit__(self, *_exc: object) -> None:
        assert self._token is not None
        _COMMAND.reset(self._token)


def _merge_command_context(
    _logger: Any, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    ids = _COMMAND.get()
    if ids:
        for key, value in ids.items():
            event_dict.setdefault(key, value)
    return event_dict


_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    _merge_command_context,
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
