"""Issue 14, "Done when": a shop with only customers(customer_id) and orders(order_id,
customer_id, order_ts as a date, revenue), 10 or 15 months of history, and a campaign file with
only the required keys: `playbook run` exits 0 and every section is computed or explained.

Runs the real command (Papermill, the project kernel) on `write_minimal` exports of the small
sample, as a stranger would, then reads the published summaries and pages.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from playbook.data.synth import write_minimal
from tests.sample_data import small_sample

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.notebooks
STEPS = ("01_plan", "02_segment", "03_personalize", "04_test", "05_retrospective")

#: The campaign file a new user writes: the required keys and nothing else.
CAMPAIGN = """\
slug: {slug}
name: Shop Christmas 2025
countries: [US]
currency: USD
season:
  start: 2025-11-20
  end: 2025-12-31
  planning_cutoff: 2025-11-01
data:
  source: {data}
output:
  dir: {out}
"""


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, Path]]:
    """Both exports, run as one batch (`playbook run a.yaml b.yaml --jobs 2`: the two campaigns
    share the two cores, as a user planning two shops would run them)."""
    tmp = tmp_path_factory.mktemp("orders_only")
    runs, configs = {}, []
    for months in (10, 15):
        data = tmp / f"shop{months}"
        write_minimal(small_sample(), data, months=months)
        out = tmp / "reports" / f"shop{months}"
        cfg = tmp / f"campaign{months}.yaml"
        cfg.write_text(CAMPAIGN.format(slug=f"shop{months}", data=data, out=out), encoding="utf-8")
        runs[months] = (out, data)
        configs.append(str(cfg))
    res = subprocess.run([sys.executable, "-m", "playbook.cli", "run", *configs, "--jobs", "2",
                          "--timeout", "600"], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    return {"res": res, **runs}  # type: ignore[dict-item]


@pytest.fixture(params=[10, 15], ids=["10_months", "15_months"])
def shop_run(request: pytest.FixtureRequest, both_runs: dict):
    months = int(request.param)
    out, data = both_runs[months]
    return months, both_runs["res"], out, data


def _summary(out: Path, step: str) -> dict:
    return json.loads((out / "artifacts" / f"summary_{step}.json").read_text(encoding="utf-8"))


def _text(html: str) -> str:
    body = re.sub(r"(?is)<(style|script)\b.*?</\1>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


def test_the_export_is_really_minimal(shop_run) -> None:
    _, _, _, data = shop_run
    assert sorted(p.name for p in data.iterdir()) == ["customers.csv", "orders.csv"]
    assert (data / "orders.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[2].count("-") == 2


def test_run_exits_0_with_every_step_ok(shop_run) -> None:
    _, res, out, _ = shop_run
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    runs = {s["step"]: s for s in json.loads((out / "summary.json").read_text())["steps"]}
    assert [runs[s]["status"] for s in STEPS] == ["ok"] * 5
    assert runs["04_test"]["skipped"] == "no experiments in the campaign"


@pytest.mark.parametrize("step", STEPS)
def test_pages_have_no_error_nan_or_infinity(shop_run, step: str) -> None:
    _, _, out, _ = shop_run
    text = _text((out / f"{step}.html").read_text(encoding="utf-8"))
    assert "Traceback" not in text and "KeyError" not in text and "ValueError" not in text
    for bad in (" NaN", " nan ", " inf ", "$nan", "Empty DataFrame"):
        assert bad not in text, (step, bad, text[max(0, text.find(bad) - 200):text.find(bad) + 100])
    summary = (out / "artifacts" / f"summary_{step}.json").read_text(encoding="utf-8")
    assert "NaN" not in summary and "Infinity" not in summary


def test_plan_says_what_it_skipped_and_why(shop_run) -> None:
    months, _, out, _ = shop_run
    plan = _summary(out, "01_plan")
    head = plan["headline"]
    assert head["forecast revenue"].startswith("$") and "no target set" in head["revenue target"]
    assert not any("ROAS" in k or "budget" in k.lower() for k in head)  # no spend, no budget: no figures
    text = _text((out / "01_plan.html").read_text(encoding="utf-8"))
    assert "No budget split" in text and "the campaign file sets no budget" in text
    assert "funnel needs the events table" in text
    if months == 15:  # last Christmas is covered: chosen as the comparison season
        assert "Shop Christmas 2024 revenue" in head
    else:
        assert "Shop Christmas 2024 revenue" not in head
    assert not any("beats the baseline" in n for n in plan["notes"])  # no backtest with < 3 folds


def test_segment_and_personalize_explain_what_the_data_lacks(shop_run) -> None:
    _, _, out, _ = shop_run
    seg = _summary(out, "02_segment")["headline"]
    assert seg["data errors"] == "0" and seg["duplicate email"] == "n/a (no email column)"
    assert seg["email-reachable"] == "0 (no consent column)"
    seg_text = _text((out / "02_segment.html").read_text(encoding="utf-8"))
    assert "Merging duplicate accounts: skipped, the data has no customers.email or customers.phone" in seg_text
    assert "Unknown consent counts as not consented" in seg_text
    assert "Not in the data: 7 optional table(s)" in seg_text
    pers = _summary(out, "03_personalize")
    assert pers["headline"]["email consent"] == "unknown (no consent column)"
    assert pers["headline"]["audience files exported"] == "0 of 6 (no consent data)"
    assert any("order_items" in n for n in pers["notes"])  # recommendations skipped, with what enables them
    assert not list((out / "exports").glob("*.csv")) if (out / "exports").exists() else True


def test_retrospective_compares_only_covered_periods(shop_run) -> None:
    months, _, out, _ = shop_run
    retro = _summary(out, "05_retrospective")
    head = retro["headline"]
    assert head["window revenue"].startswith("$")
    assert not any("gain" in k or "ROAS" in k for k in head)  # no spend: no ratio, no expected gain
    assert any("no media spend in the data" in n for n in retro["notes"])
    # breakdowns by values the data does not have are skipped, not drawn as one "unknown" bar
    assert any(n.startswith("Skipped gap by category: the data has no order_items table and products table")
               for n in retro["notes"])
    assert any(n.startswith("Skipped gap by country: the data has no customers.country") for n in retro["notes"])
    if months == 10:  # last year's window lies before the data
        assert "revenue vs last year" not in head
        assert any("no comparable period" in n for n in retro["notes"])
    else:
        assert "revenue vs last year" in head
