"""Invoice and payment arithmetic: an invoice per client and period, paid in one or several parts.

Pure functions over plain values; the database layer stores invoices, payments and the invoice's file.
An invoice is made from a complete bill only (held, missing or unpriced items first resolved), unless
the dealer says otherwise. A payment is positive, in the invoice's currency, and never more than the
balance: an overpayment is refused with the balance named, not stored as a negative balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from server_stub.billing.periods import Period
from server_stub.billing.rules import Bill


class PaymentError(ValueError):
    """A payment or invoice that cannot be recorded; one line saying why."""


def _amount(value: Decimal, what: str, *, positive: bool) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PaymentError(f"{what} must be a finite Decimal, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise PaymentError(f"{what} must be {'above' if positive else 'at least'} 0, got {value}")


@dataclass(frozen=True)
class Invoice:
    number: str
    client_id: int | str
    period: Period | None
    amount: Decimal
    currency: str
    issued_on: date
    due_on: date

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise PaymentError("an invoice needs a number")
        _amount(self.amount, f"invoice {self.number} amount", positive=False)
        if self.due_on < self.issued_on:
            raise PaymentError(f"invoice {self.number} is due ({self.due_on}) before it is issued ({self.issued_on})")


@dataclass(frozen=True)
class Payment:
    amount: Decimal
    paid_on: date
    currency: str
    reference: str | None = None

    def __post_init__(self) -> None:
        _amount(self.amount, "payment amount", positive=True)


@dataclass(frozen=True)
class InvoiceState:
    paid: Decimal
    balance: Decimal
    status: Literal["open", "partly_paid", "paid"]
    overdue: bool
    last_paid_on: date | None


def invoice_for_bill(bill: Bill, number: str, issued_on: date, terms_days: int = 30,
                     allow_open_items: bool = False) -> Invoice:
    """An invoice for the bill's total; refused while the bill has held, missing or unpriced items."""
    if not bill.complete and not allow_open_items:
        raise PaymentError(f"the {bill.period} bill of client {bill.client_id} has {len(bill.open_items)} "
                           "open item(s) (held, missing read or unpriced); resolve them or allow open items")
    if terms_days < 0:
        raise PaymentError("payment terms cannot be negative")
    return Invoice(number, bill.client_id, bill.period, bill.total, bill.currency, issued_on,
                   issued_on + timedelta(days=terms_days))


def balance(invoice: Invoice, payments: Iterable[Payment]) -> Decimal:
    return invoice.amount - sum((p.amount for p in payments), Decimal(0))


def add_payment(invoice: Invoice, payments: Sequence[Payment], payment: Payment) -> tuple[Payment, ...]:
    """The invoice's payments with `payment` added, if it fits the balance and currency."""
    if payment.currency != invoice.currency:
        raise PaymentError(f"payment in {payment.currency} for invoice {invoice.number} in {invoice.currency}")
    left = balance(invoice, payments)
    if payment.amount > left:
        raise PaymentError(f"payment of {payment.amount} exceeds the balance of invoice {invoice.number} ({left})")
    return (*payments, payment)


def invoice_state(invoice: Invoice, payments: Sequence[Payment], today: date) -> InvoiceState:
    paid = sum((p.amount for p in payments), Decimal(0))
    left = invoice.amount - paid
    status = "paid" if left <= 0 else ("partly_paid" if paid > 0 else "open")
    return InvoiceState(paid, left, status, overdue=left > 0 and today > invoice.due_on,
                        last_paid_on=max((p.paid_on for p in payments), default=None))


def client_balance(accounts: Iterable[tuple[Invoice, Sequence[Payment]]]) -> Decimal:
    """What a client owes over all its invoices."""
    return sum((balance(invoice, payments) for invoice, payments in accounts), Decimal(0))
