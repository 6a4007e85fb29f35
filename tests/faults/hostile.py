"""Malformed and hostile command messages (hypothesis strategies), each built so that no
correct worker may accept it: wrong types, missing and unknown fields, negative, zero and
enormous amounts, 30-decimal numbers, wrong currencies, dates out of range, bodies of a
megabyte, invalid UTF-8, broken envelopes, and ids already used by a different command.

The commands aim at a small world (`WORLD`): a customer, a draft order and an order whose
prepayment is invoiced, so the same messages serve the in-process test and the running
service. Every message is answered by `command.rejected` (readable envelope) or parked as a
dead letter with its reason (unreadable body, or an id reused for another command).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from schemas.parsing import MAX_BODY_BYTES


@dataclass(frozen=True)
class World:
    """Names the hostile commands aim at; `setup` creates them (command type, data, id)."""

    customer: str
    draft_order: str
    invoiced_order: str

    def setup(self) -> list[tuple[str, dict[str, Any], str]]:
        lines = [
            {"line_no": 1, "item_id": "A", "quantity": "2", "unit_price": "50.00",
             "vat_percent": "20"},
            {"line_no": 2, "item_id": "B", "quantity": "3", "unit_price": "9.99",
             "vat_percent": "7"},
        ]  # fmt: skip
        order = {"side": "sales", "party_id": self.customer, "currency": "EUR",
                 "order_date": "2026-11-27", "lines": lines}  # fmt: skip
        party = {"party_id": self.customer, "side": "sales", "name": "Hostile",
                 "prepayment_percent": "30"}  # fmt: skip
        return [
            ("party.upsert", party, f"{self.customer}-party"),
            ("order.create", order | {"order_id": self.draft_order}, f"{self.draft_order}-create"),
            ("order.create", order | {"order_id": self.invoiced_order},
             f"{self.invoiced_order}-create"),
            ("prepayment.invoice", {"order_id": self.invoiced_order},
             f"{self.invoiced_order}-invoice"),
        ]  # fmt: skip

    @property
    def used_ids(self) -> list[str]:
        return [command_id for _, _, command_id in self.setup()]

    def templates(self) -> dict[str, dict[str, Any]]:
        """A valid command of each type against this world."""
        line = {"line_no": 1, "item_id": "A", "quantity": "2", "unit_price": "10.00",
                "vat_percent": "19"}  # fmt: skip
        return {
            "order.create": {"order_id": f"{self.draft_order}-NEW", "side": "sales",
                             "party_id": self.customer, "currency": "EUR",
                             "order_date": "2026-11-27", "lines": [line]},
            "order.amend": {"order_id": self.draft_order, "prepayment_percent": "40",
                            "add_lines": [line | {"line_no": 7}]},
            "prepayment.set_total": {"order_id": self.draft_order, "amount": "5"},
            "prepayment.invoice": {"order_id": self.draft_order, "posting_date": "2026-11-28"},
            "prepayment.credit": {"order_id": self.invoiced_order, "lines": [1]},
            "payment.record": {"order_id": self.invoiced_order, "payment_id": "PX",
                               "amount": "1.00", "currency": "EUR",
                               "received_date": "2026-11-28"},
            "order.invoice": {"order_id": self.invoiced_order,
                              "lines": [{"line_no": 1, "quantity": "1"}]},
            "order.cancel": {"order_id": self.draft_order},
            "party.upsert": {"party_id": f"{self.customer}-NEW", "side": "sales", "name": "X",
                             "prepayment_percent": "10"},
            "prepayment_rule.upsert": {"side": "sales", "item_id": "A", "applies_to": "all",
                                       "percent": "10"},
        }  # fmt: skip


def new_world() -> World:
    tag = uuid.uuid4().hex[:6].upper()
    return World(f"C-HOSTILE-{tag}", f"SO-HOSTILE-{tag}-D", f"SO-HOSTILE-{tag}-I")


@dataclass(frozen=True)
class Hostile:
    label: str
    routing_key: str
    subject: str
    body: bytes
    message_id: str  # the envelope's id where there is one (the rejection answers it)
    dead: bool  # a dead letter is the answer (else `command.rejected`)


# --- values no field of their kind accepts -----------------------------------------------------

THIRTY_DECIMALS = "0.123456789012345678901234567890"
NOT_DECIMALS = [1.5, True, [], {}, "abc", "1e5", " 1", "1 ", "NaN", "Infinity", "-Infinity",
                "1,5", "", "0x10", "+1", "١٢"]  # fmt: skip
NOT_IDS = [12, True, [], {}, 1.5, "", "x" * 101]
NOT_DATES = [20261127, "27.11.2026", "2026-02-30", "2026-13-01", "", True, "0001-01-01",
             "1899-12-31", "3000-01-01", "9999-12-31", "10000-01-01", "-001-01-01", "2026-1-1",
             "2026-11-27T10:00:00Z"]  # fmt: skip
NOT_CURRENCIES = ["eur", "EURO", "", 978, "E1R", "€€€", "EU", None]
NOT_SIDES = ["both", "", 1, "SALES", None]
NOT_LISTS = ["x", {}, 5, True]
TOO_BIG = ["9" * 16, "1" + "0" * 40, "-" + "9" * 16, "9" * 400]

_DECIMALS = {"amount", "quantity", "unit_price", "percent", "prepayment_percent", "vat_percent",
             "line_discount_percent", "prepayment_line_amount"}  # fmt: skip
_DATES = {"order_date", "posting_date", "received_date", "starting_date", "ending_date"}
NOT_NAMES = [12, True, [], {}, 1.5, "", "x" * 201]
_LISTS = {"lines", "add_lines", "update_lines", "remove_lines"}


def _wrong_values(field: str) -> list[Any]:
    if field in _DECIMALS:
        return [*NOT_DECIMALS, *TOO_BIG]
    if field in _DATES:
        return NOT_DATES
    if field == "currency":
        return NOT_CURRENCIES
    if field == "side":
        return NOT_SIDES
    if field in _LISTS:
        return NOT_LISTS
    if field == "applies_to":
        return ["everyone", "", 3]
    if field == "name":
        return NOT_NAMES
    return NOT_IDS


# Required fields per type, beyond which a missing field is not hostile.
_REQUIRED = {
    "order.create": ["order_id", "side", "party_id", "currency", "order_date"],
    "order.amend": ["order_id"],
    "prepayment.set_total": ["order_id", "amount"],
    "prepayment.invoice": ["order_id"],
    "prepayment.credit": ["order_id"],
    "payment.record": ["order_id", "payment_id", "amount", "currency"],
    "order.invoice": ["order_id"],
    "order.cancel": ["order_id"],
    "party.upsert": ["party_id", "side", "name"],
    "prepayment_rule.upsert": ["side", "item_id", "applies_to", "percent"],
}

# Amounts the domain or the contract must refuse, per (type, field).
_BAD_AMOUNTS: dict[tuple[str, str], list[str]] = {
    ("payment.record", "amount"): ["0", "0.00", "-1.00", "-0.01", "0.001", "1.0000",
                                   "999999999999999.999", THIRTY_DECIMALS, *TOO_BIG],
    ("prepayment.set_total", "amount"): ["-1", "-0.01", "100000000", "0.001", THIRTY_DECIMALS,
                                         *TOO_BIG],
    ("order.amend", "prepayment_percent"): ["-1", "100.01", "101", "1000", THIRTY_DECIMALS],
    ("prepayment_rule.upsert", "percent"): ["-1", "100.000001", "250", THIRTY_DECIMALS],
    ("party.upsert", "prepayment_percent"): ["-0.5", "100.5", THIRTY_DECIMALS, *TOO_BIG],
}  # fmt: skip
# Line fields of order.create: (quantity, unit_price) pairs that must be refused, including
# products no amount field can hold although each factor is within the contract's limits.
_BAD_LINES = [
    {"quantity": THIRTY_DECIMALS}, {"unit_price": THIRTY_DECIMALS},
    {"quantity": "1" + "0" * 20}, {"unit_price": "-" + "9" * 16},
    {"quantity": "999999999999999", "unit_price": "999999999999999"},
    {"quantity": "999999999999999.99999", "unit_price": "-999999999999999.99999"},
    {"quantity": "100000000", "unit_price": "100000000"},
    {"quantity": "2", "unit_price": "10.00", "vat_percent": "100.5"},
    {"quantity": "2", "unit_price": "10.00", "line_discount_percent": "-5"},
    {"quantity": "-2", "unit_price": "10.00", "prepayment_percent": "50"},
]  # fmt: skip


def envelope(command_type: str, data: Any, command_id: str | None = None) -> dict[str, Any]:
    command_id = command_id or str(uuid.uuid4())
    subject = data.get("order_id") if isinstance(data, dict) else None
    if not (isinstance(subject, str) and 0 < len(subject) <= 100):
        subject = None  # a hostile order id stays in the data, the envelope stays readable
    return {"specversion": "1.0", "id": command_id, "source": "hostile", "type": command_type,
            "time": "2026-11-27T10:00:00Z", "subject": subject or "hostile",
            "datacontenttype": "application/json", "data": data}  # fmt: skip


def _readable(
    label: str, command_type: str, data: Any, *, command_id: str | None = None
) -> Hostile:
    env = envelope(command_type, data, command_id)
    return Hostile(label, command_type, env["subject"], json.dumps(env).encode(), env["id"], False)


@st.composite
def wrong_type(draw: st.DrawFn, world: World) -> Hostile:
    command_type = draw(st.sampled_from(sorted(_REQUIRED)))
    data = world.templates()[command_type]
    field = draw(st.sampled_from(sorted(data)))
    value = draw(st.sampled_from(_wrong_values(field)))
    if value is None and field not in _REQUIRED[command_type]:
        value = 3.5  # null for an optional field means "absent", which is fine
    return _readable(f"wrong type {command_type}.{field}={value!r:.40}", command_type,
                     data | {field: value})  # fmt: skip


@st.composite
def missing_field(draw: st.DrawFn, world: World) -> Hostile:
    command_type = draw(st.sampled_from(sorted(_REQUIRED)))
    field = draw(st.sampled_from(_REQUIRED[command_type]))
    data = {k: v for k, v in world.templates()[command_type].items() if k != field}
    if draw(st.booleans()):
        data[field] = None  # explicit null counts as missing
    return _readable(f"missing {command_type}.{field}", command_type, data)


@st.composite
def unknown_field(draw: st.DrawFn, world: World) -> Hostile:
    command_type = draw(st.sampled_from(sorted(_REQUIRED)))
    data = world.templates()[command_type]
    name = draw(st.sampled_from(["amount_", "orderId", "Order_id", "__proto__", "x" * 300,
                                 "lines ", "💸", "ORDER_ID"]))  # fmt: skip
    if name in data:
        name += "_"
    value = draw(st.sampled_from([1, "1", None, [], {"a": 1}]))
    if draw(st.booleans()) and "lines" in data and isinstance(data["lines"], list):
        first = data["lines"][0]
        if isinstance(first, dict):
            data = data | {"lines": [first | {name: value}]}
            return _readable(f"unknown line field {name!r:.20}", command_type, data)
    return _readable(f"unknown field {command_type}.{name!r:.20}", command_type,
                     data | {name: value})  # fmt: skip


@st.composite
def bad_amount(draw: st.DrawFn, world: World) -> Hostile:
    if draw(st.booleans()):
        (command_type, field) = draw(st.sampled_from(sorted(_BAD_AMOUNTS)))
        value = draw(st.sampled_from(_BAD_AMOUNTS[(command_type, field)]))
        data = world.templates()[command_type] | {field: value}
        return _readable(f"amount {command_type}.{field}={value:.40}", command_type, data)
    change = draw(st.sampled_from(_BAD_LINES))
    data = world.templates()["order.create"]
    data = data | {"order_id": f"{data['order_id']}-{uuid.uuid4().hex[:6]}",
                   "lines": [data["lines"][0] | change]}  # fmt: skip
    return _readable(f"line {change}", "order.create", data)


@st.composite
def wrong_currency(draw: st.DrawFn, world: World) -> Hostile:
    if draw(st.booleans()):
        currency = draw(st.sampled_from(["USD", "JPY", "KWD", "GBP"]))  # not the order's
        data = world.templates()["payment.record"] | {"currency": currency}
        return _readable(f"payment in {currency}", "payment.record", data)
    currency = draw(st.sampled_from(NOT_CURRENCIES))
    data = world.templates()["order.create"] | {"currency": currency}
    return _readable(f"order in {currency!r}", "order.create", data)


@st.composite
def bad_date(draw: st.DrawFn, world: World) -> Hostile:
    command_type, field = draw(st.sampled_from([
        ("order.create", "order_date"), ("order.create", "posting_date"),
        ("prepayment.invoice", "posting_date"), ("payment.record", "received_date"),
        ("prepayment_rule.upsert", "starting_date"),
    ]))  # fmt: skip
    value = draw(st.sampled_from(NOT_DATES))
    data = world.templates()[command_type] | {field: value}
    return _readable(f"date {command_type}.{field}={value!r}", command_type, data)


@st.composite
def oversized(draw: st.DrawFn, world: World) -> Hostile:
    kind = draw(st.sampled_from(["over a megabyte", "a megabyte of name", "1001 lines",
                                 "a long description"]))  # fmt: skip
    if kind == "over a megabyte":
        data = world.templates()["order.cancel"] | {"reason": "x" * (MAX_BODY_BYTES + 1)}
        env = envelope("order.cancel", data)
        body = json.dumps(env).encode()
        return Hostile(kind, "order.cancel", env["subject"], body, env["id"], True)
    if kind == "a megabyte of name":
        data = world.templates()["party.upsert"] | {"name": "n" * (MAX_BODY_BYTES - 2000)}
        return _readable(kind, "party.upsert", data)
    line = world.templates()["order.create"]["lines"][0]
    if kind == "1001 lines":
        lines = [line | {"line_no": n} for n in range(1, 1002)]
        return _readable(kind, "order.create", world.templates()["order.create"] | {"lines": lines})
    long_line = line | {"description": "d" * 501}
    data = world.templates()["order.create"] | {"lines": [long_line]}
    return _readable(kind, "order.create", data)


@st.composite
def invalid_utf8(draw: st.DrawFn, world: World) -> Hostile:
    command_type = draw(st.sampled_from(sorted(_REQUIRED)))
    env = envelope(command_type, world.templates()[command_type])
    text = json.dumps(env).encode()
    bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88",
                                b"\x80"]))  # fmt: skip
    marker = b'"source": "hostile"'
    body = text.replace(marker, b'"source": "host' + bad + b'ile"')
    return Hostile(f"invalid UTF-8 {bad!r}", command_type, env["subject"], body, env["id"], True)


@st.composite
def broken_envelope(draw: st.DrawFn, world: World) -> Hostile:
    env = envelope("order.cancel", world.templates()["order.cancel"])
    kind = draw(st.sampled_from([
        "no id", "id of 201 chars", "specversion 0.3", "type not a string", "not JSON",
        "JSON array", "nested 100000 deep", "duplicate key", "NUL in a string",
        "lone surrogate", "data not an object", "unknown type", "empty body",
    ]))  # fmt: skip
    subject = str(env["subject"])
    dead_id = str(uuid.uuid4())
    if kind == "no id":
        body = json.dumps({k: v for k, v in env.items() if k != "id"}).encode()
    elif kind == "id of 201 chars":
        body = json.dumps(env | {"id": "i" * 201}).encode()
    elif kind == "specversion 0.3":
        body = json.dumps(env | {"specversion": "0.3"}).encode()
    elif kind == "type not a string":
        body = json.dumps(env | {"type": ["order.cancel"]}).encode()
    elif kind == "not JSON":
        body = b'{"specversion": "1.0", "id": '
    elif kind == "JSON array":
        body = json.dumps([env]).encode()
    elif kind == "nested 100000 deep":
        body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    elif kind == "duplicate key":
        body = json.dumps(env).encode()[:-1] + b', "id": "other"}'
    elif kind == "NUL in a string":
        body = json.dumps(env | {"source": "ho\u0000stile"}).encode()
    elif kind == "lone surrogate":
        body = json.dumps(env).replace('"hostile"', '"\\ud800hostile"', 1).encode()
    elif kind == "empty body":
        body = b""
    elif kind == "data not an object":
        return _readable(kind, "order.cancel", ["order_id", world.draft_order])
    else:
        return _readable(kind, "order.teleport", world.templates()["order.cancel"])
    return Hostile(kind, "order.cancel", subject, body, dead_id, True)


@st.composite
def reused_id(draw: st.DrawFn, world: World) -> Hostile:
    """An id the world's setup already used, on a different command (which, under a fresh
    id, would be accepted and change the order)."""
    command_id = draw(st.sampled_from(world.used_ids))
    command_type = draw(st.sampled_from(["order.cancel", "order.amend", "prepayment.invoice"]))
    data = world.templates()[command_type]
    env = envelope(command_type, data, command_id)
    body = json.dumps(env).encode()
    return Hostile(f"reused id {command_id} for {command_type}", command_type, env["subject"],
                   body, command_id, True)  # fmt: skip


CATEGORIES = (
    wrong_type,
    missing_field,
    unknown_field,
    bad_amount,
    wrong_currency,
    bad_date,
    oversized,
    invalid_utf8,
    broken_envelope,
    reused_id,
)


def hostile(world: World) -> st.SearchStrategy[Hostile]:
    return st.one_of(*(category(world) for category in CATEGORIES))


def one_of_each(world: World) -> st.SearchStrategy[list[Hostile]]:
    """A message of every category, then a few more of any."""
    each = st.tuples(*(category(world) for category in CATEGORIES)).map(list)
    return st.tuples(each, st.lists(hostile(world), max_size=8)).map(lambda x: x[0] + x[1])
