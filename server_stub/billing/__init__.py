"""Billing: billing reads, price plans, bill rules, ERP export and invoice arithmetic.

Pure domain code over plain values (Decimal money, UTC datetimes). The database layer loads rows, calls
these functions and stores what they return; nothing here opens a connection.

- periods.py  billing periods (calendar months, UTC) and their cut-offs
- reads.py    which read bills a period, estimates and true-ups, resets/swaps, outlier check, volumes
- plans.py    the plan file (TOML/JSON) and the plan history (effective-from periods)
- rules.py    the one place for billing rules: bill lines, tiers, amounts, totals
- export.py   ERP CSV rows, formula injection neutralised
- invoices.py invoices, partial payments, balance

On the database (functions taking a Connection): store.py (load, run, store, export, invoices) and
deliveries.py (the consumables a period delivered, from the supply orders and consumable jobs).
"""
