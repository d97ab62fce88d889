"""The `aov` command: the card from the warehouse, the demo, and the Dagster UI on the demo's instance."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from .core.collector import settle_long_lived
from .manifest import ManifestError, load_manifest, load_stores, pick_store
from .resources import data_dir, warehouse_url


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _warehouse(store: str | None = None):
    """The warehouse as `store`'s (default: the manifest's only store)."""
    return _open_warehouse().for_store(pick_store(load_stores(), store).key)


def _open_warehouse():
    from .core.db import WarehouseError
    from .warehouse import Warehouse

    try:
        return Warehouse(warehouse_url())
    except WarehouseError as error:
        raise UsageError(str(error)) from None


def _sample_ready(manifest) -> None:
    """A bad AOV_SAMPLE_SCALE ends the command in one line, before any run starts."""
    from .ingest.sources.sample import sample_scale

    if manifest.source == "sample":
        try:
            sample_scale()
        except ValueError as error:
            raise UsageError(str(error)) from None


def card(
    as_of: date, as_json: bool, html: Path | None = None, png_dir: Path | None = None, store: str | None = None
) -> None:
    """Print the card (text or JSON), or write it as a page (`--html`) and its charts (`--png`)."""
    from .actions.calls import CallSettings
    from .metrics.assets import alert_rule
    from .metrics.card import Card, TtmCard

    warehouse = _warehouse(store)
    manifest = load_manifest(store=warehouse.store)
    result = Card.stored(warehouse, as_of, alert_rule(manifest), CallSettings.of(manifest))
    if result is None:
        latest = warehouse.latest_as_of()
        hint = f"the latest as-of day there is {latest}" if latest else "aov_30d is empty (try: make demo)"
        raise UsageError(
            f"no aov_30d rows for {as_of} in the warehouse; {hint}. Materialize it with: dagster asset "
            f"materialize -m aov_assets.definitions --select aov_30d --partition {as_of}"
        )
    ttm = TtmCard.before(warehouse, as_of)
    if html or png_dir:
        _write_pictures(warehouse, result, ttm, html, png_dir)
    elif as_json:
        print(json.dumps(result.as_json() | {"ttm": ttm.as_json() if ttm else None}, indent=2))
    else:
        print(result.text() + ("\n\n" + "\n".join(ttm.lines()) if ttm else ""))


def portfolio(as_of: date, output: str, png: Path | None) -> None:
    """Every store of the manifest on one as-of day, alerting stores first (text, JSON or CSV)."""
    from .portfolio import rules
    from .portfolio.assets import portfolio_lines

    lines = portfolio_lines(_open_warehouse(), load_stores(), as_of)
    if png:
        from .metrics.charts import png as png_of
        from .metrics.charts import portfolio_chart

        _write({png: png_of(portfolio_chart(as_of, lines))})
    elif output == "json":
        print(json.dumps(rules.as_json(as_of, lines), indent=2))
    elif output == "csv":
        sys.stdout.write(rules.as_csv(lines))
    else:
        print(rules.text(as_of, lines))


def _write_pictures(warehouse, card, ttm, html: Path | None, png_dir: Path | None) -> None:
    from .metrics.charts import card_charts
    from .metrics.page import card_page

    charts = card_charts(warehouse, card, ttm)
    files = {html: card_page(card, ttm, charts).encode()} if html else {}
    if png_dir:
        files |= {png_dir / f"{name}.png": image for name, image in charts.items()}
    _write(files)


def _write(files: dict[Path, bytes]) -> None:
    """Each file, its folder made if missing; a place that cannot be written ends the command in one line."""
    for path, content in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        except OSError as error:
            raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
        print(f"wrote {path}")


def demo() -> None:
    from .operations.demo import run_demo
    from .operations.instance import use_dagster_home

    stores = load_stores()
    for store in stores:
        if store.manifest.source != "sample":
            where = "" if len(stores) == 1 else f" for store {store.key}"
            raise UsageError(
                f"the demo runs on the embedded sample merchant, but the manifest says source: "
                f"{store.manifest.source}{where}"
            )
        _sample_ready(store.manifest)
    use_dagster_home(data_dir())
    run_demo(stores, _open_warehouse())


def dev(port: int) -> None:
    from .operations.instance import use_dagster_home

    home = use_dagster_home(data_dir())
    load_stores()  # fail here, in one line, rather than inside the webserver
    print(f"Dagster UI on http://127.0.0.1:{port} with the instance in {home}", flush=True)
    venv = Path(sys.executable).parent  # dg runs the code location in this environment (the project's venv)
    os.environ["VIRTUAL_ENV"] = str(venv.parent)
    os.environ.setdefault("DAGSTER_WEBSERVER_URL", f"http://127.0.0.1:{port}")  # the alerts' links
    os.execv(venv / "dg", [str(venv / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)])


def backfill(first: date, last: date, keys: list[str] | None = None) -> bool:
    """Backfill first..last for the named stores (default: every store), one after the other; a store
    that fails is named and the others still run. True when every store's backfill finished."""
    import dagster as dg

    from .core.partitions import daily_partitions
    from .core.scope import Scope
    from .definitions import build_defs
    from .operations.backfill import BackfillFailed, run_backfill
    from .operations.demo import QUIET_LOGS
    from .operations.instance import use_dagster_home

    stores = load_stores()
    chosen = [pick_store(stores, key) for key in dict.fromkeys(keys)] if keys else list(stores)
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    for store in chosen:  # every store's range is checked before any run starts
        _sample_ready(store.manifest)
        daily = daily_partitions(store.manifest)
        first_key, last_key = daily.get_first_partition_key(), daily.get_last_partition_key()
        if first < date.fromisoformat(first_key) or last > date.fromisoformat(last_key):
            where = "" if len(stores) == 1 else f" of store {store.key}"
            raise UsageError(
                f"{first}..{last} is outside the daily partitions{where} {first_key}..{last_key} (see the manifest)"
            )
    home = use_dagster_home(data_dir())
    defs, warehouse, failed = build_defs(stores), _open_warehouse(), []
    print(f"Dagster instance {home}; the runs show in the UI (make dev)")
    with dg.DagsterInstance.get() as instance:
        for store in chosen:
            if len(chosen) > 1:
                print(f"store {store.key} ({store.name}):")
            db = warehouse.for_store(store.key)
            try:
                run_backfill(
                    first,
                    last,
                    defs,
                    instance,
                    db.latest_as_of(),
                    db.latest_ttm_month(),
                    QUIET_LOGS,
                    scope=Scope(store.key),
                )
            except BackfillFailed as error:
                named = "" if len(stores) == 1 else f"store {store.key}: "
                print(f"aov: {named}{error}", file=sys.stderr)
                failed.append(store.key)
    if failed and len(chosen) > 1:
        done = len(chosen) - len(failed)
        print(
            f"aov: {len(failed)} of {len(chosen)} stores failed ({', '.join(failed)}); {done} finished", file=sys.stderr
        )
    return not failed


def cross_sell(
    bought: str, avoided: str, segment: str, since: date | None, as_csv: bool, store: str | None = None
) -> None:
    """The accounts that bought X but never Y since a day: the list a sales rep calls."""
    import csv

    from .actions.tables import order_lines
    from .core.money import cents_to_money

    warehouse = _warehouse(store)
    latest = warehouse.latest_order_day(order_lines)
    if latest is None:
        raise UsageError("order_lines is empty: materialize it first (make demo, or aov backfill)")
    since = since or latest - timedelta(days=364)
    segments = ("b2b", "b2c") if segment == "all" else (segment,)
    matches = []
    for text in (bought, avoided):
        match = warehouse.line_matcher(text)
        if match is None:
            raise UsageError(f"{text!r} is neither a SKU in order_lines nor a category in product_catalog")
        matches.append(match)
    (bought_what, bought_match), (avoided_what, avoided_match) = matches
    accounts = warehouse.accounts_buying(bought_match, since, segments) - warehouse.accounts_buying(
        avoided_match, since, segments
    )
    rows = warehouse.account_orders(accounts, since, segments).sort_values(
        ["revenue_cents", "account"], ascending=[False, True]
    )
    table = [
        (
            row.account,
            row.name if isinstance(row.name, str) else "",
            f"{cents_to_money(row.revenue_cents):.2f}",
            str(row.orders),
            str(row.last_order),
        )
        for row in rows.itertuples(index=False)
    ]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["account", "name", "revenue", "orders", "last_order"])
        writer.writerows(table)
        return
    print(
        f"{len(table)} {segment} account(s) bought {bought_what} but not {avoided_what} from {since} to {latest} "
        "(largest revenue first)"
    )
    table = [(a, n, f"{Decimal(r):,.2f}", o, d) for a, n, r, o, d in table]
    widths = [max([len(h), *(len(r[i]) for r in table)]) for i, h in enumerate(CROSS_SELL_HEADER)]
    for row in [CROSS_SELL_HEADER, *table]:
        print(
            "  ".join(cell.rjust(w) if 2 <= i <= 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        )


CROSS_SELL_HEADER = ("account", "name", "revenue", "orders", "last_order")


def whitespace(account: str | None, month: str | None, store: str | None = None) -> None:
    """The categories each B2B account's peers buy and it does not, largest opportunity first."""
    rows = _warehouse(store).read_whitespace(month, account)
    if rows.empty:
        where = f" for {account}" if account else ""
        raise UsageError(f"no account_whitespace rows{where} (materialize it: make demo, or the aov_ttm_monthly job)")
    shown = rows if account else rows.head(20)
    print(
        f"Whitespace {rows['month'].iloc[0]} (trailing 12 months): categories at least half of an account's "
        f"LTV-cohort peers buy and it does not; {len(rows):,} opportunities{'' if account else ', top 20'}"
    )
    for row in shown.itertuples(index=False):
        name = row.name if isinstance(row.name, str) else row.account
        print(
            f"  {name} ({row.account}), {row.cohort}: {row.category}, bought by {row.peers_buying} of {row.peers} "
            f"peers, median {row.peer_median_spend:,.2f}"
        )


def accounts(as_of: date, rep: int | None, as_csv: bool, store: str | None = None) -> None:
    """The call list: every account the investigation names as of a day, with reason, numbers and rep."""
    import csv

    from .actions.calls import CALL_COLUMNS, CallList, CallSettings

    warehouse = _warehouse(store)
    if not warehouse.cohorts_as_of(as_of).shape[0]:
        raise UsageError(
            f"no b2b_accounts_30d rows for {as_of}: materialize the investigation for that day (make demo, or "
            f"dagster asset materialize -m aov_assets.definitions --select b2b_accounts_30d --partition {as_of})"
        )
    calls = CallList.stored(warehouse, as_of, CallSettings.of(load_manifest(store=warehouse.store)))
    if rep is not None:
        calls = calls.of_rep(rep)
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(CALL_COLUMNS)
        writer.writerows(calls.rows[CALL_COLUMNS].astype(object).fillna("").itertuples(index=False))  # unassigned: ""
        return
    whose = f" of rep {rep}" if rep is not None else ""
    if calls.rows.empty:
        print(f"No account to call{whose} as of {as_of}.")
        return
    print(f"Call list{whose} as of {as_of}: {calls.accounts} accounts, {len(calls.rows)} reasons")
    print("\n".join(calls.lines()))


def doctor() -> bool:
    from .health.doctor import run

    return run()


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aov", description="B2B vs B2C average order value on Adobe Commerce.")
    commands = parser.add_subparsers(dest="command", required=True)
    card_parser = commands.add_parser("card", help="print the B2B AOV vs B2C AOV card from the warehouse")
    card_parser.add_argument("--as-of", required=True, type=_day, help="as-of day, YYYY-MM-DD (UTC)")
    card_parser.add_argument("--store", metavar="KEY", help="the store (may be left out when the manifest has one)")
    card_parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    card_parser.add_argument(
        "--html", type=Path, metavar="FILE", help="write the card as one self-contained page (charts inline)"
    )
    card_parser.add_argument(
        "--png", type=Path, metavar="DIR", help="write the charts as DIR/trend.png, causes.png, ttm.png"
    )
    folio = commands.add_parser("portfolio", help="every store's B2B AOV card on one day, alerting stores first")
    folio.add_argument("--as-of", required=True, type=_day, help="as-of day, YYYY-MM-DD (UTC)")
    shape = folio.add_mutually_exclusive_group()
    shape.add_argument("--json", dest="output", action="store_const", const="json", help="print JSON")
    shape.add_argument("--csv", dest="output", action="store_const", const="csv", help="print CSV")
    shape.add_argument("--png", type=Path, metavar="FILE", help="write the chart: one bar per store's change")
    commands.add_parser("demo", help="materialize everything on the sample merchant and print the card")
    dev_command = commands.add_parser("dev", help="the Dagster UI on the demo's instance (dg dev)")
    dev_command.add_argument("--port", type=int, default=3000, help="the UI's port on 127.0.0.1 (default 3000)")
    commands.add_parser("doctor", help="check the manifest, warehouse, lake and store connection")
    backfill_parser = commands.add_parser(
        "backfill", help="re-materialize days D1..D2 and every window and TTM month that includes them"
    )
    backfill_parser.add_argument("--from", dest="first", required=True, type=_day, help="first day, YYYY-MM-DD (UTC)")
    backfill_parser.add_argument("--to", dest="last", required=True, type=_day, help="last day, YYYY-MM-DD (UTC)")
    backfill_parser.add_argument(
        "--store", dest="stores", action="append", metavar="KEY", help="a store to backfill (repeatable; default: all)"
    )
    cross = commands.add_parser("cross-sell", help="accounts that bought X but never Y (a SKU or a category)")
    cross.add_argument("--bought", required=True, metavar="X", help="a SKU or a category (path or its last part)")
    cross.add_argument("--not", dest="avoided", required=True, metavar="Y", help="a SKU or a category")
    cross.add_argument("--segment", choices=("b2b", "b2c", "all"), default="b2b", help="default: b2b")
    cross.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (default: the last 365 days of order_lines)")
    cross.add_argument("--csv", action="store_true", help="CSV: account,name,revenue,orders,last_order")
    cross.add_argument("--store", metavar="KEY", help="the store (may be left out when the manifest has one)")
    white = commands.add_parser("whitespace", help="the categories each B2B account's cohort peers buy and it does not")
    white.add_argument("--account", help="one account, e.g. company:42 (default: the top 20 of all)")
    white.add_argument("--month", help="YYYY-MM (default: the latest in account_whitespace)")
    white.add_argument("--store", metavar="KEY", help="the store (may be left out when the manifest has one)")
    calls = commands.add_parser("accounts", help="the call list: accounts the investigation names, with their rep")
    calls.add_argument("--as-of", required=True, type=_day, help="as-of day, YYYY-MM-DD (UTC)")
    calls.add_argument("--rep", type=int, metavar="ID", help="one sales rep's accounts (an admin user id)")
    calls.add_argument("--csv", action="store_true", help="CSV: rep_id,rep,account,name,cohort,reason,numbers")
    calls.add_argument("--store", metavar="KEY", help="the store (may be left out when the manifest has one)")
    args = parser.parse_args(argv)
    try:
        if args.command == "card":
            card(args.as_of, args.json, args.html, args.png, args.store)
        elif args.command == "portfolio":
            portfolio(args.as_of, args.output or "text", args.png)
        elif args.command == "demo":
            demo()
        elif args.command == "dev":
            dev(args.port)
        elif args.command == "doctor":
            return 0 if doctor() else 1
        elif args.command == "backfill":
            return 0 if backfill(args.first, args.last, args.stores) else 1
        elif args.command == "cross-sell":
            cross_sell(args.bought, args.avoided, args.segment, args.since, args.csv, args.store)
        elif args.command == "whitespace":
            whitespace(args.account, args.month, args.store)
        elif args.command == "accounts":
            accounts(args.as_of, args.rep, args.csv, args.store)
    except (UsageError, ManifestError) as error:
        print(f"aov: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `aov cross-sell ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def entry() -> int:
    """The `aov` console script. The process is `aov`'s own, so its garbage collector is told what lives
    long (`core.collector`); `main` alone, as tests call it, leaves the caller's process as it is."""
    settle_long_lived()
    return main()


if __name__ == "__main__":
    sys.exit(entry())
