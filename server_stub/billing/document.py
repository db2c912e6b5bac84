"""The invoice's own file: an HTML document rendered with Jinja2 (autoescaped: client names and addresses are
what customers typed). Stored with the invoice (`invoices file N --out FILE` writes it back)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jinja2 import Environment, select_autoescape

from server_stub.billing.invoices import Invoice

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_TEMPLATE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {{ invoice.number }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .6em}
td.n{text-align:right}</style></head>
<body>
<h1>Invoice {{ invoice.number }}</h1>
<p>{{ client }}{% if address %}<br>{{ address }}{% endif %}</p>
<p>Period {{ invoice.period }} &middot; issued {{ invoice.issued_on }} &middot; due {{ invoice.due_on }}</p>
<table>
<tr><th>Meter</th><th>Pages</th><th>Amount ({{ invoice.currency }})</th></tr>
{% for m in bill.meters %}<tr><td>{{ m.meter }}</td><td class="n">{{ m.pages }}</td><td class="n">{{ m.amount }}</td></tr>
{% endfor %}{% if bill.plan_type == "subscription" %}<tr><td>subscription fee</td><td></td><td class="n">{{ bill.fee }}</td></tr>
{% endif %}{% if bill.consumables %}<tr><td>consumables</td><td></td><td class="n">{{ consumables_total }}</td></tr>
{% endif %}<tr><th>Total</th><th></th><th class="n">{{ invoice.amount }} {{ invoice.currency }}</th></tr>
</table>
<h2>Devices</h2>
<table><tr><th>Asset</th><th>Meter</th><th>Pages</th><th>Opening</th><th>Closing</th></tr>
{% for l in bill.lines %}{% set r = l.reads[0] %}<tr><td>{{ l.asset }}</td><td>{{ l.meter }}</td><td class="n">{{ l.pages }}</td>
<td>{{ r.opening.value }} ({{ r.opening.kind }}, {{ r.opening.at }})</td><td>{{ r.closing.value }} ({{ r.closing.kind }}, {{ r.closing.at }})</td></tr>
{% endfor %}</table>
{% if bill.consumables %}<h2>Consumables delivered</h2>
<table><tr><th>Delivered</th><th>Asset</th><th>Consumable</th><th>Quantity</th><th>Unit price</th><th>Amount</th><th>From</th></tr>
{% for c in bill.consumables %}<tr><td>{{ c.delivered_at[:10] }}</td><td>{{ c.asset }}</td>
<td>{{ [c.stock_code or c.part_number, c.color, c.type] | select | join(" ") }}</td><td class="n">{{ c.quantity }}</td>
<td class="n">{{ c.unit_price }}</td><td class="n">{{ c.amount }}</td><td>{{ c.reference }}</td></tr>
{% endfor %}</table>
{% endif %}</body></html>
""")


def invoice_html(invoice: Invoice, client: str, address: str | None, bill: dict[str, Any]) -> str:
    """`bill`: the stored bill document (export.bill_document)."""
    consumables_total = sum((Decimal(c["amount"]) for c in bill["consumables"] if c["amount"] is not None), Decimal(0))
    return _TEMPLATE.render(invoice=invoice, client=client, address=address, bill=bill,
                            consumables_total=consumables_total)
