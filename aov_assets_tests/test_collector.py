"""The garbage collector is tuned only in processes that are aov's own (core.collector)."""

import gc
import importlib.metadata
import subprocess
import sys

from aov_assets import cli
from aov_assets.core.collector import YOUNG_COLLECTION_EVERY

SETTLED = """
import gc
from aov_assets.core.collector import settle_long_lived
settle_long_lived()
frozen = gc.get_freeze_count()

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after settling is still garbage the collector frees
del a, b
print(frozen, gc.get_threshold()[0], gc.collect())
"""


def test_settling_freezes_what_lives_now_and_still_frees_later_cycles():
    result = subprocess.run([sys.executable, "-c", SETTLED], capture_output=True, text=True, check=True)
    frozen, young, freed = map(int, result.stdout.split())
    assert frozen > 10_000  # the interpreter's and the imported modules' objects
    assert young == YOUNG_COLLECTION_EVERY
    assert freed >= 2


def test_the_aov_command_settles_its_process_and_main_leaves_a_callers_alone(tmp_path, monkeypatch):
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="aov")
    assert script.value == "aov_assets.cli:entry"
    monkeypatch.chdir(tmp_path)  # no aov.yaml: the command fails in one line, after parsing
    monkeypatch.delenv("AOV_MANIFEST", raising=False)
    before = gc.get_threshold(), gc.get_freeze_count()
    assert cli.main(["portfolio", "--as-of", "2026-05-03"]) == 2
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
