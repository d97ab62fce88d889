"""The manifest's daily and monthly partitions, and partition keys as days and months."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from ..manifest import Manifest
from .windows import add_months, month_start


def daily_partitions(manifest: Manifest) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day from start_date, through end_date if set, else through yesterday."""
    end = manifest.end_date + timedelta(days=1) if manifest.end_date else None
    return dg.DailyPartitionsDefinition(
        start_date=manifest.start_date.isoformat(), end_date=end.isoformat() if end else None
    )


def monthly_partitions(manifest: Manifest) -> dg.MonthlyPartitionsDefinition:
    """Complete calendar months only: a TTM month is judged when the month is over."""
    end = month_start(manifest.end_date + timedelta(days=1)) if manifest.end_date else None
    return dg.MonthlyPartitionsDefinition(
        start_date=month_start(manifest.start_date).isoformat(), end_date=end.isoformat() if end else None
    )


def days_of(window: dg.TimeWindow) -> list[date]:
    """The UTC days of a partition time window (its end is exclusive)."""
    first, stop = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((stop - first).days)]


def months_of(window: dg.TimeWindow) -> list[date]:
    first, stop = window.start.date(), window.end.date()
    months = []
    while first < stop:
        months.append(first)
        first = add_months(first, 1)
    return months


def day_key(day: date | datetime) -> str:
    return day.strftime("%Y-%m-%d")


def month_key(month: date) -> str:
    return month.strftime("%Y-%m-%d")
