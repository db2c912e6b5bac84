"""CSV import and export of assets, contracts, stock and related stock (issue #12), SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from fleet_peers import count
from jobs_scenario import engine, load, reported  # noqa: F401 (engine is a fixture)
from server_stub.db.tables import asset_fields, assets
from server_stub.jobs.csvio import export_csv
from server_stub.jobs.tables import stock_items

STOCK = ("part_code,description,colour,class,yield_pages\n"
         "K-1,Black,black,toner,12000\n"
         "C-1,Cyan,cyan,toner,\n"            # empty optional yield: fine
         ",Nameless,black,toner,100\n"       # line 4: no part code
         "M-1,Magenta,magenta,toner,-5\n"    # line 5: negative yield
         "Y-1,Yellow,yellow,toner,many\n")   # line 6: not a number


def test_bad_rows_named_and_nothing_stored_without_skip_bad(engine):
    result = load(engine, "stock", STOCK)
    assert [e.split(":")[0] for e in result.errors] == ["line 4", "line 5", "line 6"]
    assert "part_code" in result.errors[0] and "yield_pages" in result.errors[1]
    assert (result.rows, result.stored, count(engine, stock_items)) == (5, 0, 0)
    dry = load(engine, "stock", STOCK, dry_run=True, skip_bad=True)
    assert (dry.stored, count(engine, stock_items)) == (2, 0)  # dry run: counted, not stored
    kept = load(engine, "stock", STOCK, skip_bad=True)
    assert (kept.stored, len(kept.errors)) == (2, 3)
    with engine.connect() as conn:
        assert dict(conn.execute(select(stock_items.c.part_code, stock_items.c.yield_pages)).all()) == \
            {"K-1": 12000, "C-1": None}


def test_wrong_header_refuses_the_file(engine):
    import pytest

    from server_stub.jobs.csvio import ImportRefused

    with pytest.raises(ImportRefused, match="unknown colour_code"):
        load(engine, "stock", "part_code,colour_code\nK-1,black\n")


def test_imported_asset_completes_the_one_agents_reported(engine):
    [found] = reported(engine, "Acme", "W492KB03439")
    result = load(engine, "assets", "client,site,serial,custom_serial,manufacturer,model,location\n"
                                    "Acme,HQ,w492kb03439,erp-1,RICOH CO. LTD.,,2nd floor\n"
                                    "Acme,,NEW0000123,,Kyocera,M2040,\n"
                                    "Acme,,XXXXXXXXXX,,HP,,\n")  # a placeholder: line 4 refused
    assert [e.split(":")[0] for e in result.errors] == ["line 4"]
    assert count(engine, assets) == 1  # nothing stored from a file with an error
    result = load(engine, "assets", "client,site,serial,custom_serial,manufacturer,model,location\n"
                                    "Acme,HQ,w492kb03439,erp-1,RICOH CO. LTD.,,2nd floor\n"
                                    "Acme,,NEW0000123,,Kyocera,M2040,\n")
    assert result.errors == [] and count(engine, assets) == 2
    with engine.connect() as conn:
        row = conn.execute(select(assets).where(assets.c.id == found)).one()
        fields = dict(conn.execute(select(asset_fields.c.key, asset_fields.c.value)
                                   .where(asset_fields.c.asset_id == found)).all())
    assert (row.state, row.model) == ("active", "MP C3002")  # completed; the agent's model kept
    assert fields == {"custom_serial": "ERP-1", "location": "2nd floor"}


def test_agent_reporting_an_imported_asset_finds_it(engine):
    result = load(engine, "assets", "client,site,serial,custom_serial,manufacturer,model,location\n"
                                    "Acme,,NEW0000123,,KYOCERA Document Solutions Inc.,M2040,\n"
                                    "Acme,,NOMAKER0001,,,,\n")
    assert result.errors == [] and ["line 3"] == [n.split(":")[0] for n in result.notes]  # no manufacturer: said
    with engine.connect() as conn:
        imported = conn.execute(select(assets.c.id).where(assets.c.serial == "NEW0000123")).scalar_one()
    assert reported(engine, "Acme", "NEW0000123", manufacturer="Kyocera") == [imported]
    assert count(engine, assets) == 2


def test_export_neutralises_formulas(engine):
    load(engine, "stock", "part_code,description,colour,class,yield_pages\n"
                          'K-1,"=HYPERLINK(""http://x"")",black,toner,100\n'
                          "K-2,@SUM(A1),black,toner,\n"
                          "K-3,+1,black,toner,\n")
    out = io.StringIO()
    with engine.connect() as conn:
        written = export_csv(conn, "stock", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert written == 3 and rows[0] == ["part_code", "description", "colour", "class", "yield_pages"]
    assert [r[1] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'+1"]
