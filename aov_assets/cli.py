"""The `aov` command: the card from the warehouse, the demo, and the Dagster UI on the demo's instance."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date

from .manifest import ManifestError, load_manifest
from .resources import DEFAULT_DATA_DIR, DEFAULT_WAREHOUSE_URL


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _warehouse():
    from .warehouse import Warehouse, WarehouseError

    try:
        return Warehouse(os.environ.get("AOV_WAREHOUSE_URL") or DEFAULT_WAREHOUSE_URL)
    except WarehouseError as error:
        raise UsageError(str(error)) from None


def _data_dir() -> str:
    return os.environ.get("AOV_DATA_DIR") or DEFAULT_DATA_DIR


def card(as_of: date, as_json: bool) -> None:
    from .assets import alert_rule
    from .card import Card

    warehouse = _warehouse()
    result = Card.stored(warehouse, as_of, alert_rule(load_manifest()))
    if result is None:
        latest = warehouse.latest_as_of()
        hint = f"the latest as-of day there is {latest}" if latest else "aov_30d is empty (try: make demo)"
        raise UsageError(
            f"no aov_30d rows for {as_of} in the warehouse; {hint}. Materialize it with: dagster asset "
            f"materialize -m aov_assets.definitions --select aov_30d --partition {as_of}"
        )
    print(json.dumps(result.as_json(), indent=2) if as_json else result.text())


def demo() -> None:
    from .demo import run_demo
    from .instance import use_dagster_home

    use_dagster_home(_data_dir())
    manifest = load_manifest()
    if manifest.source != "sample":
        raise UsageError("the demo runs on the embedded sample merchant, but the manifest says source: adobe_commerce")
    run_demo(manifest, _warehouse())


def dev() -> None:
    from .instance import use_dagster_home

    home = use_dagster_home(_data_dir())
    load_manifest()  # fail here, in one line, rather than inside the webserver
    print(f"Dagster UI on http://127.0.0.1:3000 with the instance in {home}", flush=True)
    os.execv(
        sys.executable,
        [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", "3000"],
    )


def backfill(first: date, last: date) -> None:
    import dagster as dg

    from .backfill import BackfillFailed, run_backfill
    from .definitions import build_defs
    from .demo import QUIET_LOGS
    from .instance import use_dagster_home
    from .partitions import daily_partitions

    home = use_dagster_home(_data_dir())
    manifest = load_manifest()
    daily = daily_partitions(manifest)
    first_key, last_key = daily.get_first_partition_key(), daily.get_last_partition_key()
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    if first < date.fromisoformat(first_key) or last > date.fromisoformat(last_key):
        raise UsageError(f"{first}..{last} is outside the daily partitions {first_key}..{last_key} (see the manifest)")
    defs = build_defs(manifest)

    warehouse = _warehouse()
    print(f"Dagster instance {home}; the runs show in the UI (make dev)")
    with dg.DagsterInstance.get() as instance:
        try:
            run_backfill(
                first, last, defs, instance, warehouse.latest_as_of(), warehouse.latest_ttm_month(), QUIET_LOGS
            )
        except BackfillFailed as error:
            raise UsageError(str(error)) from None


def doctor() -> bool:
    from .doctor import run

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
    card_parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    commands.add_parser("demo", help="materialize everything on the sample merchant and print the card")
    commands.add_parser("dev", help="the Dagster UI on the demo's instance (dagster dev)")
    commands.add_parser("doctor", help="check the manifest, warehouse, lake and store connection")
    backfill_parser = commands.add_parser(
        "backfill", help="re-materialize days D1..D2 and every window and TTM month that includes them"
    )
    backfill_parser.add_argument("--from", dest="first", required=True, type=_day, help="first day, YYYY-MM-DD (UTC)")
    backfill_parser.add_argument("--to", dest="last", required=True, type=_day, help="last day, YYYY-MM-DD (UTC)")
    args = parser.parse_args(argv)
    try:
        if args.command == "card":
            card(args.as_of, args.json)
        elif args.command == "demo":
            demo()
        elif args.command == "dev":
            dev()
        elif args.command == "doctor":
            return 0 if doctor() else 1
        elif args.command == "backfill":
            backfill(args.first, args.last)
    except (UsageError, ManifestError) as error:
        print(f"aov: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
