"""The call list: who the investigation names, why, with which numbers, and whose call it is (pure)."""

from datetime import date
from decimal import Decimal

import pandas as pd

from aov_assets.actions.calls import CALL_COLUMNS, CallList, CallSettings
from aov_assets.manifest import SalesRep

AS_OF = date(2026, 5, 3)
SETTINGS = CallSettings({12: SalesRep(id=12, name="Jane Doe", slack="@jane"), 14: SalesRep(id=14, name="Omar Diaz")})
ACCOUNT_COLUMNS = ["account", "name", "status", "cohort", "orders", "prior_orders", "order_days", "prior_order_days"]
ACCOUNT_COLUMNS += ["revenue", "prior_revenue", "aov", "prior_aov", "credit_utilization_pct", "credit_pressed"]


def money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def account(
    key, status, orders, prior_orders, days, prior_days, revenue, prior_revenue, utilization=None, cohort="middle 60%"
):
    aov = money(revenue) / orders if orders else None
    prior_aov = money(prior_revenue) / prior_orders if prior_orders else None
    return {
        "account": key,
        "name": key.replace("company:", "Company "),
        "status": status,
        "cohort": cohort,
        "orders": orders,
        "prior_orders": prior_orders,
        "order_days": days,
        "prior_order_days": prior_days,
        "revenue": money(revenue),
        "prior_revenue": money(prior_revenue),
        "aov": aov and aov.quantize(Decimal("0.01")),
        "prior_aov": prior_aov and prior_aov.quantize(Decimal("0.01")),
        "credit_utilization_pct": money(utilization),
        # as the investigation judges it: continuing, at the manifest's 80% or more
        "credit_pressed": status == "continuing" and utilization is not None and Decimal(utilization) >= 80,
    }


ACCOUNTS = pd.DataFrame(
    [
        # at 91.25% of its limit, AOV 480.00 from 560.00: credit pressure (rep 12)
        account("company:1", "continuing", 10, 10, 10, 10, "4800.00", "5600.00", "91.25"),
        # at the threshold exactly, and 6 of 12 orders same-day (prior 0 of 10): both reasons (rep 12)
        account("company:2", "continuing", 12, 10, 6, 10, "3600.00", "4000.00", "80.00"),
        # below the threshold; 1 same-day PO of 10 both windows: nothing to call about (rep 14)
        account("company:3", "continuing", 10, 10, 9, 9, "5000.00", "5000.00", "79.99"),
        # gone quiet, rep 14
        account("company:4", "gone_quiet", 0, 6, 0, 6, "0.00", "3360.00"),
        # a company-less account gone quiet: nobody's account yet
        account("customer:9", "gone_quiet", 0, 2, 0, 2, "0.00", "800.00", cohort="bottom 20%"),
        # over the threshold but new (not continuing): not credit pressure
        account("company:5", "new", 4, 0, 4, 0, "2000.00", "0.00", "95.00"),
    ],
    columns=ACCOUNT_COLUMNS,
)
COMPANIES = pd.DataFrame({"company_id": [1, 2, 3, 4, 5, 6], "sales_rep_id": [12, 12, 14, 14, 14, 99]})
WHITESPACE = pd.DataFrame(
    {
        "month": ["2026-04"] * 3,
        "account": ["company:6", "company:6", "company:3"],
        "category": ["Janitorial/Equipment", "Janitorial/Paper", "Janitorial/Equipment"],
        "name": ["Company 6", "Company 6", "Company 3"],
        "cohort": ["top 20%"] * 3,
        "peers": [20, 20, 20],
        "peers_buying": [14, 11, 14],
        "peer_median_spend": [Decimal("1200.00"), Decimal("900.00"), Decimal("700.00")],
    }
)


def calls(why: frozenset[str] = frozenset({"basket_shrink", "split_orders"})) -> CallList:
    return CallList.build(AS_OF, ACCOUNTS, COMPANIES, WHITESPACE, why, SETTINGS)


def test_each_named_account_has_its_reason_numbers_and_rep():
    rows = calls().rows
    assert list(rows.columns) == CALL_COLUMNS
    assert [(r.rep, r.account, r.reason) for r in rows.itertuples()] == [
        ("Jane Doe (@jane)", "company:1", "credit_pressure"),  # larger prior revenue first
        ("Jane Doe (@jane)", "company:2", "credit_pressure"),
        ("Jane Doe (@jane)", "company:2", "split_orders"),
        ("Omar Diaz", "company:4", "gone_quiet"),
        ("Omar Diaz", "company:3", "whitespace"),
        ("rep 99", "company:6", "whitespace"),  # a rep the manifest does not name: by id
        ("unassigned", "customer:9", "gone_quiet"),  # no Company, no rep: last
    ]
    numbers = dict(zip(zip(rows["account"], rows["reason"]), rows["numbers"]))
    assert numbers["company:1", "credit_pressure"] == "peak 91% of its credit limit; AOV 480.00 (prior 560.00, -14.3%)"
    assert numbers["company:2", "split_orders"] == "same-day second POs 6 of 12 orders (prior 0 of 10)"
    assert numbers["company:4", "gone_quiet"] == "no order in 30 days; prior 6 orders, 3,360.00"
    assert numbers["company:6", "whitespace"] == "14 of 20 peers buy Janitorial/Equipment (median 1,200.00 a year)"
    assert calls().accounts == 6


def test_one_reps_list_and_the_slack_lines_cap_each_rep():
    jane = calls().of_rep(12)
    assert set(jane.rows["account"]) == {"company:1", "company:2"}
    assert calls().by_rep(limit=1) == [
        ("Jane Doe (@jane)", "Company 1 (credit_pressure); and 1 more"),
        ("Omar Diaz", "Company 4 (gone_quiet); and 1 more"),
        ("rep 99", "Company 6 (whitespace)"),
        ("unassigned", "customer:9 (gone_quiet)"),
    ]
    assert calls().by_rep()[0] == (
        "Jane Doe (@jane)",
        "Company 1 (credit_pressure); Company 2 (credit_pressure, split_orders)",
    )


def test_the_list_reads_the_same_in_text_markdown_and_json():
    call_list = calls()
    assert call_list.lines()[:3] == [
        "Jane Doe (@jane):",
        "  Company 1 (company:1, middle 60%) credit_pressure: peak 91% of its credit limit; AOV 480.00 (prior "
        "560.00, -14.3%)",
        "  Company 2 (company:2, middle 60%) credit_pressure: peak 80% of its credit limit; AOV 300.00 (prior "
        "400.00, -25.0%)",
    ]
    assert call_list.markdown()[2].startswith("| Jane Doe (@jane) | Company 1 (company:1) | credit_pressure | peak 91%")
    first = call_list.as_json()[0]
    assert first == {
        "rep_id": 12,
        "rep": "Jane Doe (@jane)",
        "account": "company:1",
        "name": "Company 1",
        "cohort": "middle 60%",
        "reason": "credit_pressure",
        "numbers": "peak 91% of its credit limit; AOV 480.00 (prior 560.00, -14.3%)",
    }
    assert call_list.as_json()[-1]["rep_id"] is None


def test_two_companies_of_one_name_are_told_apart_by_their_keys():
    twins = ACCOUNTS.assign(name=ACCOUNTS["name"].replace({"Company 2": "Company 1"}))
    listing = CallList.build(AS_OF, twins, COMPANIES, WHITESPACE, frozenset({"split_orders"}), SETTINGS).by_rep()
    assert listing[0] == (
        "Jane Doe (@jane)",
        "Company 1 (company:1, credit_pressure); Company 1 (company:2, credit_pressure, split_orders)",
    )


def test_nothing_to_call_about_is_an_empty_list():
    quiet = ACCOUNTS[ACCOUNTS["account"] == "company:3"]
    empty = CallList.build(AS_OF, quiet, COMPANIES, WHITESPACE.iloc[:0], frozenset(), SETTINGS)
    assert empty.rows.empty and empty.lines() == [] and empty.by_rep() == [] and empty.markdown() == []


def test_split_pos_are_a_reason_only_while_they_explain_the_move():
    assert "split_orders" not in set(calls(why=frozenset({"basket_shrink"})).rows["reason"])


def test_the_csv_leaves_an_unassigned_rep_empty(monkeypatch, capsys):
    from aov_assets import cli

    class Warehouse:
        store = "default"

        def cohorts_as_of(self, as_of):
            return ACCOUNTS

        def call_inputs(self, as_of):
            return ACCOUNTS, COMPANIES, WHITESPACE, frozenset()

    monkeypatch.setattr(cli, "_warehouse", lambda store: Warehouse())
    monkeypatch.setattr(cli, "load_manifest", lambda store: None)
    monkeypatch.setattr(CallSettings, "of", classmethod(lambda cls, manifest: SETTINGS))
    cli.accounts(AS_OF, None, True)
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == ',unassigned,customer:9,customer:9,bottom 20%,gone_quiet,"no order in 30 days; prior 2 orders, 800.00"'
    )
