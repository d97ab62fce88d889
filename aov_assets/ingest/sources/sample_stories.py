"""The sample merchant's stories: how each cohort orders in ordinary times, and what the last 60 days
of each embedded store show (the worked example's targets to the cent, and two other stories)."""

from __future__ import annotations

from dataclasses import dataclass

COHORT_SIZES = {"top": 36, "mid": 108, "bottom": 36}
QUIET_MID_COMPANIES = 8
CONSUMERS = 3400

# Counted orders and revenue (cents) per window and cohort. B2B sums to the worked example:
# prior 1,380 orders / 1,062,600.00 (AOV 770.00), current 1,420 / 912,800.00 (AOV 642.82);
# cohort AOVs: top 1,210 -> 1,180, middle 560 -> 480, bottom 310 -> 190.
WINDOW_TARGETS = {
    ("prior", "top"): (500, 605_000_00),
    ("prior", "mid"): (739, 413_840_00),
    ("prior", "bottom"): (141, 43_760_00),
    ("prior", "b2c"): (4_710, 322_100_00),
    ("current", "top"): (484, 571_120_00),
    ("current", "mid"): (565, 271_200_00),
    ("current", "bottom"): (371, 70_480_00),
    ("current", "b2c"): (4_650, 317_540_00),
}


@dataclass(frozen=True)
class Story:
    """What the last 60 days of a sample store show; the history before them has the same ordinary shape
    (each story draws its own companies and orders, so the stores are not copies of each other).

    `targets`: counted orders and revenue (cents) per window and cohort; `shrinking`: mid and bottom
    baskets shrink through the current window and bottom accounts split their POs; `quiet`: per cohort,
    how many companies stop ordering in the current window."""

    targets: dict[tuple[str, str], tuple[int, int]]
    shrinking: bool
    quiet: dict[str, int]


def _with_current(**current: tuple[int, int]) -> dict[tuple[str, str], tuple[int, int]]:
    """The worked example's prior window, and the given current one (per cohort)."""
    prior = {key: value for key, value in WINDOW_TARGETS.items() if key[0] == "prior"}
    return prior | {("current", cohort): value for cohort, value in current.items()}


STORIES = {
    # CONTRACT.md's worked example: B2B AOV 770.00 -> 642.82 (-16.5%), baskets shrink
    "worked_example": Story(WINDOW_TARGETS, shrinking=True, quiet={"mid": QUIET_MID_COMPANIES}),
    # a calm store: a few more orders, AOV up 1.0% (770.00 -> 777.89)
    "steady": Story(
        _with_current(top=(510, 623_220_00), mid=(752, 425_360_00), bottom=(144, 45_140_00), b2c=(4_800, 331_200_00)),
        shrinking=False,
        quiet={},
    ),
    # 20 of the 36 largest accounts stop ordering; everyone else buys as before: 770.00 -> 642.65 (-16.5%)
    "key_accounts_lost": Story(
        _with_current(top=(200, 240_000_00), mid=(745, 417_200_00), bottom=(150, 46_500_00), b2c=(4_700, 321_400_00)),
        shrinking=False,
        quiet={"top": 20},
    ),
}
DEFAULT_STORY = "worked_example"


@dataclass(frozen=True)
class Profile:
    """How a cohort orders in ordinary times (at the level of the prior window)."""

    aov: float
    sigma: float  # lognormal spread of order values
    lines: float  # mean visible lines per order
    growth: float  # yearly growth of order counts
    count_season: tuple[float, ...]  # Jan..Dec multipliers on order counts
    value_season: tuple[float, ...]  # Jan..Dec multipliers on order values
    weekday: tuple[float, ...]  # Mon..Sun multipliers on order counts
    min_cents: int


_B2B_COUNTS = (0.88, 0.95, 1.0, 1.0, 1.0, 1.02, 1.08, 1.18, 1.06, 1.0, 0.95, 0.85)
_B2B_VALUES = (0.98, 0.99, 1.0, 1.0, 1.0, 1.01, 1.02, 1.03, 1.01, 1.0, 0.99, 0.98)
_B2B_WEEKDAY = (1.25, 1.3, 1.3, 1.25, 1.1, 0.5, 0.3)
_B2C_COUNTS = (0.92, 0.88, 0.95, 0.97, 1.0, 0.98, 0.97, 1.0, 0.98, 1.03, 1.22, 1.3)
_B2C_VALUES = (0.97, 0.97, 1.0, 1.0, 1.0, 0.99, 0.98, 1.0, 1.0, 1.02, 1.06, 1.08)
_B2C_WEEKDAY = (0.95, 0.95, 0.95, 0.97, 1.0, 1.08, 1.1)

PROFILES = {
    "top": Profile(1210.0, 0.45, 8.0, 0.05, _B2B_COUNTS, _B2B_VALUES, _B2B_WEEKDAY, 150_00),
    "mid": Profile(560.0, 0.5, 5.0, 0.05, _B2B_COUNTS, _B2B_VALUES, _B2B_WEEKDAY, 60_00),
    "bottom": Profile(310.0, 0.5, 3.5, 0.05, _B2B_COUNTS, _B2B_VALUES, _B2B_WEEKDAY, 40_00),
    "b2c": Profile(68.39, 0.55, 1.8, 0.14, _B2C_COUNTS, _B2C_VALUES, _B2C_WEEKDAY, 8_00),
}
COHORTS = ("top", "mid", "bottom", "b2c")
CANCELED_SHARE = 0.025
