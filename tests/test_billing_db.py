"""Billing on the database, on SQLite and PostgreSQL, through the real CLI and readings imported by the
production ingest path. Expected amounts are worked out here from the plans' numbers.

Plans for past periods are set with `store_plan(..., now=<a date in that period>)`, as a dealer would have set
them then; `billing plan set --from` is tested in test_billing_deliveries.py."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

import server_stub.billing
from billing_peers import Home, at, home, reading, tiered  # noqa: F401 (home is a fixture)
from server_stub.billing import store
from server_stub.billing.plans import load_plan, load_plan_file
from server_stub.billing.tables import billing_reads, bills

D = Decimal
EXAMPLE = Path(server_stub.billing.__file__).with_name("plan.example.toml")


def plan_as_of(home: Home, client: str, plan, when: str) -> None:
    with home.engine.begin() as conn:
        store.store_plan(conn, store.client_id(conn, client), plan, at(when), "test")


def simple(mono: str, color: str = "0.05", extra: str = "", type_: str = "simple"):
    return load_plan(f'type = "{type_}"\ncurrency = "EUR"\n[prices]\nmono = "{mono}"\ncolor = "{color}"\n{extra}', "toml")


def test_worked_example_end_to_end_with_invoice_payments_and_export(home):
    client = "=HYPERLINK(\"http://x\")"  # what a dealer typed may look like a formula in a spreadsheet
    home.import_readings(client, [
        reading("P1", "2026-02-28T18:00", mono=10_000, color=2_000),
        reading("P2", "2026-02-28T18:00", address="10.0.0.6", mono=500, color=100),
        reading("P1", "2026-03-31T18:00", mono=18_000, color=8_000),      # 8,000 mono, 6,000 colour
        reading("P2", "2026-03-31T18:00", address="10.0.0.6", mono=5_707, color=5_316)])  # 5,207 / 5,216
    home.activate_all(client)
    code, _, err = home.cli("billing", "run", "--client", client, "--period", "2026-03")
    assert code == 1 and "no billing plan" in err and len(err.strip().splitlines()) == 1

    plan = load_plan_file(EXAMPLE)
    plan_as_of(home, client, plan, "2026-03-10T00:00")
    bill = home.run(client, "2026-03")
    mono, color = tiered(13_207, plan.tiers.mono), tiered(11_216, plan.tiers.color)
    assert (mono, color) == (D("75028"), D("86723.2"))  # the seed's figures, from the plan's tiers
    meters = {m["meter"]: m for m in bill["meters"]}
    assert meters["mono"]["pages"] == 13_207 and D(meters["mono"]["amount"]) == mono
    assert meters["color"]["pages"] == 11_216 and D(meters["color"]["amount"]) == color
    assert D(bill["total"]) == mono + color and bill["complete"]
    opening = next(l for l in bill["lines"] if l["meter"] == "mono" and l["pages"] == 8_000)["reads"][0]["opening"]
    assert opening["value"] == 10_000 and opening["kind"] == "read" and opening["source_oid"].endswith(".21")
    assert opening["serial"] == "W492KB-P1" and opening["reading_id"] is not None

    # a read closer to the cut-off arriving later does not change the billed period
    home.import_readings(client, [reading("P1", "2026-03-31T23:00", mono=18_100, color=8_000)])
    assert home.run(client, "2026-03") == bill
    text = home.ok("billing", "run", "--client", client, "--period", "2026-03")
    assert f"total 2026-03: {bill['total']} EUR" in text

    home.ok("invoices", "create", "--client", client, "--period", "2026-03")
    [invoice] = json.loads(home.ok("invoices", "list", "--json"))["invoices"]
    assert D(invoice["amount"]) == mono + color and invoice["status"] == "open"
    number = invoice["number"]
    home.ok("invoices", "pay", number, "--amount", "100000.00", "--at", "2026-04-20", "--reference", "bank 1")
    home.ok("invoices", "pay", number, "--amount", "50000.5", "--at", "2026-04-28")
    shown = json.loads(home.ok("invoices", "show", number, "--json"))
    assert D(shown["balance"]) == mono + color - D("150000.5") and shown["status"] == "partly_paid"
    assert [p["amount"] for p in shown["payments"]] == ["100000.00", "50000.50"]
    code, _, err = home.cli("invoices", "pay", number, "--amount", "20000")
    assert code == 1 and "exceeds the balance" in err
    code, _, err = home.cli("invoices", "create", "--client", client, "--period", "2026-03")
    assert code == 1 and "exists already" in err
    out = home.path / "invoice.html"
    home.ok("invoices", "file", number, "--out", str(out))
    html = out.read_text()
    assert number in html and bill["total"] in html and "=HYPERLINK(&#34;http://x&#34;)" in html

    rows = list(csv.DictReader(io.StringIO(home.ok("billing", "export", "--period", "2026-03", "--csv"))))
    assert {r["meter"]: D(r["amount"]) for r in rows} == {"mono": mono, "color": color}
    assert {r["client_name"] for r in rows} == {"'" + client}
    assert all(r["contract"] == "" for r in rows)


def test_counter_reset_and_device_swap_across_a_period(home):
    client = "Resets"
    home.import_readings(client, [
        reading("R1", "2026-02-28T12:00", mono=1_000),
        reading("W1", "2026-02-28T12:00", address="10.0.0.7", mono=3_000),
        reading("R1", "2026-03-15T12:00", mono=5_000),
        reading("R1", "2026-03-20T12:00", mono=200),                          # reset on the same device
        reading("W1", "2026-03-10T12:00", address="10.0.0.7", mono=4_000)])
    ids = home.activate_all(client)
    home.import_readings(client, [                                            # W1 swapped for W2 on 12 March
        reading("W2", "2026-03-12T12:00", address="10.0.0.7", mono=50),
        reading("R1", "2026-03-31T12:00", mono=1_200),
        reading("W2", "2026-03-31T12:00", address="10.0.0.7", mono=850)])
    new = home.activate_all(client)
    home.ok("assets", "merge", str(ids["W1"]), str(new["W2"]))
    plan_as_of(home, client, simple("0.01"), "2026-03-01T00:00")
    bill = home.run(client, "2026-03")
    lines = {l["asset"]: l for l in bill["lines"] if l["meter"] == "mono"}
    reset, swap = lines[ids["R1"]], lines[ids["W1"]]
    assert reset["pages"] == (5_000 - 1_000) + 1_200           # pages before the reset + after it
    assert [b["kind"] for b in reset["reads"][0]["breaks"]] == ["reset"]
    assert swap["pages"] == (4_000 - 3_000) + (850 - 50)        # old device's pages + new device's since its first read
    assert [b["kind"] for b in swap["reads"][0]["breaks"]] == ["swap"]
    assert D(bill["total"]) == (5_200 + 1_800) * D("0.01")

    # April opens on the stored closing reads; a technician records the next reset with its values
    home.ok("billing", "break", "add", "--asset", str(ids["R1"]), "--meter", "mono", "--kind", "reset",
            "--at", "2026-04-10T00:00Z", "--old-final", "4000", "--new-start", "0")
    home.import_readings(client, [reading("R1", "2026-04-10T12:00", mono=100), reading("R1", "2026-04-30T12:00", mono=2_400),
                                  reading("W2", "2026-04-30T12:00", address="10.0.0.7", mono=1_850)])
    april = home.run(client, "2026-04")
    lines = {l["asset"]: l for l in april["lines"] if l["meter"] == "mono"}
    assert lines[ids["R1"]]["pages"] == (4_000 - 1_200) + 2_400
    assert lines[ids["R1"]]["reads"][0]["opening"]["value"] == 1_200
    assert lines[ids["W1"]]["pages"] == 1_850 - 850


def test_estimated_read_then_actual_trues_up_next_period(home):
    client = "Estimates"
    home.import_readings(client, [reading("E1", "2026-01-01T00:00", mono=1_000),
                                  reading("E1", "2026-01-31T00:00", mono=4_000)])   # 100 pages a day
    home.activate_all(client)
    plan_as_of(home, client, simple("0.01"), "2026-02-01T00:00")
    code, _, err = home.cli("billing", "run", "--client", client, "--period", "2026-02")
    assert code == 1 and "missing read" in err
    feb = home.run(client, "2026-02", "--estimate")
    [line] = [l for l in feb["lines"] if l["meter"] == "mono"]
    estimate = 4_000 + 100 * 29                                   # 31 Jan -> 1 Mar at 100 a day
    assert line["reads"][0]["closing"]["kind"] == "estimated" and line["reads"][0]["closing"]["value"] == estimate
    assert line["pages"] == estimate - 4_000 and D(feb["total"]) == D(2_900) * D("0.01")

    home.import_readings(client, [reading("E1", "2026-03-01T06:00", mono=6_500),
                                  reading("E1", "2026-03-31T06:00", mono=9_500)])
    assert home.run(client, "2026-02") == feb                  # the billed period does not change
    march = home.run(client, "2026-03")
    [line] = [l for l in march["lines"] if l["meter"] == "mono"]
    assert line["true_up_pages"] == 6_500 - estimate            # the estimate overshot by 400
    assert line["pages"] == (9_500 - 6_500) + (6_500 - estimate)
    assert D(march["total"]) == D(9_500 - estimate) * D("0.01")


def test_price_change_mid_period_applies_from_its_start_and_past_periods_keep_theirs(home):
    client = "Prices"
    home.import_readings(client, [reading("C1", "2026-01-31T12:00", mono=0), reading("C1", "2026-02-28T12:00", mono=1_000),
                                  reading("C1", "2026-03-31T12:00", mono=2_100)])
    home.activate_all(client)
    plan_as_of(home, client, simple("0.01"), "2026-02-03T00:00")
    feb = home.run(client, "2026-02")
    plan_as_of(home, client, simple("0.02"), "2026-03-15T00:00")   # set mid-March: all of March at 0.02
    with pytest.raises(server_stub.billing.plans.PlanError):
        plan_as_of(home, client, simple("0.03"), "2026-02-20T00:00")   # February is billed
    code, _, err = home.cli("billing", "run", "--client", client, "--period", "2026-04")
    assert code == 1 and "bill 2026-03 first" in err
    march = home.run(client, "2026-03")
    code, _, err = home.cli("billing", "run", "--client", client, "--period", "2026-01")
    assert code == 1 and "cannot be billed now" in err
    assert D(feb["total"]) == 1_000 * D("0.01") and D(march["total"]) == 1_100 * D("0.02")
    assert home.run(client, "2026-02") == feb
    shown = json.loads(home.ok("billing", "plan", "show", "--client", client, "--json"))
    assert [v["effective_from"] for v in shown["versions"]] == ["2026-02", "2026-03"]
    # through the CLI a plan applies from the current period
    path = home.path / "plan.toml"
    path.write_text('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = 0.04\ncolor = 0.4\n')
    assert "in effect from" in home.ok("billing", "plan", "set", "--client", client, str(path))
    current = json.loads(home.ok("billing", "plan", "show", "--client", client, "--json"))["versions"][-1]
    assert current["plan"]["prices"]["mono"] == "0.04"
    code, _, err = home.cli("billing", "run", "--client", client, "--period", current["effective_from"])
    assert code == 1 and "tolerance window is still open" in err
    path.write_text('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = -1\ncolor = 0.4\n')
    code, _, err = home.cli("billing", "plan", "set", "--client", client, str(path))
    assert code == 1 and "prices.mono" in err and len(err.splitlines()) == 1


MODELS = {
    "simple": ('[prices]\nmono = "0.006"\ncolor = "0.055"\n',
               lambda m, c: {"A": m["A"] * D("0.006") + c["A"] * D("0.055"), "B": m["B"] * D("0.006") + c["B"] * D("0.055")}),
    "subscription": ('[prices]\nmono = "0.006"\ncolor = "0.055"\n[subscription]\nfee = "45"\nincluded = { mono = 1500, color = 300 }\n',
                     lambda m, c: {k: max(0, m[k] - 1500) * D("0.006") + max(0, c[k] - 300) * D("0.055") for k in m}),
    "custom": ('[prices]\nmono = "0.006"\ncolor = "0.055"\n[[custom.models]]\nmanufacturer = "Ricoh"\nmodel = "MP C3002"\n'
               'prices = { mono = "0.005" }\n[[custom.devices]]\nserial = "B"\nprices = { color = "0.04" }\n',
               lambda m, c: {"A": m["A"] * D("0.005") + c["A"] * D("0.055"), "B": m["B"] * D("0.005") + c["B"] * D("0.04")}),
}


def test_each_billing_model_on_a_small_fleet(home):
    mono, color = {"A": 2_000, "B": 1_234}, {"A": 250, "B": 777}
    for model, (sections, expect) in MODELS.items():
        client = f"model-{model}"
        home.import_readings(client, [
            reading(f"{model}-A", "2026-02-28T12:00", mono=100, color=10),
            reading(f"{model}-B", "2026-02-28T12:00", address="10.0.0.9", mono=100, color=10),
            reading(f"{model}-A", "2026-03-31T12:00", mono=100 + mono["A"], color=10 + color["A"]),
            reading(f"{model}-B", "2026-03-31T12:00", address="10.0.0.9", mono=100 + mono["B"], color=10 + color["B"])])
        home.activate_all(client)
        sections = sections.replace('serial = "B"', f'serial = "W492KB-{model}-B"')
        plan_as_of(home, client, load_plan(f'type = "{model}"\ncurrency = "EUR"\n{sections}', "toml"), "2026-03-02T00:00")
        bill = home.run(client, "2026-03")
        per_device = expect(mono, color)
        fee = D(45) if model == "subscription" else D(0)
        assert D(bill["total"]) == sum(v.quantize(D("0.01")) for v in per_device.values()) + fee, model

    rows = [r for r in csv.DictReader(io.StringIO(home.ok("billing", "export", "--period", "2026-03", "--csv")))
            if r["client_name"] == "model-simple"]   # device-priced plans: one row per asset and meter
    simple_ids = {r["asset"] for r in rows}
    assert len(simple_ids) == 2 and sorted(r["meter"] for r in rows) == ["color", "color", "mono", "mono"]
    assert sum(D(r["amount"]) for r in rows) == sum(v.quantize(D("0.01")) for v in MODELS["simple"][1](mono, color).values())
    # per consumable: tests/test_billing_deliveries.py (real orders and jobs)


def test_outlier_is_held_until_approved_and_volumes_per_client_site_device(home):
    client = "Outliers"
    home.import_readings(client, [reading("O1", "2026-01-01T12:00", mono=0), reading("O1", "2026-01-31T12:00", mono=3_000),
                                  reading("O2", "2026-01-31T12:00", address="10.0.0.8", mono=0, scan=0),
                                  reading("O1", "2026-02-28T12:00", mono=30_000),     # 27,000 where ~2,800 expected
                                  reading("O2", "2026-02-28T12:00", address="10.0.0.8", mono=400, scan=90)])
    ids = home.activate_all(client)
    plan_as_of(home, client, simple("0.01"), "2026-02-01T00:00")
    code, _, err = home.cli("billing", "run", "--client", client, "--period", "2026-02")
    assert code == 1 and f"asset {ids['O1']} mono: held" in err and len(err.splitlines()) == 1
    volumes = json.loads(home.ok("billing", "volumes", "--client", client, "--period", "2026-02", "--json"))
    assert volumes["devices"][str(ids["O2"])] == {"mono": 400, "color": 0, "scan": 90}
    assert volumes["client"] == {"mono": 400, "color": 0, "scan": 90}   # the held volume is not counted
    assert [(n["asset"], n["status"]) for n in volumes["not_counted"]] == [(ids["O1"], "held")]
    home.ok("billing", "approve", "--asset", str(ids["O1"]), "--meter", "mono", "--period", "2026-02")
    bill = home.run(client, "2026-02")
    assert D(bill["total"]) == (27_000 + 400) * D("0.01")


def test_two_concurrent_runs_store_one_bill(home):
    client = "Concurrent"
    home.import_readings(client, [reading(f"S{i}", "2026-02-28T12:00", address=f"10.0.1.{i}", mono=0, color=0)
                                  for i in range(6)] +
                                 [reading(f"S{i}", "2026-03-31T12:00", address=f"10.0.1.{i}", mono=1_000 * (i + 1), color=10 * i)
                                  for i in range(6)])
    home.activate_all(client)
    plan_as_of(home, client, simple("0.01", "0.1"), "2026-03-01T00:00")
    procs = [home.process("billing", "run", "--client", client, "--period", "2026-03", "--json") for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outputs]
    first, second = (json.loads(o[0]) for o in outputs)
    assert first == second and D(first["total"]) == 21_000 * D("0.01") + 150 * D("0.1")
    with home.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(bills)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(billing_reads)).scalar_one() == 6 * 2 * 2


def test_manual_read_bills_a_device_without_a_closing_reading(home):
    client = "Manual"
    home.import_readings(client, [reading("M1", "2026-02-28T12:00", mono=500)])
    ids = home.activate_all(client)
    plan_as_of(home, client, simple("0.01"), "2026-03-01T00:00")
    code, _, err = home.cli("billing", "read", "add", "--asset", str(ids["M1"]), "--meter", "mono", "--value", "-3",
                            "--at", "2026-03-31T09:00Z")
    assert code == 2
    home.ok("billing", "read", "add", "--asset", str(ids["M1"]), "--meter", "mono", "--value", "1500",
            "--at", "2026-03-31T09:00Z", "--by", "tech anna")
    bill = home.run(client, "2026-03")
    closing = bill["lines"][0]["reads"][0]["closing"]
    assert closing["kind"] == "manual" and closing["entered_by"] == "tech anna" and D(bill["total"]) == D(10)


def test_export_has_one_line_per_contract_and_meter_as_billed(home):
    client = "Contracts"
    home.import_readings(client, [reading("N1", "2026-02-28T12:00", mono=0, color=0),
                                  reading("N2", "2026-02-28T12:00", address="10.0.0.9", mono=0, color=0),
                                  reading("N1", "2026-03-31T12:00", mono=1_000, color=100),
                                  reading("N2", "2026-03-31T12:00", address="10.0.0.9", mono=2_000, color=0)])
    ids = home.activate_all(client)
    contracts = home.path / "contracts.csv"
    contracts.write_text("number,serial,status\n@C-1,W492KB-N1,active\n")   # N2 has no contract
    home.ok("import", "contracts", str(contracts))
    plan_as_of(home, client, simple("0.01", "0.1", type_="subscription",
                                    extra='[subscription]\nfee = "20"\nincluded = { mono = 500 }\n'), "2026-03-01T00:00")
    home.run(client, "2026-03")
    contracts.write_text("number,serial,status\n@C-1,W492KB-N1,finished\nC-2,W492KB-N2,active\n")
    home.ok("import", "contracts", str(contracts))   # contracts changed after billing: the bill keeps its own
    rows = list(csv.DictReader(io.StringIO(home.ok("billing", "export", "--period", "2026-03", "--csv"))))
    got = {(r["contract"], r["asset"], r["meter"]): (int(r["quantity"]), D(r["amount"])) for r in rows}
    assert got == {
        ("'@C-1", str(ids["N1"]), "mono"): (1_000, (1_000 - 500) * D("0.01")),
        ("'@C-1", str(ids["N1"]), "color"): (100, 100 * D("0.1")),
        ("", str(ids["N2"]), "mono"): (2_000, (2_000 - 500) * D("0.01")),
        ("", str(ids["N2"]), "color"): (0, D("0.00")),
        ("", "", "subscription_fee"): (1, D("20.00"))}   # the fee once, on the client's line
