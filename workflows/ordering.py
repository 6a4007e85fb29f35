"""Creating and changing an order's lines (spec sections 1 and 2). Changes are made on
copies of the lines and swapped in only when every line passed its checks."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from workflows.commands import AmendOrder, CreateOrder, LineInput, LineUpdate
from workflows.errors import DomainError, ValidationFailed
from workflows.money import ZERO, allocate_last_takes_remainder, is_multiple_of_precision
from workflows.order import (
    Order,
    OrderLine,
    check_line,
    check_line_size,
    compute_amounts,
    set_line_prepayment_amount,
)
from workflows.setup import Party, PrepaymentRule, check_percent, rule_percent

RulesForItem = Callable[[str], list[PrepaymentRule]]


def build_order(cmd: CreateOrder, party: Party, rules_for_item: RulesForItem) -> Order:
    percent = party.prepayment_percent if cmd.prepayment_percent is None else cmd.prepayment_percent
    check_percent(percent, "prepayment_percent", f"order {cmd.order_id}")
    order = Order(
        order_id=cmd.order_id,
        side=cmd.side,
        party_id=cmd.party_id,
        currency=cmd.currency,
        order_date=cmd.order_date,
        posting_date=cmd.posting_date or cmd.order_date,
        prices_include_vat=cmd.prices_include_vat,
        prepayment_percent=percent,
        compress_prepayment=cmd.compress_prepayment,
        check_prepayment_when_posting=party.check_prepayment_when_posting,
        payment_terms=party.payment_terms,
    )
    order.lines = _by_line_no(
        _new_lines(order, {}, cmd.lines, party, rules_for_item, "lines", percent)
    )
    return order


def amend_lines(order: Order, cmd: AmendOrder, party: Party, rules_for_item: RulesForItem) -> None:
    if cmd.prepayment_percent is None and not (
        cmd.add_lines or cmd.update_lines or cmd.remove_lines
    ):
        raise ValidationFailed(
            f"order {order.order_id}: the amendment changes nothing",
            code="order.nothing_to_amend",
        )
    working = dict(order.lines)
    for index, line_no in enumerate(cmd.remove_lines):
        _check_removable(order, order.line(line_no, f"remove_lines.{index}"), index)
        working.pop(line_no, None)  # a line named twice is removed once
    percent = order.prepayment_percent
    if cmd.prepayment_percent is not None:
        percent = cmd.prepayment_percent
        check_percent(percent, "prepayment_percent", f"order {order.order_id}")
        # The order's percent overrides item rules on every line (as in Business Central).
        for line_no, line in working.items():
            working[line_no] = changed = _with(line, prepayment_percent=percent)
            compute_amounts(changed, order.currency)
            try:
                check_line(order, changed, "prepayment_percent")
            except ValidationFailed as error:
                error.field = "prepayment_percent"  # the command's field, not a line's
                raise
    for index, update in enumerate(cmd.update_lines):
        prefix = f"update_lines.{index}"
        if update.line_no not in working:
            removed = " (removed by this amendment)" if update.line_no in order.lines else ""
            raise ValidationFailed(
                f"order {order.order_id} has no line {update.line_no}{removed}",
                field=f"{prefix}.line_no",
                code="line.not_found",
            )
        working[update.line_no] = _updated_line(order, working[update.line_no], update, prefix)
    # Lines added with a new order percent fall back to the new one (precedence level 4).
    added = _new_lines(order, working, cmd.add_lines, party, rules_for_item, "add_lines", percent)
    order.lines = _by_line_no({**working, **added}) if added else working
    order.prepayment_percent = percent


def distribute_total(order: Order, total: Decimal) -> None:
    """`prepayment.set_total`: spread one amount over the lines with a non-zero percent in
    proportion to their line amounts, the last line taking the remainder."""
    where = f"order {order.order_id}"
    if not is_multiple_of_precision(total, order.currency):
        raise ValidationFailed(
            f"{where}: total {total} has more decimals than {order.currency} allows",
            field="amount",
            code="prepayment.amount_precision",
        )
    lines = [x for x in order.sorted_lines() if x.prepayment_percent != 0]
    if not lines:
        raise DomainError(
            f"{where} has no line with a prepayment percent to spread a total over",
            field="amount",
            code="prepayment.no_eligible_lines",
        )
    line_total = sum((x.line_amount for x in lines), ZERO)
    invoiced = sum((x.prepayment_invoiced for x in lines), ZERO)
    if line_total == 0:
        raise DomainError(
            f"{where}: the lines to spread over add up to 0",
            field="amount",
            code="prepayment.zero_line_amounts",
        )
    if not invoiced <= total <= line_total:
        raise ValidationFailed(
            f"{where}: total {total} must lie between the {invoiced} already invoiced and "
            f"the {line_total} of the lines",
            field="amount",
            code="prepayment.total_out_of_range",
        )
    shares = allocate_last_takes_remainder(total, [x.line_amount for x in lines], order.currency)
    changed = {}
    for line, share in zip(lines, shares, strict=True):
        changed[line.line_no] = set_line_prepayment_amount(order, line, share, "amount")
    order.lines = {**order.lines, **changed}


def _updated_line(order: Order, line: OrderLine, update: LineUpdate, prefix: str) -> OrderLine:
    reprices = update.unit_price is not None or update.line_discount_percent is not None
    if reprices and line.quantity_invoiced:
        raise ValidationFailed(
            f"order {order.order_id} line {line.line_no}: the price of a line that is "
            f"partly invoiced ({line.quantity_invoiced} of {line.quantity}) cannot change",
            field=f"{prefix}.unit_price",
            code="line.already_invoiced",
        )
    changes: dict[str, Any] = {
        name: value
        for name in ("quantity", "unit_price", "line_discount_percent", "prepayment_percent")
        if (value := getattr(update, name)) is not None
    }
    if update.prepayment_percent is not None:
        check_percent(
            update.prepayment_percent,
            f"{prefix}.prepayment_percent",
            f"order {order.order_id} line {line.line_no}",
        )
    updated = _with(line, **changes)
    check_line_size(order.order_id, updated, prefix)
    compute_amounts(updated, order.currency)
    if update.prepayment_line_amount is not None:
        updated = set_line_prepayment_amount(
            order, updated, update.prepayment_line_amount, f"{prefix}.prepayment_line_amount"
        )
    check_line(order, updated, prefix)
    return updated


def _check_removable(order: Order, line: OrderLine, index: int) -> None:
    where = f"order {order.order_id} line {line.line_no}"
    if line.prepayment_undeducted:
        raise DomainError(
            f"{where} has {line.prepayment_undeducted} {order.currency} of invoiced prepayment; "
            "post a prepayment credit memo first",
            field=f"remove_lines.{index}",
            code="line.delete_requires_credit_memo",
        )
    if line.quantity_invoiced:
        raise DomainError(
            f"{where} is partly invoiced ({line.quantity_invoiced}) and cannot be removed",
            field=f"remove_lines.{index}",
            code="line.already_invoiced",
        )


def _new_lines(
    order: Order,
    existing: dict[int, OrderLine],
    inputs: tuple[LineInput, ...],
    party: Party,
    rules_for_item: RulesForItem,
    field_name: str,
    order_percent: Decimal,
) -> dict[int, OrderLine]:
    lines: dict[int, OrderLine] = {}
    for index, given in enumerate(inputs):
        prefix = f"{field_name}.{index}"
        if given.line_no in existing or given.line_no in lines:
            raise ValidationFailed(
                f"order {order.order_id} already has a line {given.line_no}",
                field=f"{prefix}.line_no",
                code="line.duplicate_line_no",
            )
        percent = _line_percent(order, given, party, rules_for_item, prefix, order_percent)
        line = OrderLine(
            line_no=given.line_no,
            item_id=given.item_id,
            description=given.description,
            quantity=given.quantity,
            unit_price=given.unit_price,
            line_discount_percent=given.line_discount_percent,
            vat_percent=given.vat_percent,
            prepayment_percent=percent,
        )
        check_line_size(order.order_id, line, prefix)
        compute_amounts(line, order.currency)
        check_line(order, line, prefix)
        lines[given.line_no] = line
    return lines


def _line_percent(
    order: Order,
    given: LineInput,
    party: Party,
    rules_for_item: RulesForItem,
    prefix: str,
    order_percent: Decimal,
) -> Decimal:
    """Explicit line percent, else the item rules' precedence, else the order's percent."""
    if given.prepayment_percent is not None:
        check_percent(
            given.prepayment_percent,
            f"{prefix}.prepayment_percent",
            f"order {order.order_id} line {given.line_no}",
        )
        return given.prepayment_percent
    from_rules = rule_percent(rules_for_item(given.item_id), party, order.posting_date)
    return order_percent if from_rules is None else from_rules


def _with(line: OrderLine, **changes: Any) -> OrderLine:
    changed = line.copy()
    for name, value in changes.items():
        setattr(changed, name, value)
    return changed


def _by_line_no(lines: dict[int, OrderLine]) -> dict[int, OrderLine]:
    """Orders keep their lines sorted by line number, so reading them in line order (which
    VAT spreading and every document need) costs no sort."""
    return dict(sorted(lines.items()))
