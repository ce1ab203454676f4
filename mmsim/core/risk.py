"""Risk rules: pluggable pure filters between the strategies and the book, composed with `chain`.

    rule.init() -> state
    rule.update(state, RiskInput) -> (state, RiskDecision)

A rule sees the orders proposed at a bar close (already on the tick/lot grid) and the account
marked at that close; it keeps, trims or rejects orders, may send market orders (executed at the
next bar's open) and may halt the run. Leverage is notional / equity with notional in USDT, the
same unit for any number of symbols.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from mmsim.core.account import Account, _ratio
from mmsim.core.frozen import unchecked
from mmsim.core.orders import MarketOrder, Order, Rejection
from mmsim.core.params import build_params
from mmsim.core.risk_params import (
    BasicRiskParams,
    EarlyStopParams,
    EmergencyExitParams,
    LeverageCapsParams,
    MinOrderValueParams,
)
from mmsim.core.venue import SymbolSpec, Venue, round_qty


@attrs.frozen(slots=True)
class RiskInput:
    """What a risk rule sees at a bar close (immutable).

    equity (USDT) and gross_notional (sum of |position| x mark, USDT): the account's at this
    close, computed once for every rule (from `account` when not given).
    """

    ts: int
    orders: tuple[Order, ...]
    account: Account
    initial_cash: float
    venue: Venue
    specs: Mapping[str, SymbolSpec] = attrs.field(eq=False, hash=False)
    equity: float = attrs.field(kw_only=True, eq=False)
    gross_notional: float = attrs.field(kw_only=True, eq=False)

    @equity.default
    def _equity(self) -> float:
        return self.account.equity

    @gross_notional.default
    def _gross_notional(self) -> float:
        return self.account.gross_notional

    def with_orders(self, orders: tuple[Order, ...]) -> RiskInput:
        """The same close with other orders (what the next rule of a chain sees)."""
        if orders is self.orders:
            return self
        return _risk_input(
            self.ts,
            orders,
            self.account,
            self.initial_cash,
            self.venue,
            self.specs,
            self.equity,
            self.gross_notional,
        )

    @property
    def leverage(self) -> float:
        """gross notional / equity; inf when equity <= 0 (0 when flat)."""
        return _ratio(self.gross_notional, self.equity)

    @property
    def margin_ratio(self) -> float:
        """gross notional x the venue's maintenance rate / equity; liquidation at >= 1."""
        return _ratio(self.gross_notional * self.venue.maintenance_margin_rate, self.equity)


@attrs.frozen(slots=True)
class RiskDecision:
    """A rule's verdict: orders to post, those rejected (with reasons), market orders, halt."""

    orders: tuple[Order, ...]
    rejected: tuple[Rejection, ...] = ()
    market_orders: tuple[MarketOrder, ...] = ()
    halt: str | None = None
    events: tuple[str, ...] = ()


# values rebuilt from the fields of valid ones (neither class has a validator)
_risk_input = unchecked(RiskInput)
_decision = unchecked(RiskDecision)


def passed(orders: tuple[Order, ...]) -> RiskDecision:
    """The verdict that keeps `orders` and does nothing else: `RiskDecision(orders)`."""
    return _decision(orders, (), (), None, ())


@attrs.frozen(slots=True)
class RiskRule:
    """A named pair of pure functions (immutable).

    params: the parameters a built-in rule was made with (a `mmsim.core.risk_params` value; None
    for a user's own rule); parts: the rules a `chain` composes. Both describe the rule, so a
    compiled path can run it too.
    """

    name: str
    init: Callable[[], Any] = attrs.field(eq=False)
    update: Callable[[Any, RiskInput], tuple[Any, RiskDecision]] = attrs.field(eq=False)
    params: Any = attrs.field(default=None, eq=False)
    parts: tuple = attrs.field(default=(), eq=False, repr=False)


def stateless_rule(
    name: str, decide: Callable[[RiskInput], RiskDecision], *, params: Any = None
) -> RiskRule:
    """Wrap a plain function `decide(inputs) -> RiskDecision` as a rule with no state."""
    return RiskRule(name, lambda: None, lambda state, inputs: (state, decide(inputs)), params)


def _empty(decision: RiskDecision) -> bool:
    """No rejections, market orders or events, as empty tuples."""
    return decision.rejected == decision.market_orders == decision.events == ()


def chain(*rules: RiskRule) -> RiskRule:
    """Apply rules in order: each sees the orders the previous ones kept.

    Rejections and events accumulate; the first halt wins; market orders are merged per symbol,
    the first rule's order for a symbol winning (so two exits never close a position twice).
    """

    def init():
        return tuple(rule.init() for rule in rules)

    def update(states, inputs):
        orders = inputs.orders
        rejected: list[Rejection] = []
        market: dict[str, MarketOrder] = {}
        events: list[str] = []
        halt = None
        new_states = []
        decision = None
        quiet = True  # no rule has rejected, sent, halted or reported anything yet
        for rule, state in zip(rules, states):
            if orders is not inputs.orders:
                inputs = inputs.with_orders(orders)
            state, decision = rule.update(state, inputs)
            new_states.append(state)
            orders = decision.orders
            if decision.rejected or decision.market_orders or decision.events or decision.halt:
                quiet = False
                rejected.extend(decision.rejected)
                for order in decision.market_orders:
                    market.setdefault(order.symbol, order)
                events.extend(decision.events)
                halt = halt or decision.halt
        # the last rule's decision is the whole verdict when no rule rejected, sent, halted or
        # reported anything (compared with () so a rule's lists are still made tuples below)
        if quiet and decision is not None and _empty(decision):
            return tuple(new_states), decision
        return tuple(new_states), _decision(
            orders, tuple(rejected), tuple(market.values()), halt, tuple(events)
        )

    return RiskRule("+".join(r.name for r in rules) or "none", init, update, parts=tuple(rules))


NO_RISK = chain()


def min_order_value(value: float) -> RiskRule:
    """Reject orders whose notional (price * qty, USDT) is below `value`."""
    params = build_params(MinOrderValueParams, "min_order_value", value=value)

    def decide(inputs: RiskInput) -> RiskDecision:
        keep, rejected = [], []
        for order in inputs.orders:
            if order.price * order.qty < value:
                rejected.append(Rejection(order, "min_order_value"))
            else:
                keep.append(order)
        return RiskDecision(tuple(keep), tuple(rejected))

    return stateless_rule("min_order_value", decide, params=params)


def _trim_side(
    orders: list[Order], signed_notional: float, cap: float, lot: float
) -> tuple[list[Order], list[Rejection], float]:
    """Trim one side's orders (innermost first) so |position notional| stays <= cap if all fill.

    Each order is valued at its own price; returns kept orders, rejections, final notional.
    """
    keep, rejected = [], []
    n = signed_notional
    for order in orders:
        notional = order.price * order.qty
        room = (cap - n) if order.side > 0 else (cap + n)
        if room < notional:
            qty = round_qty(max(room, 0.0) / order.price, lot)
            if qty <= 0:
                rejected.append(Rejection(order, "leverage"))
                continue
            if qty < order.qty:
                order = attrs.evolve(order, qty=qty)
                notional = order.price * qty
        keep.append(order)
        n += order.side * notional
    return keep, rejected, n


def _level_then_price(order: Order) -> tuple[int, float]:
    return order.level, order.price


def _trim_symbol(orders, signed_notional, cap, lot):
    # each side innermost first (a stable sort by level, then price): split first, so a side
    # of one order needs no sort
    bids = [o for o in orders if o.side > 0]
    asks = [o for o in orders if o.side < 0]
    if len(bids) > 1:
        bids.sort(key=_level_then_price)
    if len(asks) > 1:
        asks.sort(key=_level_then_price)
    bids, rej_b, n_buy = _trim_side(bids, signed_notional, cap, lot)
    asks, rej_a, n_sell = _trim_side(asks, signed_notional, cap, lot)
    worst = max(abs(signed_notional), abs(n_buy), abs(n_sell))
    return bids + asks, rej_b + rej_a, worst


def side_notionals(
    orders: tuple[Order, ...], position_qty: float, mark: float
) -> tuple[float, float]:
    """Signed notional of the position (USDT, + long) if every buy filled at its own price, and
    if every sell did."""
    n = position_qty * mark
    buys = n + sum(o.notional for o in orders if o.side > 0)
    sells = n - sum(o.notional for o in orders if o.side < 0)
    return buys, sells


def worst_case_notional(orders: tuple[Order, ...], position_qty: float, mark: float) -> float:
    """max |notional| of the position if every order of one side fills at its own price (USDT)."""
    buys, sells = side_notionals(orders, position_qty, mark)
    return max(abs(position_qty * mark), abs(buys), abs(sells))


def leverage_caps(
    *, max_leverage: float | None = None, max_symbol_leverage: float | None = None
) -> RiskRule:
    """Cap per-symbol and total leverage at placement, as if every order of a side fills.

    Per symbol: |position*mark + sum(side*price*qty)| <= max_symbol_leverage * equity on each
    side. Total: the sum over symbols of that worst case <= max_leverage * equity; when it is
    exceeded, every symbol's added exposure is scaled by the same factor (so no symbol is
    favoured by its order in the list) and the symbol cap still holds. Orders are trimmed
    innermost-first to whole lots; an order trimmed to nothing is rejected with reason
    "leverage". Orders that only reduce exposure always pass; a side that would flip the
    position is trimmed so the opposite position stays within max_symbol_leverage x equity.
    """
    params = build_params(
        LeverageCapsParams,
        "leverage_caps",
        max_leverage=max_leverage,
        max_symbol_leverage=max_symbol_leverage,
    )

    def decide(inputs: RiskInput) -> RiskDecision:
        if not inputs.orders:
            return passed(())
        account = inputs.account
        equity = max(inputs.equity, 0.0)
        symbol_cap = math.inf if max_symbol_leverage is None else max_symbol_leverage * equity
        symbol = inputs.orders[0].symbol
        if all(o.symbol == symbol for o in inputs.orders):
            return _one_symbol(inputs, symbol, equity, symbol_cap)
        groups: dict[str, list[Order]] = {}
        for order in inputs.orders:
            groups.setdefault(order.symbol, []).append(order)
        trimmed = {}
        for symbol, orders in groups.items():
            i = account.symbols.index(symbol)
            n0 = account.positions[i].qty * account.marks[i]
            lot = inputs.specs[symbol].lot_size
            trimmed[symbol] = (_trim_symbol(orders, n0, symbol_cap, lot), n0, lot)
        if max_leverage is not None:
            current = inputs.gross_notional
            added = {s: max(t[0][2] - abs(t[1]), 0.0) for s, t in trimmed.items()}
            total_cap = max_leverage * equity
            total_added = sum(added.values())
            if total_added > 0 and current + total_added > total_cap:
                k = max(0.0, (total_cap - current) / total_added)
                for symbol, orders in groups.items():
                    _, n0, lot = trimmed[symbol]
                    # the symbol cap still holds: a side that flips the position is capped by
                    # it, not by the notional held
                    cap = min(abs(n0) + k * added[symbol], symbol_cap)
                    trimmed[symbol] = (_trim_symbol(orders, n0, cap, lot), n0, lot)
        keep, rejected = [], []
        for (orders, rejections, _), _, _ in trimmed.values():
            keep.extend(orders)
            rejected.extend(rejections)
        return _decision(tuple(keep), tuple(rejected), (), None, ())

    def _one_symbol(inputs, symbol, equity, symbol_cap):
        """`decide` when every order is one symbol's (the same steps without the dicts)."""
        account = inputs.account
        i = account.symbols.index(symbol)
        n0 = account.positions[i].qty * account.marks[i]
        lot = inputs.specs[symbol].lot_size
        orders = list(inputs.orders)
        kept, rejected, worst = _trim_symbol(orders, n0, symbol_cap, lot)
        if max_leverage is not None:
            current = inputs.gross_notional
            added = max(worst - abs(n0), 0.0)
            total_cap = max_leverage * equity
            if added > 0 and current + added > total_cap:
                k = max(0.0, (total_cap - current) / added)
                cap = min(abs(n0) + k * added, symbol_cap)
                kept, rejected, _ = _trim_symbol(orders, n0, cap, lot)
        return _decision(tuple(kept), tuple(rejected), (), None, ())

    return stateless_rule("leverage_caps", decide, params=params)


def close_all(account: Account, reason: str) -> tuple[MarketOrder, ...]:
    """Market orders that flatten every open position."""
    return tuple(
        MarketOrder(symbol, -1 if p.qty > 0 else 1, abs(p.qty), reason)
        for symbol, p in zip(account.symbols, account.positions)
        if p.qty != 0
    )


def _exit(inputs: RiskInput, reason: str, halt: bool) -> RiskDecision:
    return RiskDecision(
        orders=(),
        rejected=tuple(Rejection(o, reason) for o in inputs.orders),
        market_orders=close_all(inputs.account, reason),
        halt=reason if halt else None,
        events=(reason,),
    )


def emergency_exit(
    *,
    max_leverage: float | None = None,
    max_margin_ratio: float | None = None,
    max_drawdown: float | None = None,
) -> RiskRule:
    """Flatten with market orders and skip quoting for the bar when a threshold is passed.

    max_leverage: gross notional / equity; max_margin_ratio: maintenance margin / equity;
    max_drawdown: 1 - equity / peak equity (a fraction). The state is the equity peak; it
    restarts from the equity at an exit, so a drawdown exit fires once, not on every later bar.
    """
    params = build_params(
        EmergencyExitParams,
        "emergency_exit",
        max_leverage=max_leverage,
        max_margin_ratio=max_margin_ratio,
        max_drawdown=max_drawdown,
    )

    def update(peak, inputs: RiskInput):
        equity = inputs.equity
        peak = max(peak, equity)
        reason = None
        if max_leverage is not None and inputs.leverage > max_leverage:
            reason = f"emergency_exit: leverage {inputs.leverage:.3g} > {max_leverage:g}"
        elif max_margin_ratio is not None:
            ratio = inputs.margin_ratio
            if ratio > max_margin_ratio:
                reason = f"emergency_exit: margin ratio {ratio:.3g} > {max_margin_ratio:g}"
        if reason is None and max_drawdown is not None and equity < peak * (1 - max_drawdown):
            reason = f"emergency_exit: drawdown {1 - equity / peak:.3g} > {max_drawdown:g}"
        if reason is None:
            return peak, passed(inputs.orders)
        return equity, _exit(inputs, reason, halt=False)

    return RiskRule("emergency_exit", lambda: -math.inf, update, params=params)


def early_stop(*, min_equity_fraction: float) -> RiskRule:
    """Halt the run when equity < min_equity_fraction * initial cash: flatten, then stop quoting."""
    params = build_params(EarlyStopParams, "early_stop", min_equity_fraction=min_equity_fraction)

    def decide(inputs: RiskInput) -> RiskDecision:
        equity = inputs.equity
        if equity >= min_equity_fraction * inputs.initial_cash:
            return passed(inputs.orders)
        reason = (
            f"early_stop: equity {equity:.2f} < {min_equity_fraction:g} x initial"
            f" {inputs.initial_cash:.2f}"
        )
        return _exit(inputs, reason, halt=True)

    return stateless_rule("early_stop", decide, params=params)


def basic_risk(
    *,
    max_leverage: float | None = 3.0,
    max_symbol_leverage: float | None = None,
    min_order_value: float = 0.0,
    emergency_leverage: float | None = None,
    emergency_margin_ratio: float | None = None,
    emergency_drawdown: float | None = None,
    stop_equity_fraction: float | None = None,
) -> RiskRule:
    """The classic rule set, in order: early stop, emergency exit, leverage caps, minimum value.

    Every threshold is a finite number > 0 or None (off), the fractions below 1; min_order_value
    (USDT) is >= 0 (0: off). See `BasicRiskParams`.
    """
    BasicRiskParams(
        max_leverage=max_leverage,
        max_symbol_leverage=max_symbol_leverage,
        min_order_value=min_order_value,
        emergency_leverage=emergency_leverage,
        emergency_margin_ratio=emergency_margin_ratio,
        emergency_drawdown=emergency_drawdown,
        stop_equity_fraction=stop_equity_fraction,
    )
    rules = []
    if stop_equity_fraction is not None:
        rules.append(early_stop(min_equity_fraction=stop_equity_fraction))
    if any(x is not None for x in (emergency_leverage, emergency_margin_ratio, emergency_drawdown)):
        rules.append(
            emergency_exit(
                max_leverage=emergency_leverage,
                max_margin_ratio=emergency_margin_ratio,
                max_drawdown=emergency_drawdown,
            )
        )
    if max_leverage is not None or max_symbol_leverage is not None:
        rules.append(
            leverage_caps(max_leverage=max_leverage, max_symbol_leverage=max_symbol_leverage)
        )
    if min_order_value > 0:
        rules.append(_min_order_value(min_order_value))
    return chain(*rules)


_min_order_value = min_order_value
