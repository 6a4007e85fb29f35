"""The order state machine, the single authority on which command is legal in which state.

One module-level `transitions` machine declares every state and transition; the diagram is
drawn from it. Orders are not registered as its models (that would bind methods on each of
them and keep them alive), and its event-firing machinery (callbacks, conditions, debug
logging) cost about a quarter of a command's time while we use none of it, so the legal moves
are read off the machine once, at import, into `PATHS`. Where a trigger can lead to several
states, the order's figures decide which (`settled_state`), and a destination the machine does
not declare is refused.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from workflows.errors import InvalidState
from workflows.money import ZERO
from workflows.order import Order

DRAFT = "draft"
PREPAYMENT_INVOICED = "prepayment_invoiced"
PARTIALLY_PAID = "partially_paid"
PAID = "paid"
AMENDED = "amended"
PARTIALLY_INVOICED = "partially_invoiced"
FINAL_INVOICED = "final_invoiced"
CANCELLED = "cancelled"

STATES = [
    DRAFT,
    PREPAYMENT_INVOICED,
    PARTIALLY_PAID,
    PAID,
    AMENDED,
    PARTIALLY_INVOICED,
    FINAL_INVOICED,
    CANCELLED,
]
# Reducing the open quantity to what is invoiced completes the order (final_invoiced), also
# from the unpaid states, where lines are invoiced only with "check prepayment" off.
_RESULTS_OF_AMENDING = {
    DRAFT: [DRAFT],
    PREPAYMENT_INVOICED: [PREPAYMENT_INVOICED, AMENDED, FINAL_INVOICED],
    PARTIALLY_PAID: [PARTIALLY_PAID, AMENDED, FINAL_INVOICED],
    PAID: [PAID, AMENDED],
    # Lowering the requirement back to what is invoiced leaves "amended" again.
    AMENDED: [
        AMENDED,
        PREPAYMENT_INVOICED,
        PARTIALLY_PAID,
        PAID,
        PARTIALLY_INVOICED,
        FINAL_INVOICED,
    ],
    PARTIALLY_INVOICED: [PARTIALLY_INVOICED, AMENDED, FINAL_INVOICED],
}

# trigger -> {state it may fire from: [states it may lead to]}
TRANSITIONS: dict[str, dict[str, list[str]]] = {
    "amend": _RESULTS_OF_AMENDING,
    "set_prepayment_total": _RESULTS_OF_AMENDING,
    "invoice_prepayment": {
        DRAFT: [PREPAYMENT_INVOICED],
        AMENDED: [PREPAYMENT_INVOICED, PARTIALLY_PAID],
    },
    # A credit memo leaves the requirement in place: the order awaits a new invoice.
    "credit_prepayment": {
        source: [AMENDED]
        for source in (PREPAYMENT_INVOICED, PARTIALLY_PAID, PAID, AMENDED, PARTIALLY_INVOICED)
    },
    "record_payment": {
        PREPAYMENT_INVOICED: [PREPAYMENT_INVOICED, PARTIALLY_PAID, PAID, PARTIALLY_INVOICED],
        PARTIALLY_PAID: [PARTIALLY_PAID, PAID, PARTIALLY_INVOICED],
        PAID: [PAID],
        AMENDED: [AMENDED],
        PARTIALLY_INVOICED: [PARTIALLY_INVOICED],
        # With "check prepayment" off an order can be fully invoiced before it is paid.
        FINAL_INVOICED: [FINAL_INVOICED],
    },
    # From the unpaid states only with "check prepayment when posting" off.
    "invoice": {
        DRAFT: [PARTIALLY_INVOICED, FINAL_INVOICED],
        PREPAYMENT_INVOICED: [PREPAYMENT_INVOICED, FINAL_INVOICED],
        PARTIALLY_PAID: [PARTIALLY_PAID, FINAL_INVOICED],
        PAID: [PARTIALLY_INVOICED, FINAL_INVOICED],
        PARTIALLY_INVOICED: [PARTIALLY_INVOICED, FINAL_INVOICED],
    },
    "cancel": {
        source: [CANCELLED]
        for source in (DRAFT, PREPAYMENT_INVOICED, PARTIALLY_PAID, PAID, AMENDED)
    },
}


def settled_state(order: Order) -> str:
    """The state an order's figures put it in after a change (cancellation aside).
    One pass over the lines: this runs after every accepted command."""
    all_invoiced, any_invoiced, awaiting_invoice = True, False, False
    for x in order.lines.values():
        if x.quantity != x.quantity_invoiced:
            all_invoiced = False
        if x.quantity_invoiced:
            any_invoiced = True
        if x.prepayment_line_amount > x.prepayment_invoiced:
            awaiting_invoice = True
    # A line of quantity 0 has nothing to invoice and must not keep the order open.
    if all_invoiced and any_invoiced:
        return FINAL_INVOICED
    if awaiting_invoice:
        return AMENDED if order.prepayment_invoices or any_invoiced else DRAFT
    if order.prepayment_outstanding > ZERO:
        # Only a payment makes it partially paid: a credit memo lowers what is open too.
        return PARTIALLY_PAID if order.prepayment_paid > ZERO else PREPAYMENT_INVOICED
    if any_invoiced:
        return PARTIALLY_INVOICED
    return PAID if order.prepayment_invoices else DRAFT


def _build(machine_class: type[Machine] = Machine, **options: Any) -> Machine:
    machine = machine_class(states=STATES, initial=DRAFT, auto_transitions=False, **options)
    for trigger, paths in TRANSITIONS.items():
        for source, dests in paths.items():
            for dest in dests:
                machine.add_transition(trigger, source, dest)
    return machine


MACHINE = _build(model=None)

# (trigger, source) -> the destinations MACHINE declares for it.
PATHS: dict[tuple[str, str], frozenset[str]] = {
    (trigger, source): frozenset(str(t.dest) for t in transitions)
    for trigger, event in MACHINE.events.items()
    for source, transitions in event.transitions.items()
}


def ensure_allowed(order: Order, trigger: str) -> None:
    """Refuse, naming the state, a command the machine does not allow in the order's state."""
    if (trigger, order.state) not in PATHS:
        allowed = sorted(source for t, source in PATHS if t == trigger)
        raise InvalidState(
            f"order {order.order_id} is {order.state}: {trigger.replace('_', ' ')} is not "
            f"allowed in that state (allowed in: {', '.join(allowed)})",
            field="order_id",
        )


def fire(order: Order, trigger: str) -> tuple[str, str] | None:
    """Move the order by `trigger` to the state its figures settle in.
    Returns (from, to) when the state changed, None when it stayed."""
    source = order.state
    target = CANCELLED if trigger == "cancel" else settled_state(order)
    if target not in PATHS.get((trigger, source), ()):
        # Not a refusal (the order has already changed): a contradiction between the figures
        # and the declared machine, i.e. a bug, so it must fail loudly and roll back.
        raise RuntimeError(
            f"order {order.order_id}: {trigger} from {source} cannot lead to {target}"
        )
    order.state = target
    return (source, target) if target != source else None


def mermaid() -> str:
    """The state diagram, drawn by `transitions` from the same table as MACHINE."""
    from transitions.extensions.diagrams import GraphMachine

    class _Diagram:
        state = DRAFT

    diagram = _build(GraphMachine, model=_Diagram(), graph_engine="mermaid", title="Order")
    graph: Any = diagram.model.get_graph()  # type: ignore[attr-defined]
    # Drop the highlighting of a model's current state: the document shows the machine.
    lines = str(graph.draw(None)).splitlines()
    if lines and lines[0] == "---":  # the title block; the document carries its own heading
        lines = lines[lines.index("---", 1) + 1 :]
    return "\n".join(x for x in lines if not x.strip().startswith(("classDef", "Class "))) + "\n"


def state_machine_document() -> str:
    """`docs/state-machine.md`, regenerated from the machine (a test keeps it current)."""
    return (
        "# Order state machine\n\n"
        "Generated from `workflows/lifecycle.py` by `python -m workers.diagram`; do not edit.\n"
        "Where a trigger has several destinations, the order's figures choose one "
        "(`settled_state`): for example a payment leads to `paid` only when no prepayment "
        "invoice is left open.\n\n"
        f"```mermaid\n{mermaid()}```\n"
    )
