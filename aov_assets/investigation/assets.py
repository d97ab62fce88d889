"""account_daily, company_credit and b2b_investigation (b2b_accounts_30d, b2b_cohorts_30d, aov_why)."""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from ..core.db import data_columns
from ..core.glue import Partitioned, Progress, as_money, plottable_numbers
from ..core.money import average_cents
from ..core.partitions import day_key, days_of
from ..core.scope import Scope
from ..core.windows import WINDOW_DAYS
from ..ingest.sources.adobe_commerce import B2BModuleMissing
from ..manifest import Stores
from ..resources import AdobeCommerceResource, WarehouseResource
from ..warehouse import Warehouse
from . import tables
from .accounts import (
    GUESTS,
    LOOKBACK_DAYS,
    Typical,
    Windows,
    account_daily_rows,
    account_rows,
    cohort_rows,
    compact_sums,
    currency_daily_rows,
    largest_per_day,
    lifetime_windows,
    name_changes,
    typical_gone_quiet,
    with_names,
)
from .causes import EXPLAIN_COLUMNS, WindowContext, cause_rows, explain
from .credit import CreditUtilization, company_rows, credit_rows, history_rows
from .findings import Findings
from .tables import aov_why, b2b_accounts_30d, b2b_cohorts_30d, b2b_currency_daily

ACCOUNT_BATCH_DAYS = 31  # days of B2B orders summed per account together


def account_daily(
    context: dg.AssetExecutionContext, stores: dg.ResourceParam[Stores], warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per UTC day and B2B account: counted orders, revenue, line items, refunds and the largest order.

    The account is the Company (`company:<id>`), else the customer (`customer:<id>`) of a B2B order
    without one; B2B guest orders sum into `guests`. Per base currency too (b2b_currency_daily), for
    the constant-currency test. Windows then cost O(accounts x days), never a rescan of orders.
    """
    days, store = days_of(context.partition_time_window), Scope.of(context).store
    db, basis = warehouse.open(store), stores[store].manifest.metric.basis
    progress = Progress(context.log, "account_daily", len(days))
    with warehouse.replacing(store, [tables.account_daily, b2b_currency_daily], days[0], days[-1]) as write:
        for start in range(0, len(days), ACCOUNT_BATCH_DAYS):
            batch = days[start : start + ACCOUNT_BATCH_DAYS]
            orders = db.b2b_orders(batch[0], batch[-1], basis)
            accounts = account_daily_rows(orders)
            write(tables.account_daily, as_money(accounts, "revenue", "refunded", largest="largest_order"))
            currencies = currency_daily_rows(orders)
            write(
                b2b_currency_daily,
                as_money(currencies, "revenue").assign(
                    base_revenue=currencies["base_units"].map(lambda units: Decimal(int(units)).scaleb(-4))
                ),
            )
            per_day = accounts[accounts["orders"] > 0].groupby("order_date")["orders"].agg(["size", "sum"])
            for day in batch:
                active, orders_of_day = per_day.loc[day] if day in per_day.index else (0, 0)
                context.add_asset_metadata(
                    {"accounts": int(active), "b2b_orders": int(orders_of_day)}, partition_key=day_key(day)
                )
                progress.step(day, int(orders_of_day))
    return dg.MaterializeResult()


CREDIT_OVERLAP = timedelta(days=1)  # a refresh reads the operations from a day before the latest it has
EPOCH, FAR_FUTURE = datetime(1970, 1, 1), datetime(9999, 12, 31)


def company_credit(
    context: dg.AssetExecutionContext,
    stores: dg.ResourceParam[Stores],
    warehouse: WarehouseResource,
    adobe_commerce: AdobeCommerceResource,
) -> dg.MaterializeResult:
    """The store's Companies (name, sales representative, credit limit and balance), replaced whole, and every
    Company Credit operation, read from a day before the latest stored one on (all of them the first time), so
    the investigation knows each account's credit utilization on any day. A store without Adobe Commerce's
    B2B module (or a Shopify shop) gets a one-line notice and empty tables; the credit causes then say "not
    available"."""
    store = Scope.of(context).store
    latest = warehouse.open(store).latest_credit_operation()
    since = None if latest is None else latest - CREDIT_OVERLAP  # the operations of the last refresh's day on
    companies, credits, history, missing = [], [], [], None
    with adobe_commerce.open_source(stores[store]) as source:
        if not hasattr(source, "companies"):
            missing = f"a {source.name} store has no Adobe Commerce Companies or Company Credit"
        else:
            try:
                companies = source.companies()  # Companies and their reps, even where credit is off
                history = source.credit_history(since)  # before the credits, so each operation's credit is listed
                credits = source.company_credits()
            except B2BModuleMissing as error:
                missing, history, since = str(error), [], None
    if missing:
        context.log.warning(f"company_credit: not available ({missing}); the credit causes will say so")
    companies, credits = company_rows(companies), credit_rows(credits)
    history, unlisted = history_rows(history, credits)
    if unlisted:
        context.log.warning(
            f"company_credit: {len(unlisted)} credit operation(s) of a credit the store no longer lists were left "
            f"out (ids {', '.join(map(str, unlisted[:10]))}{' ...' if len(unlisted) > 10 else ''})"
        )
    credit = credits.drop_duplicates("company_id").set_index("company_id")
    companies = companies.join(credit[["credit_limit_cents", "balance_cents", "currency_code"]], on="company_id")
    outputs = (tables.b2b_companies, tables.company_credit_history)  # the Companies whole, the operations from `since`
    with warehouse.replacing(store, outputs, since or EPOCH, FAR_FUTURE) as write:
        write(tables.b2b_companies, as_money(companies, "credit_limit", "balance").astype(object))
        operations = history.assign(at=history["at"].dt.tz_convert(None))
        write(tables.company_credit_history, as_money(operations, "amount", "balance", "credit_limit").astype(object))
    read = f"since {since:%Y-%m-%d %H:%M:%S} UTC" if since else "all of them"
    context.log.info(f"company_credit: {len(companies):,} Companies, {len(history):,} credit operations ({read})")
    return dg.MaterializeResult(
        metadata={
            "companies": len(companies),
            "with_credit_limit": int(companies["credit_limit_cents"].notna().sum()),
            "credit_operations_read": len(history),
            "read_since": since.isoformat(sep=" ") if since else "the beginning",
            "sales_reps": int(companies["sales_rep_id"].nunique()),
        }
    )


MAX_UTILIZATION_PCT = Decimal("99999.99")  # a tiny limit far exceeded: kept at this, inside NUMERIC(12,4)


def utilization_pct(utilization: float) -> Decimal:
    """A utilization as a percent number to the hundredth (91.25), as the tables keep percentages."""
    return min(Decimal(utilization * 100).quantize(Decimal("0.01")), MAX_UTILIZATION_PCT)


def credit_of(db: Warehouse, days: list[date]) -> CreditUtilization | None:
    """Each Company's credit utilization over the windows of `days`; None when the store gave no credit."""
    if not db.has_credit():
        return None
    return CreditUtilization(db.read_credit_history(days[-1]), days[0] - timedelta(days=WINDOW_DAYS - 1), days[-1])


INVESTIGATION_CELLS = 4_000_000  # accounts x days per dense array (32 MB): as-of days computed together
INVESTIGATION_ROWS = 100_000  # account x as-of rows built and written together: memory stays flat


def b2b_investigation(
    context: dg.AssetExecutionContext, stores: dg.ResourceParam[Stores], warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Why B2B AOV moved, per as-of day: b2b_accounts_30d (status, windows, lifetime value, cohort),
    b2b_cohorts_30d (LTV cohorts, gone quiet, the typical gone-quiet count) and aov_why (the change
    decomposed exactly into ranked causes, and what was ruled out)."""
    days, scope = days_of(context.partition_time_window), Scope.of(context)
    db = warehouse.open(scope.store)
    covered_from = db.first_order_day() or days[0]
    credit = Credit(credit_of(db, days), stores[scope.store].manifest.investigation.credit_utilization)
    progress = Progress(context.log, "b2b_investigation", len(days))
    outputs = (b2b_accounts_30d, b2b_cohorts_30d, aov_why)
    with warehouse.replacing(scope.store, outputs, days[0], days[-1]) as write:
        accounts_count = max(db.account_count(days[-1]), 1)
        chunk_days = max(WINDOW_DAYS, INVESTIGATION_CELLS // accounts_count - LOOKBACK_DAYS)
        rows_days = max(1, INVESTIGATION_ROWS // accounts_count)
        inputs = None
        for start in range(0, len(days), chunk_days):
            chunk = days[start : start + chunk_days]
            inputs = investigation_inputs(db, chunk, covered_from, rows_days, inputs)
            for part in range(0, len(chunk), rows_days):
                accounts, cohorts, causes = investigate(inputs, chunk[part : part + rows_days], credit)
                write(b2b_accounts_30d, accounts)
                write(b2b_cohorts_30d, cohorts)
                write(aov_why, causes)
                quiet = accounts[accounts["status"] == "gone_quiet"].sort_values(
                    ["prior_revenue", "account"], ascending=[False, True]
                )
                for as_of, findings in Findings.by_day(cohorts, causes, quiet).items():
                    metadata = investigation_numbers(findings) | {
                        "why": dg.MetadataValue.md("\n".join(findings.why_lines()))
                    }
                    if as_of == days[-1]:
                        metadata |= causes_picture(findings, as_of)
                    context.add_asset_metadata(metadata, asset_key=scope.key("aov_why"), partition_key=day_key(as_of))
                    progress.step(as_of)
    for table in outputs:
        yield dg.MaterializeResult(asset_key=scope.key(table.name))


@dataclass(frozen=True)
class InvestigationInputs:
    """What the as-of days of a chunk read: account_daily over them and their lookback, as windows,
    the names seen (where they changed) and each day's largest order."""

    names: pd.DataFrame
    largest: pd.DataFrame
    windows: Windows
    context_of: WindowContext
    typical: dict[date, Typical]


def investigation_inputs(
    db: Warehouse,
    days: list[date],
    covered_from: date,
    read_days: int,
    carried: InvestigationInputs | None = None,
) -> InvestigationInputs:
    """The inputs of a chunk of as-of days, carried on from the previous chunk's (whose windows move on):
    only the days of account_daily not read yet are read, `read_days` days at a time, so a long range
    holds the lookback's accounts x days arrays and a few rows per account, not its 400 days of rows.
    Names are the latest seen since the run's first lookback day."""
    first = days[0] - timedelta(days=LOOKBACK_DAYS)
    windows = carried.windows if carried else lifetime_windows(db.account_lifetime_before(first))
    names, largest = (carried.names, carried.largest) if carried else (None, None)
    start = windows.days[-1].date() + timedelta(days=1) if len(windows.days) else first
    sums = []
    for offset in range(0, (days[-1] - start).days + 1, read_days):
        read_first = start + timedelta(days=offset)
        daily = db.read_account_daily(read_first, min(read_first + timedelta(days=read_days - 1), days[-1]))
        sums.append(compact_sums(daily))
        names = name_changes(pd.concat([names, daily]))
        largest = pd.concat([largest, largest_per_day(daily)])
    windows.advance(pd.concat(sums, ignore_index=True), first, days[-1])
    del sums
    largest = largest[pd.to_datetime(largest["order_date"]) >= pd.Timestamp(first)]
    context_of = WindowContext(
        largest, db.read_currency_daily(first, days[-1]), db.read_daily(first, days[-1]), windows
    )
    typical = {as_of: typical_gone_quiet(windows, as_of, covered_from) for as_of in days}
    return InvestigationInputs(names, largest, windows, context_of, typical)


@dataclass(frozen=True)
class Credit:
    """The store's credit utilization (None: not available) and the manifest's credit_utilization threshold."""

    utilization: CreditUtilization | None
    threshold: float

    def peaks(self, as_of: date) -> pd.Series | None:
        """By account: the peak utilization of the window ending `as_of` (NaN: unknown or no limit)."""
        return None if self.utilization is None else self.utilization.peaks(as_of)


def investigate(inputs: InvestigationInputs, days: list[date], credit: Credit) -> tuple[pd.DataFrame, ...]:
    """The three investigation tables for consecutive as-of days (within the inputs' chunk)."""
    windows, context_of, typical = inputs.windows, inputs.context_of, inputs.typical
    accounts = with_names(account_rows(windows, days), inputs.names)
    columns = {c: accounts[c].to_numpy() for c in EXPLAIN_COLUMNS}
    starts = np.searchsorted(accounts["as_of"].to_numpy(), days + [date.max], side="left")  # rows are by as-of day
    causes, utilization = [], np.full(len(accounts), np.nan)
    for as_of, start, end in zip(days, starts, starts[1:]):
        if end > start:
            day = {c: values[start:end] for c, values in columns.items()}
            peaks = credit.peaks(as_of)
            if peaks is not None:
                utilization[start:end] = peaks.reindex(day["account"]).to_numpy(dtype=float)
            context = replace(context_of(as_of, typical[as_of]), credit=peaks, credit_threshold=credit.threshold)
            causes += cause_rows(as_of, explain(day, context))
    if credit.utilization is not None:  # the same test as the credit_pressure finding, kept for the call list
        pressed = (accounts["status"] == "continuing").to_numpy() & (utilization >= credit.threshold)
        accounts = accounts.assign(
            credit_utilization_pct=[None if np.isnan(u) else utilization_pct(u) for u in utilization],
            credit_pressed=pressed,
        )
    table = accounts[accounts["account"] != GUESTS]
    table = table.assign(
        aov_cents=average_cents(table["revenue_cents"], table["orders"]),
        prior_aov_cents=average_cents(table["prior_revenue_cents"], table["prior_orders"]),
    )
    table = as_money(table, "revenue", "prior_revenue", "aov", "prior_aov", lifetime="lifetime_revenue")
    cohorts = cohort_rows(accounts, windows, typical)
    return table, cohorts, pd.DataFrame(causes, columns=data_columns(aov_why))


def causes_picture(findings: Findings | None, as_of: date) -> dict[str, dg.MarkdownMetadataValue]:
    """The causes' waterfall, on a run's newest as-of day only (matplotlib is imported here, not at load)."""
    from ..metrics.charts import causes_chart, markdown_image

    chart = causes_chart(findings, as_of)
    return {"causes_chart": dg.MetadataValue.md(markdown_image(chart, "Why B2B AOV moved"))} if chart else {}


def investigation_numbers(findings: Findings | None) -> dict[str, Any]:
    """The investigation's plottable numbers for one as-of day (none without an investigation)."""
    if findings is None:
        return {}
    total, top = findings.total, findings.top
    return plottable_numbers(
        {
            "gone_quiet": int(total["gone_quiet"]),
            "typical_gone_quiet": total["typical_gone_quiet_median"],
            "orders_per_account": findings.orders_per_account,
            "top_cause_contribution": top["contribution"] if top else None,
            "same_day_split_pct": findings.split_pct(),
            "prior_same_day_split_pct": findings.split_pct(prior=True),
            "credit_pressed_accounts": total.get("credit_pressed"),
        }
    ) | ({"top_cause": top["cause"]} if top else {})


def asset_definitions(partitioned: Partitioned) -> list[dg.AssetsDefinition]:
    # the windows, and the gone-quiet counts as of D-30 .. D-330; lifetime value reads all history
    deps = [partitioned.behind("account_daily", -LOOKBACK_DAYS), partitioned.trailing("daily_aov", 2 * WINDOW_DAYS)]
    deps.append(partitioned.key("company_credit"))  # credit utilization: refreshed whole with the catalog
    tables_written = (
        ("b2b_accounts_30d", "Per as-of day and B2B account: status, both windows, lifetime value, cohort."),
        ("b2b_cohorts_30d", "Per as-of day and LTV cohort: AOV now and prior, gone quiet, the typical count."),
        ("aov_why", "Per as-of day: the B2B AOV change decomposed into ranked causes, and what was ruled out."),
    )
    return [
        dg.asset(deps=[partitioned.key("classified_orders")], kinds={"sql"}, **partitioned.daily)(account_daily),
        dg.asset(kinds={"sql"}, **partitioned.api, **partitioned.unpartitioned)(company_credit),
        dg.multi_asset(
            specs=[
                dg.AssetSpec(partitioned.key(name), deps=deps, kinds={"sql"}, description=text, **partitioned.spec)
                for name, text in tables_written
            ],
            name=partitioned.op("b2b_investigation"),
            can_subset=False,
            **partitioned.multi,
        )(b2b_investigation),
    ]
