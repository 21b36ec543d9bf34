"""Issue 15, item 4: a shop built from the platforms' own export files, imported, validated and run.

The small synthetic sample is written out as the platforms would export it (a Shopify orders and
customers export, a GA4 BigQuery export, Meta Ads and Google Ads daily reports, a Klaviyo
activity export; writers in ``tests/platform_exports``), then a new user's commands run on them:
``playbook import`` per platform into one folder, ``playbook validate-data``, and ``playbook run``
of a campaign file over that folder. The imported tables are compared with the sample they came
from (what each format can carry), and the five steps must publish.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from playbook.cli import main
from playbook.data.contract import TABLES
from tests.platform_exports import ga4, google_ads, klaviyo, meta_ads, shopify
from tests.sample_data import small_sample

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.notebooks
STEPS = ("01_plan", "02_segment", "03_personalize", "04_test", "05_retrospective")

CAMPAIGN = """\
slug: imported-shop
name: Imported shop, holiday 2025
countries: [US, GB, DE, IN, AE, CN]
currency: USD
timezone: UTC
season:
  start: 2025-11-01
  end: 2025-12-31
  planning_cutoff: 2025-10-15
data:
  source: {data}
channels:
  paid_search: {{min_budget: 2000, max_budget: 9000}}
  paid_social: {{min_budget: 1000, max_budget: 6000}}
  display: {{min_budget: 500, max_budget: 4000}}
budget:
  total: 12000
output:
  dir: {out}
"""


def _sample_tables() -> dict[str, pd.DataFrame]:
    folder = small_sample()
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in TABLES if (folder / f"{t}.parquet").exists()}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Exports written, imported platform by platform (customers and orders first), validated."""
    tmp = tmp_path_factory.mktemp("imported_shop")
    tables = _sample_tables()
    exports = tmp / "exports"
    files = {
        "shopify": shopify.write(tables, exports / "shopify"),
        "ga4": ga4.write(tables, exports / "ga4"),
        "meta-ads": meta_ads.write(tables, exports / "meta"),
        "google-ads": google_ads.write(tables, exports / "google"),
        "klaviyo": klaviyo.write(tables, exports / "klaviyo"),
    }
    data = tmp / "shop"
    cfg = tmp / "campaign.yaml"
    out = tmp / "reports" / "imported-shop"
    cfg.write_text(CAMPAIGN.format(data=data, out=out), encoding="utf-8")
    codes = {}
    for platform, paths in files.items():
        args = ["import", platform, *map(str, paths), "--out", str(data), "--config", str(cfg)]
        if platform == "google-ads":
            args += ["--channel", "display=display"]
        codes[platform] = main(args)
    codes["validate"] = main(["validate-data", str(data)])
    return {"tmp": tmp, "tables": tables, "data": data, "cfg": cfg, "out": out, "codes": codes, "files": files}


def test_every_import_and_the_validation_succeed(imported) -> None:
    assert imported["codes"] == {"shopify": 0, "ga4": 0, "meta-ads": 0, "google-ads": 0, "klaviyo": 0,
                                 "validate": 0}
    written = sorted(p.name for p in imported["data"].glob("*.parquet"))
    assert written == sorted(f"{t}.parquet" for t in ("customers", "orders", "order_items", "products", "events",
                                                       "touches", "spend", "messages"))


def test_imported_orders_carry_the_sample_revenue(imported) -> None:
    """Net revenue by month equals the sample's (sales and refunds), to the cent."""
    src, got = imported["tables"]["orders"], pd.read_parquet(imported["data"] / "orders.parquet")
    month = lambda d: d.groupby(d["order_ts"].dt.tz_convert("UTC").dt.strftime("%Y-%m"))["revenue"].sum()  # noqa: E731
    pd.testing.assert_series_equal(month(got).round(2), month(src).round(2), check_names=False)
    assert (got["revenue"] > 0).sum() == (src["revenue"] > 0).sum()


def test_imported_spend_matches_the_paid_channels(imported) -> None:
    src, got = imported["tables"]["spend"], pd.read_parquet(imported["data"] / "spend.parquet")
    want = src[src["channel"].isin(["paid_search", "paid_social", "display"])].groupby("channel")["spend"].sum()
    pd.testing.assert_series_equal(got.groupby("channel")["spend"].sum().round(2), want.round(2), check_names=False)


def test_messages_and_events_join_the_imported_customers(imported) -> None:
    data = imported["data"]
    customers = set(pd.read_parquet(data / "customers.parquet")["customer_id"])
    for table in ("messages", "events", "touches"):
        ids = set(pd.read_parquet(data / f"{table}.parquet")["customer_id"])
        assert ids and ids <= customers, table


def test_reimporting_changes_nothing(imported) -> None:
    data = imported["data"]
    before = {p.name: p.read_bytes() for p in data.glob("*.parquet")}
    assert main(["import", "shopify", *map(str, imported["files"]["shopify"]), "--out", str(data),
                 "--config", str(imported["cfg"])]) == 0
    assert {p.name: p.read_bytes() for p in data.glob("*.parquet")} == before


@pytest.fixture(scope="module")
def run(imported) -> dict:
    res = subprocess.run([sys.executable, "-m", "playbook.cli", "run", str(imported["cfg"]), "--jobs", "2",
                          "--timeout", "600"], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    return {"res": res, "out": imported["out"]}


def _summary(out: Path, step: str) -> dict:
    return json.loads((out / "artifacts" / f"summary_{step}.json").read_text(encoding="utf-8"))


def test_the_five_steps_run_on_the_imported_shop(run) -> None:
    res, out = run["res"], run["out"]
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    runs = {s["step"]: s for s in json.loads((out / "summary.json").read_text(encoding="utf-8"))["steps"]}
    assert [runs[s]["status"] for s in STEPS] == ["ok"] * 5
    for step in STEPS:
        assert (out / f"{step}.html").is_file()


def test_imported_tables_reach_the_steps(run) -> None:
    """Web events, messages and spend came in: the steps use them instead of skipping."""
    out = run["out"]
    plan = _summary(out, "01_plan")
    assert not {"budget", "response_curves"} & set(plan.get("skipped", {})), plan.get("skipped")
    assert any("budget" in k.lower() for k in plan["headline"]), plan["headline"]
    page = (out / "01_plan.html").read_text(encoding="utf-8")
    assert "funnel needs the events table" not in page
    seg = (out / "02_segment.html").read_text(encoding="utf-8")
    assert "events" not in seg[seg.find("Not in the data"):][:300] if "Not in the data" in seg else True
    pers = _summary(out, "03_personalize")
    assert "exports" not in pers.get("skipped", {})
