import base64
import json
import re

import pytest

from aov_assets.cli import main

from ..conftest import REPO


@pytest.fixture
def example_env(example_pipeline, monkeypatch):
    monkeypatch.setenv("AOV_WAREHOUSE_URL", example_pipeline.warehouse_url)
    monkeypatch.setenv("AOV_MANIFEST", str(REPO / "aov.yaml"))


def test_card_prints_the_worked_example(example_env, capsys):
    assert main(["card", "--as-of", "2026-05-03"]) == 0
    out = capsys.readouterr().out
    assert "b2b             1,420    912,800.00  642.82         1,380   1,062,600.00     770.00  -16.5%" in out
    assert "b2c             4,650    317,540.00   68.29         4,710     322,100.00      68.39   -0.1%" in out
    assert "Multiplier (B2B AOV / B2C AOV): 9.4x" in out
    assert "ALERT: B2B AOV 642.82 vs 770.00 in the prior 30 days (-16.5%); threshold: more than 15%" in out
    assert "Accounts gone quiet (ordered in the prior 30 days, not since): 8 vs " in out
    assert "Why B2B AOV moved (-127.18):" in out


def test_card_json_carries_the_numbers(example_env, capsys):
    assert main(["card", "--as-of", "2026-05-03", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["segments"]["b2b"]["aov"] == 642.82
    assert card["segments"]["all"]["prior_revenue"] == 1384700.0
    assert (card["alert"], card["verdict"], card["multiplier"]) == (True, "alert", 9.4133)
    assert card["current_window"] == ["2026-04-04", "2026-05-03"]
    assert [c["cohort"] for c in card["cohorts"]] == ["top 20%", "middle 60%", "bottom 20%"]
    change = card["segments"]["b2b"]["aov"] - card["segments"]["b2b"]["prior_aov"]
    parts = card["decomposition"]
    assert len(parts) == 4 and abs(sum(parts.values()) - change) <= 0.01 * len(parts) + 1e-9
    assert card["why"][0]["cause"] in parts and card["gone_quiet"]["count"] == 8
    around = card["neighbours"]
    assert set(around) == {"b2b", "b2c", "all"} and len(around["b2b"]) == 16  # 8 measures, each with its prior
    assert (around["b2b"]["revenue_share_pct"], around["b2b"]["prior_revenue_share_pct"]) == (74.1909, 76.7386)
    assert (around["b2b"]["lines_per_order"], around["b2b"]["prior_lines_per_order"]) == (4.7838, 5.9507)
    assert (around["b2b"]["active_customers"], around["b2b"]["prior_active_customers"]) == (172, 180)
    b2b_usd = next(c for c in card["currencies"] if (c["segment"], c["currency"]) == ("b2b", "USD"))
    assert (b2b_usd["aov"], b2b_usd["prior_aov"], b2b_usd["orders"]) == (642.82, 770.0, 1420)
    assert card["left_the_baskets"][0]["category"] == "Janitorial/Equipment"
    assert card["left_the_baskets"][0]["per_order_change"] < 0


def test_card_html_is_one_page_with_the_charts_inline_and_png_writes_them(example_env, capsys, tmp_path):
    page, charts = tmp_path / "mail" / "card.html", tmp_path / "charts"
    assert main(["card", "--as-of", "2026-05-03", "--html", str(page), "--png", str(charts)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {page}",
        f"wrote {charts / 'trend.png'}",
        f"wrote {charts / 'causes.png'}",
        f"wrote {charts / 'credit.png'}",  # no TTM chart: the example's warehouse holds no aov_ttm month
    ]
    html = page.read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)">', html)
    assert [alt for alt, _ in images] == ["B2B AOV trend", "Why B2B AOV moved", "Credit pressure by cohort"]
    assert re.search(r"<p>\d+ accounts by sales rep \(all of them: aov accounts --as-of 2026-05-03\):</p>", html)
    assert base64.b64decode(images[1][1]) == (charts / "causes.png").read_bytes()  # the same chart, inline
    assert "http" not in html.replace("data:image", "")  # nothing to fetch: it can be mailed
    assert "ALERT: B2B AOV 642.82 vs 770.00 in the prior 30 days (-16.5%)" in html
    assert "<td>b2b</td><td>1,420</td><td>912,800.00</td><td>642.82</td>" in html
    assert "basket_shrink -71.71 (56.4% of the move)" in html and "Who to call" in html


def test_card_html_to_a_place_that_cannot_be_written_is_one_line(example_env, capsys, tmp_path):
    (tmp_path / "file").write_text("")
    assert main(["card", "--as-of", "2026-05-03", "--png", str(tmp_path / "file" / "charts")]) == 2
    assert capsys.readouterr().err.startswith(f"aov: cannot write {tmp_path / 'file' / 'charts' / 'trend.png'}: ")


def test_card_for_a_day_not_in_the_warehouse_says_what_to_do(example_env, capsys):
    assert main(["card", "--as-of", "2026-05-04"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "aov: no aov_30d rows for 2026-05-04 in the warehouse; the latest as-of day there is 2026-05-03"
    )
    assert "dagster asset materialize -m aov_assets.definitions --select aov_30d --partition 2026-05-04" in err


def test_accounts_prints_the_call_list_by_rep_and_as_csv(example_env, capsys):
    assert main(["accounts", "--as-of", "2026-05-03"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Call list as of 2026-05-03: \d+ accounts, \d+ reasons", out[0])
    assert "Dana Whitfield (@dana):" in out  # the manifest's sales_reps name the Companies' reps
    assert any(
        re.fullmatch(r"  .+ \(company:\d+, middle 60%\) credit_pressure: peak \d+% of its credit limit; .+", line)
        for line in out
    )
    assert main(["accounts", "--as-of", "2026-05-03", "--rep", "12", "--csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "rep_id,rep,account,name,cohort,reason,numbers"
    assert len(rows) > 1 and all(row.startswith("12,Dana Whitfield (@dana),company:") for row in rows[1:])
    assert main(["accounts", "--as-of", "2026-05-03", "--rep", "999"]) == 0
    assert capsys.readouterr().out == "No account to call of rep 999 as of 2026-05-03.\n"
    assert main(["accounts", "--as-of", "2026-05-04"]) == 2
    assert "no b2b_accounts_30d rows for 2026-05-04" in capsys.readouterr().err


def test_card_ends_with_who_should_call(example_env, capsys):
    assert main(["card", "--as-of", "2026-05-03"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Who should call \(\d+ accounts; all of them: aov accounts --as-of 2026-05-03\):", out)
    assert re.search(r"  Dana Whitfield \(@dana\): .+ \(credit_pressure\).*; and \d+ more", out)
    assert main(["card", "--as-of", "2026-05-03", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    why = {row["cause"]: row for row in card["why"]}
    assert why["credit_pressure"]["contribution"] < 0 and "of their credit limit" in why["credit_pressure"]["summary"]
    ruled_out = {row["cause"]: row["summary"] for row in card["ruled_out"]}
    assert ruled_out["split_orders"].startswith("Same-day second POs: ")  # with its numbers, not the story here
    assert "paid on account" in ruled_out["split_orders"]
    calls = card["call_list"]
    assert {"credit_pressure", "gone_quiet"} <= {row["reason"] for row in calls}
    assert {row["rep_id"] for row in calls} <= {12, 14, 17, 21, None}


def test_a_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["card", "--as-of", "May 3"])
    assert exit_info.value.code == 2
    assert "'May 3' is not a date (expected YYYY-MM-DD)" in capsys.readouterr().err


def test_an_invalid_manifest_is_one_line(example_env, monkeypatch, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: sample\nstart_date: '2024-05-01'\nalert: {direction: sideways}\n")
    monkeypatch.setenv("AOV_MANIFEST", str(bad))
    assert main(["card", "--as-of", "2026-05-03"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("alert.direction: 'sideways' is not allowed (allowed: contraction, expansion, both)")
    )


def test_a_bad_sample_scale_ends_demo_and_backfill_in_one_line(example_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AOV_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AOV_SAMPLE_SCALE", "0")
    for command in (["demo"], ["backfill", "--from", "2026-05-01", "--to", "2026-05-02"]):
        assert main(command) == 2
        assert capsys.readouterr().err.strip() == (
            "aov: AOV_SAMPLE_SCALE must be a whole number of 1 or more (the sample's size), not '0'"
        )
    assert list(tmp_path.iterdir()) == []  # no run started
