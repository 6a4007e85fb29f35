"""The order state machine, the single authority on which command is legal in which state.

One module-level `transitions` machine serves every order: orders are not registered as its
models (that would bind methods on each of them and keep them alive); an event is fired on
an order directly. Where a trigger can lead to several states, the order's figures decide
which (`settled_state`), and each transition's condition checks that choice, so the machine
still refuses any destination it does not declare.
"""

from __future__ import annotations

from typing import Any, Protocol

from transitions import Machine, MachineError

from workflows.errors import InvalidState
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
_RESULTS_OF_AMENDING = {
    DRAFT: [DRAFT],
    PREPAYMENT_INVOICED: [PREPAYMENT_INVOICED, AMENDED],
    PARTIALLY_PAID: [PARTIALLY_PAID, AMENDED],
    PAID: [PAID, AMENDED],
    # Lowering the requirement back to what is invoiced leaves "amended" again.
    AMENDED: [AMENDED, PREPAYMENT_INVOICED, PARTIALLY_PAID, PAID, PARTIALLY_INVOICED],
    # Reducing the open quantity to what is invoiced completes the order.
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
    """The state an order's figures put it in after a change (cancellation aside)."""
    lines = order.lines.values()
    if lines and all(x.quantity_remaining == 0 and x.quantity_invoiced for x in lines):
        return FINAL_INVOICED
    if any(x.prepayment_to_bill > 0 for x in lines):
        return AMENDED if order.has_prepayment_history else DRAFT
    if order.prepayment_outstanding > 0:
        partly = any(inv.open < inv.gross for inv in order.prepayment_invoices if inv.open > 0)
        return PARTIALLY_PAID if partly or order.prepayment_paid > 0 else PREPAYMENT_INVOICED
    if any(x.quantity_invoiced for x in lines):
        return PARTIALLY_INVOICED
    return PAID if order.prepayment_invoices else DRAFT


class _Target(Protocol):
    state: str


def _leads_to(dest: str) -> Any:
    def condition(target: str) -> bool:
        return target == dest

    condition.__name__ = f"settles_in_{dest}"
    return condition


def _build(machine_class: type[Machine] = Machine, **options: Any) -> Machine:
    machine = machine_class(states=STATES, initial=DRAFT, auto_transitions=False, **options)
    for trigger, paths in TRANSITIONS.items():
        for source, dests in paths.items():
            for dest in dests:
                machine.add_transition(trigger, source, dest, conditions=_leads_to(dest))
    return machine


MACHINE = _build(model=None)


def ensure_allowed(order: Order, trigger: str) -> None:
    """Refuse, naming the state, a command the machine does not allow in the order's state."""
    if not MACHINE.get_transitions(trigger=trigger, source=order.state):
        raise InvalidState(
            f"order {order.order_id} is {order.state}: {trigger.replace('_', ' ')} is not "
            f"allowed in that state (allowed in: {', '.join(TRANSITIONS[trigger])})",
            field="order_id",
        )


def fire(order: Order, trigger: str) -> tuple[str, str] | None:
    """Move the order by `trigger` to the state its figures settle in.
    Returns (from, to) when the state changed, None when it stayed."""
    source = order.state
    target = CANCELLED if trigger == "cancel" else settled_state(order)
    try:
        moved = MACHINE.events[trigger].trigger(order, target)
    except MachineError as exc:  # pragma: no cover - ensure_allowed runs first
        raise InvalidState(str(exc), field="order_id") from exc
    if not moved:
        raise RuntimeError(  # pragma: no cover - would be a bug in TRIGGERS
            f"order {order.order_id}: {trigger} from {source} cannot lead to {target}"
        )
    return (source, order.state) if order.state != source else None


def mermaid() -> str:
    """The state diagram, drawn by `transitions` from the same table as MACHINE."""
    from transitions.extensions.diagrams import GraphMachine

    class _Diagram:
        state = DRAFT

    diagram = _build(GraphMachine, model=_Diagram(), graph_engine="mermaid", title="Order")
    graph: Any = diagram.model.get_graph()  # type: ignore[attr-defined]
    return str(graph.draw(None))
