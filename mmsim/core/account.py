"""The ledger of a cross-margin account on linear USDT perpetuals: pure functions over frozen
values.

All amounts in USDT; positions in signed base units (+ long). Average-entry-price accounting:
a fill that adds to a position moves the entry price to the size-weighted average; a fill that
reduces it realizes (exit - entry) * closed qty * sign into the wallet; a flip closes the old
position entirely and opens the remainder at the fill price. Every fee is paid from the wallet.
"""

from __future__ import annotations

import math

import attrs

from mmsim.core.frozen import unchecked
from mmsim.core.orders import Fill


def _finite(instance, attribute, value):
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be finite, got {value!r}")


def _non_negative(instance, attribute, value):
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be >= 0 and finite, got {value!r}")


@attrs.frozen(slots=True)
class Position:
    """A signed position (base units, + long) and its average entry price (USDT; 0 when flat)."""

    qty: float = attrs.field(default=0.0, validator=_finite)
    entry_price: float = attrs.field(default=0.0, validator=_non_negative)

    def __attrs_post_init__(self):
        if self.qty != 0 and self.entry_price <= 0:
            raise ValueError(f"an open position ({self.qty}) needs a positive entry price")

    def unrealized(self, mark: float) -> float:
        """Mark-to-market PnL in USDT: qty * (mark - entry)."""
        return self.qty * (mark - self.entry_price) if self.qty else 0.0


FLAT = Position()


def trade(position: Position, signed_qty: float, price: float) -> tuple[Position, float]:
    """Apply a trade of `signed_qty` at `price`; return the new position and the realized PnL.

    The five cases (open, add, reduce, close, flip) are spelled out so each can be tested alone.
    """
    q, entry = position.qty, position.entry_price
    new_q = q + signed_qty
    if abs(new_q) < 1e-12 * max(abs(q), abs(signed_qty)):
        new_q = 0.0  # float residue of an exact close
    if q == 0.0:  # open
        return Position(new_q, price), 0.0
    if (q > 0) == (signed_qty > 0):  # add: size-weighted average entry
        return Position(new_q, (q * entry + signed_qty * price) / new_q), 0.0
    closed = min(abs(signed_qty), abs(q))
    realized = closed * (price - entry) * (1.0 if q > 0 else -1.0)
    if new_q == 0.0:  # close
        return FLAT, realized
    if (new_q > 0) == (q > 0):  # reduce: entry unchanged
        return Position(new_q, entry), realized
    return Position(new_q, price), realized  # flip: remainder opened at the fill price


@attrs.frozen(slots=True)
class Account:
    """One shared wallet and a position and mark per symbol (immutable; update with pure functions).

    wallet: deposited cash + realized PnL - fees + funding (USDT).
    Per-symbol tuples follow `symbols` order: positions, marks (last close, USDT), and the
    running totals since the start (USDT): realized PnL, fees paid (negative = net rebate),
    funding received (negative = paid) and traded notional.
    """

    symbols: tuple[str, ...]
    wallet: float = attrs.field(validator=_finite)
    positions: tuple[Position, ...]
    marks: tuple[float, ...]
    realized: tuple[float, ...]
    fees: tuple[float, ...]
    funding: tuple[float, ...]
    traded: tuple[float, ...]

    def __attrs_post_init__(self):
        n = len(self.symbols)
        if not (
            len(self.positions)
            == len(self.marks)
            == len(self.realized)
            == len(self.fees)
            == len(self.funding)
            == len(self.traded)
            == n
        ):
            for name in ("positions", "marks", "realized", "fees", "funding", "traded"):
                if len(getattr(self, name)) != n:
                    raise ValueError(f"Account.{name} must have one entry per symbol ({n})")

    @classmethod
    def open(cls, symbols: tuple[str, ...], initial_cash: float, marks: tuple[float, ...]):
        """A fresh account: all cash, flat in every symbol."""
        if not (initial_cash > 0 and math.isfinite(initial_cash)):
            raise ValueError(f"initial_cash must be positive, got {initial_cash!r}")
        n = len(symbols)
        zeros = (0.0,) * n
        return cls(
            tuple(symbols),
            float(initial_cash),
            (FLAT,) * n,
            tuple(marks),
            zeros,
            zeros,
            zeros,
            zeros,
        )

    @property
    def fees_paid(self) -> float:
        return sum(self.fees)

    @property
    def funding_received(self) -> float:
        return sum(self.funding)

    @property
    def realized_pnl(self) -> float:
        return sum(self.realized)

    @property
    def traded_notional(self) -> float:
        return sum(self.traded)

    def index(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    @property
    def unrealized(self) -> float:
        # summed left to right from 0, as `sum` does (the records repeat this order)
        total = 0
        for p, m in zip(self.positions, self.marks):
            if p.qty:
                total += p.qty * (m - p.entry_price)
            else:
                total += 0.0
        return total

    @property
    def equity(self) -> float:
        """wallet + sum of unrealized PnL (USDT)."""
        return self.wallet + self.unrealized

    def notional(self, i: int) -> float:
        return abs(self.positions[i].qty) * self.marks[i]

    @property
    def gross_notional(self) -> float:
        total = 0
        for p, m in zip(self.positions, self.marks):
            total += abs(p.qty) * m
        return total

    def leverage(self, i: int | None = None) -> float:
        """notional / equity for symbol i, or gross notional / equity; inf when equity <= 0."""
        notional = self.gross_notional if i is None else self.notional(i)
        return _ratio(notional, self.equity)

    def margin_ratio(self, maintenance_margin_rate: float) -> float:
        """sum(notional * maintenance rate) / equity; the account is liquidated at >= 1."""
        equity, gross = equity_and_gross(self)
        return _ratio(gross * maintenance_margin_rate, equity)


def equity_and_gross(account: Account) -> tuple[float, float]:
    """(`account.equity`, `account.gross_notional`) in one pass, summed as those are."""
    unrealized = gross = 0
    for p, m in zip(account.positions, account.marks):
        q = p.qty
        if q:
            unrealized += q * (m - p.entry_price)
        else:
            unrealized += 0.0
        gross += abs(q) * m
    return account.wallet + unrealized, gross


# an account from fields already valid: tuples of one entry per symbol and a finite wallet
_account = unchecked(Account)


def _ratio(numerator: float, equity: float) -> float:
    if numerator == 0.0:
        return 0.0
    return numerator / equity if equity > 0 else math.inf


def _put(values: tuple, i: int, value) -> tuple:
    return values[:i] + (value,) + values[i + 1 :]


def settle(account: Account, fill: Fill) -> Account:
    """Book one fill: position, realized PnL and fee into the wallet."""
    i = account.symbols.index(fill.symbol)
    position, realized = trade(account.positions[i], fill.signed_qty, fill.price)
    wallet = account.wallet + realized - fill.fee
    # the tuples keep their lengths; only a wallet that overflowed needs the validator
    return (_account if math.isfinite(wallet) else Account)(
        account.symbols,
        wallet,
        _put(account.positions, i, position),
        account.marks,
        _put(account.realized, i, account.realized[i] + realized),
        _put(account.fees, i, account.fees[i] + fill.fee),
        account.funding,
        _put(account.traded, i, account.traded[i] + fill.notional),
    )


def mark(account: Account, closes: tuple[float | None, ...]) -> Account:
    """Move marks to this bar's closes; a symbol with no bar (None) keeps its last mark."""
    marks = tuple(m if c is None else c for m, c in zip(account.marks, closes))
    # only the marks change (no validator reads them); a wrong number of closes is refused
    return (_account if len(marks) == len(account.symbols) else Account)(
        account.symbols,
        account.wallet,
        account.positions,
        marks,
        account.realized,
        account.fees,
        account.funding,
        account.traded,
    )


def pay_funding(account: Account, rates: tuple[float, ...]) -> Account:
    """Funding at rate f pays -position * mark * f to the wallet (longs pay when f > 0)."""
    flows = tuple(-p.qty * m * f for p, m, f in zip(account.positions, account.marks, rates))
    if not any(flows):
        return account
    return attrs.evolve(
        account,
        wallet=account.wallet + sum(flows),
        funding=tuple(a + b for a, b in zip(account.funding, flows)),
    )
