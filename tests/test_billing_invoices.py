"""Invoice and payment arithmetic: partial payments, balance, refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from server_stub.billing.invoices import (
    Invoice, Payment, PaymentError, add_payment, client_balance, invoice_for_bill, invoice_state,
)
from server_stub.billing.periods import Period
from server_stub.billing.plans import load_plan
from server_stub.billing.reads import MeterVolume
from server_stub.billing.rules import Device, compute_bill

D = Decimal
MARCH = Period(2026, 3)
INVOICE = Invoice("F-2026-031", "acme", MARCH, D("1250.40"), "EUR", date(2026, 4, 2), date(2026, 5, 2))


def pay(amount: str, day: int) -> Payment:
    return Payment(D(amount), date(2026, 4, day), "EUR", reference=f"transfer {day}")


def test_several_partial_payments_until_paid():
    payments = add_payment(INVOICE, (), pay("500.00", 10))
    state = invoice_state(INVOICE, payments, date(2026, 4, 11))
    assert (state.status, state.paid, state.balance) == ("partly_paid", D("500.00"), D("750.40"))  # 1250.40 - 500
    payments = add_payment(INVOICE, payments, pay("700.40", 20))
    payments = add_payment(INVOICE, payments, pay("50.00", 25))
    state = invoice_state(INVOICE, payments, date(2026, 4, 26))
    assert (state.status, state.balance, state.last_paid_on) == ("paid", D("0.00"), date(2026, 4, 25))


def test_overpayment_currency_and_non_positive_payments_are_refused():
    payments = add_payment(INVOICE, (), pay("1000.00", 10))
    with pytest.raises(PaymentError, match=r"exceeds the balance .* \(250.40\)"):
        add_payment(INVOICE, payments, pay("250.41", 11))
    with pytest.raises(PaymentError, match="payment in USD"):
        add_payment(INVOICE, payments, Payment(D("1"), date(2026, 4, 11), "USD"))
    with pytest.raises(PaymentError, match="above 0"):
        Payment(D("0"), date(2026, 4, 11), "EUR")
    with pytest.raises(PaymentError, match="finite"):
        Payment(D("NaN"), date(2026, 4, 11), "EUR")


def test_overdue_only_after_the_due_date_with_a_balance():
    assert not invoice_state(INVOICE, (), date(2026, 5, 2)).overdue
    assert invoice_state(INVOICE, (), date(2026, 5, 3)).overdue
    assert invoice_state(INVOICE, (), date(2026, 5, 3)).status == "open"


def test_client_balance_over_invoices():
    second = Invoice("F-2026-041", "acme", Period(2026, 4), D("99.60"), "EUR", date(2026, 5, 2), date(2026, 6, 1))
    assert client_balance([(INVOICE, (pay("250.40", 5),)), (second, ())]) == D("1000.00") + D("99.60")


def test_invoice_from_a_bill_only_when_complete():
    plan = load_plan('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = 0.01\ncolor = 0.1\n', "toml")
    ok = MeterVolume("D1", "mono", MARCH, "ok", pages=1000)
    missing = MeterVolume("D2", "mono", MARCH, "missing_read", reason="no read")
    complete = compute_bill("acme", MARCH, plan, [Device("D1")], [ok])
    invoice = invoice_for_bill(complete, "F-1", date(2026, 4, 2))
    assert (invoice.amount, invoice.due_on) == (D("10.00"), date(2026, 5, 2))   # 1000 x 0.01; 30 days
    partial = compute_bill("acme", MARCH, plan, [Device("D1"), Device("D2")], [ok, missing])
    with pytest.raises(PaymentError, match="1 open item"):
        invoice_for_bill(partial, "F-2", date(2026, 4, 2))
    assert invoice_for_bill(partial, "F-2", date(2026, 4, 2), allow_open_items=True).amount == D("10.00")
