"""The billing plan file: the documented example loads, bad plans get one line naming the key."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import server_stub.billing
from server_stub.billing.plans import BillingPlan, PlanError, load_plan, load_plan_file

EXAMPLE = Path(server_stub.billing.__file__).with_name("plan.example.toml")


def test_example_plan_loads_with_exact_decimals_and_round_trips_through_json():
    plan = load_plan_file(EXAMPLE)
    assert plan.type == "tiered" and plan.currency == "EUR"
    assert plan.tiers.color[1].price == Decimal("10.5") and plan.tiers.color[3].price == Decimal("5.20")
    assert load_plan(plan.dump_json(), "json") == plan


def test_every_commented_section_of_the_example_is_a_valid_plan_of_its_type():
    text = EXAMPLE.read_text()
    sections = text[text.index("# --- the other types"):]
    uncommented = "\n".join(line[2:] for line in sections.splitlines() if line.startswith("# ") and "---" not in line)
    blocks = {"simple": ["prices"], "subscription": ["prices", "subscription"], "custom": ["prices", "custom"],
              "consumable": ["consumables"]}
    for type_, wanted in blocks.items():
        kept, keep = [], False
        for line in uncommented.splitlines():
            if line.startswith("["):
                keep = line.split("#")[0].strip().strip("[]").split(".")[0] in wanted
            if keep:
                kept.append(line)
        plan = load_plan(f'type = "{type_}"\ncurrency = "EUR"\n' + "\n".join(kept), "toml")
        assert plan.type == type_


@pytest.mark.parametrize("body, message", [
    ('type = "simple"\ncurrency = "EUR"', "type simple needs a [prices] section"),
    ('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = 1\ncolor = 2\n[tiers]\nmono = [{price = 1}]',
     "[tiers] is not used by type simple"),
    ('type = "simple"\ncurrency = "EUR"\ncolour = 1\n[prices]\nmono = 1\ncolor = 2', "colour: Extra inputs"),
    ('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = -0.01\ncolor = 2', "prices.mono: Input should be greater"),
    ('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = nan\ncolor = 2', "prices.mono: Input should be a finite"),
    ('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = "cheap"\ncolor = 2', "prices.mono: 'cheap' is not a decimal"),
    ('type = "simple"\ncurrency = "euro"\n[prices]\nmono = 1\ncolor = 2', "currency: String should match"),
    ('type = "flat"\ncurrency = "EUR"', "type: Input should be"),
    ('type = "tiered"\ncurrency = "EUR"\n[tiers]\nmono = [{up_to = 100, price = 1}]', "last tier must have no up_to"),
    ('type = "tiered"\ncurrency = "EUR"\n[tiers]\nmono = [{up_to = 100, price = 1}, {up_to = 100, price = 1}, {price = 1}]',
     "thresholds must increase strictly"),
    ('type = "tiered"\ncurrency = "EUR"\n[tiers]\nmono = [{price = 1}, {price = 2}]', "only the last tier may omit"),
    ('type = "subscription"\ncurrency = "EUR"\n[prices]\nmono = 1\ncolor = 2\n[subscription]\nincluded = { mono = -5 }',
     "subscription.included.mono"),
    ('type = "consumable"\ncurrency = "EUR"\n[[consumables.prices]]\nprice = 3', "either a part_number or a type"),
    ('type = "custom"\ncurrency = "EUR"\n[prices]\nmono = 1\ncolor = 2\n[[custom.devices]]\nserial = "a1"\n'
     'prices = {mono = 1}\n[[custom.devices]]\nserial = "A1 "\nprices = {mono = 2}', "device serial 'A1' priced twice"),
    ('type = "simple"\ncurrency = "EUR"\n[prices\nmono = 1', "plan is not valid TOML"),
])
def test_bad_plans_are_refused_with_one_line_naming_the_key(body, message):
    with pytest.raises(PlanError) as caught:
        load_plan(body, "toml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_json_plans_refuse_nan_and_floats_from_python():
    with pytest.raises(PlanError, match="NaN is not a number"):
        load_plan('{"type": "simple", "currency": "EUR", "prices": {"mono": NaN, "color": 1}}', "json")
    assert load_plan(json.dumps({"type": "simple", "currency": "EUR", "prices": {"mono": "0.004", "color": 1}}),
                     "json").prices.mono == Decimal("0.004")
    with pytest.raises(ValueError, match="not a float"):
        BillingPlan.model_validate({"type": "simple", "currency": "EUR", "prices": {"mono": 0.1, "color": 1}})


def test_plan_file_suffix_and_unreadable_files(tmp_path):
    with pytest.raises(PlanError, match="end in .toml or .json"):
        load_plan_file(tmp_path / "plan.yaml")
    with pytest.raises(PlanError, match="cannot read"):
        load_plan_file(tmp_path / "absent.toml")
    bad = tmp_path / "plan.json"
    bad.write_text('{"type": "simple"}')
    with pytest.raises(PlanError, match=r"plan.json: currency: Field required"):
        load_plan_file(bad)
