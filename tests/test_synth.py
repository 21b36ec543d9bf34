"""Tests for playbook.data.synth: determinism, contract, integrity, planted truth recovered."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from playbook.data import synth
from playbook.data.contract import TABLES
from playbook.errors import ConfigError

N = 3000
CHUNK = 1000  # three chunks: every test below also checks the chunked (streamed) path


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "sample"
    truth = synth.generate(n_customers=N, seed=7, out_dir=out, chunk_customers=CHUNK)
    tables = {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}
    return out, truth, tables


def test_deterministic_and_seed_sensitive(sample, tmp_path):
    out, _, _ = sample
    again = tmp_path / "again"
    other = tmp_path / "other"
    synth.generate(n_customers=N, seed=7, out_dir=again, chunk_customers=CHUNK)
    synth.generate(n_customers=N, seed=8, out_dir=other, chunk_customers=CHUNK)
    assert _hashes(out) == _hashes(again)
    differing = {k for k, v in _hashes(other).items() if _hashes(out)[k] != v}
    assert {"orders.parquet", "customers.parquet", "truth.json"} <= differing


def test_schema_conformity(sample):
    out, truth, _ = sample
    for name, table in TABLES.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        assert tuple(schema.names) == table.column_names, name
        for col in table.columns:
            t = schema.field(col.name).type
            expected = {
                "string": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
                "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32(),
            }[col.dtype]
            assert t == expected, (name, col.name, t)
        assert truth["rows"][name] == pq.read_metadata(out / f"{name}.parquet").num_rows
    assert set(p.name for p in out.iterdir()) == {f"{n}.parquet" for n in TABLES} | {
        "truth.json", "truth_customers.parquet"}


def test_keys_and_referential_integrity(sample):
    _, _, t = sample
    for name, table in TABLES.items():
        df = t[name]
        assert not df.duplicated(list(table.key)).any(), name
        for col in table.columns:
            if not col.nullable:
                assert df[col.name].notna().all(), (name, col.name)
            if col.allowed:
                assert set(df[col.name].dropna()) <= set(col.allowed), (name, col.name)
            if col.min_value is not None:
                assert (df[col.name] >= col.min_value).all(), (name, col.name)
        for fk in table.foreign_keys:
            ref = set(t[fk.ref_table][fk.ref_column])
            assert df[fk.column].dropna().isin(ref).all(), (name, fk)


def test_orders_items_and_refunds_consistent(sample):
    _, truth, t = sample
    orders, items = t["orders"], t["order_items"]
    sales = orders[orders["revenue"] >= 0].set_index("order_id")
    refunds = orders[orders["revenue"] < 0]
    gross = (items["quantity"] * items["unit_price"]).groupby(items["order_id"]).sum()
    assert np.allclose(gross.reindex(sales.index).to_numpy() - sales["discount"], sales["revenue"], atol=0.011)
    assert (items["quantity"] >= 1).all()
    assert refunds["order_id"].str.startswith("R").all() and not sales.index.str.startswith("R").any()
    assert not items["order_id"].isin(refunds["order_id"]).any()
    orig = sales.loc["O" + refunds["order_id"].str[1:]]
    assert (orig["customer_id"].to_numpy() == refunds["customer_id"].to_numpy()).all()
    assert (-refunds["revenue"].to_numpy() <= orig["revenue"].to_numpy() + 0.01).all()
    assert sales.loc[sales["promo_code"].isna(), "discount"].eq(0).all()
    assert (sales.loc[sales["promo_code"].notna(), "discount"] > 0).all()
    assert truth["defects"]["refunds"] == len(refunds)


def _independent_defects(t: dict[str, pd.DataFrame]) -> dict[str, int]:
    c = t["customers"]

    def missing(s):
        return int(sum(v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "" for v in s))

    emails = [str(e).strip().lower() for e in c["email"] if isinstance(e, str) and e.strip()]
    phones = []
    for p in c["phone"]:
        if isinstance(p, str) and p.strip():
            p = p.strip()
            phones.append(("+" if p.startswith("+") else "") + re.sub(r"\D", "", p))
    pattern = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    signup = dict(zip(c["customer_id"], c["signup_ts"], strict=True))
    ev = t["events"]
    return {
        "duplicate_email": len(emails) - len(set(emails)),
        "duplicate_phone": len(phones) - len(set(phones)),
        "invalid_email": sum(not pattern.match(e) for e in emails),
        "missing_email": missing(c["email"]), "missing_phone": missing(c["phone"]),
        "missing_first_name": missing(c["first_name"]),
        "missing_birth_year": int(c["birth_year"].isna().sum()),
        "missing_gender": missing(c["gender"]),
        "erased": int(c["erased_at"].notna().sum()),
        "events_before_signup": int((ev["event_ts"] < ev["customer_id"].map(signup)).sum()),
        "refunds": int((t["orders"]["revenue"] < 0).sum()),
    }


def test_defect_counts_equal_truth_and_planted_rates(sample):
    _, truth, t = sample
    assert truth["defects"] == _independent_defects(t)
    d = truth["defects"]
    assert d["duplicate_email"] == round(0.012 * N) and d["duplicate_phone"] == round(0.008 * N)
    for key in ("invalid_email", "missing_email", "missing_phone", "missing_first_name",
                "missing_birth_year", "missing_gender"):
        rate = synth.DEFECT_RATES[key]
        assert abs(d[key] / N - rate) < 4 * np.sqrt(rate / N) + 0.002, key
    assert 0 < d["erased"] < 0.02 * N and 0 < d["events_before_signup"] <= 0.02 * N


def test_duplicates_are_same_person(sample):
    out, _, t = sample
    tc = pd.read_parquet(out / "truth_customers.parquet")
    c = t["customers"].merge(tc[["customer_id", "person_id"]], on="customer_id")
    norm = c["email"].str.strip().str.lower()
    dup = c[norm.duplicated(keep=False) & c["email"].notna() & (norm != "")]
    assert dup.groupby(norm[dup.index])["person_id"].nunique().eq(1).all()
    assert (c["person_id"] != c["customer_id"]).sum() == round(0.012 * N) + round(0.008 * N)


def test_black_friday_peak_matches_planted_curves(sample):
    _, truth, t = sample
    o = t["orders"][t["orders"]["revenue"] > 0]
    day = o["order_ts"].dt.tz_convert("UTC").dt.floor("D").dt.tz_localize(None)
    counts = day.value_counts()
    obs_bf, obs_ref, exp_bf, exp_ref = 0.0, 0.0, 0.0, 0.0
    for year, exp in truth["demand"]["black_friday_check"]["by_year"].items():
        y = int(year)
        bf = pd.Timestamp(f"{y}-11-01") + pd.offsets.WeekOfMonth(week=3, weekday=3) + pd.Timedelta(days=1)
        ref = [d for d in pd.date_range(f"{y}-11-01", f"{y}-11-20") if d.day_of_week <= 3]
        obs_bf += counts.get(bf, 0)
        obs_ref += float(np.median([counts.get(d, 0) for d in ref]))
        exp_bf += exp["black_friday_orders"]
        exp_ref += exp["reference_median_orders"]
    observed, expected = obs_bf / obs_ref, exp_bf / exp_ref
    assert expected > 1.8
    assert 0.7 * expected < observed < 1.35 * expected


def test_subject_line_open_rates_match_truth(sample):
    _, truth, t = sample
    m = t["messages"][t["messages"]["campaign_id"] == "xmas25_launch"]
    rates = m["opened_ts"].notna().groupby(m["variant"]).mean()
    exp = truth["experiments"]["xmas25_subject_line"]["expected_metric_by_arm"]
    for arm in ("control", "treatment"):
        assert abs(rates[arm] - exp[arm]) < 0.05
    assert set(truth["experiments"]) == {"xmas25_subject_line", "xmas25_free_shipping",
                                         "xmas25_gift_wrap", "xmas25_aa", "xmas25_email_holdout"}
    assert truth["experiments"]["xmas25_aa"]["true_lift_absolute"] == 0
    holdout = t["assignments"][t["assignments"]["experiment_id"] == "xmas25_email_holdout"]
    held = set(holdout.loc[holdout["variant"] == "control", "customer_id"])
    xmas = t["messages"][t["messages"]["campaign_id"].str.startswith("xmas25")]
    assert held and not held & set(xmas["customer_id"])


def test_truth_is_complete_and_json(sample):
    out, truth, t = sample
    assert json.loads((out / "truth.json").read_text()) == truth
    assert truth["campaign"] == {"window_start": "2025-11-01", "window_end": "2025-12-31", "cutoff": "2025-10-15"}
    assert truth["event_effects"]["diwali"]["IN"] > 1 and truth["event_effects"]["singles_day"]["CN"] > 1
    assert set(truth["channels"]) == {"paid_search", "paid_social", "display", "affiliate", "email"}
    ranks = sorted(v["incremental_rank"] for v in truth["touch_model"]["channels"].values())
    assert ranks == list(range(1, 8))
    assert abs(sum(a["share"] for a in truth["archetypes"].values()) - 1) < 1e-9
    assert t["events"]["event_ts"].min() >= pd.Timestamp("2024-10-01", tz="UTC")
    # Last touch is biased toward direct/paid_search although their incremental weight is low.
    tc = t["touches"].sort_values("touch_ts")
    last = tc.groupby("customer_id")["channel"].last().value_counts(normalize=True)
    assert last.get("direct", 0) + last.get("paid_search", 0) > 0.5


def test_chunks_are_streamed_with_consecutive_ids(sample):
    out, _, t = sample
    for name in synth.STREAMED_TABLES:
        assert pq.ParquetFile(out / f"{name}.parquet").num_row_groups == N // CHUNK, name
    sales = t["orders"].loc[t["orders"]["revenue"] >= 0, "order_id"]
    for ids, prefix in ((sales, "O"), (t["events"]["event_id"], "E"), (t["messages"]["message_id"], "M"),
                        (t["touches"]["touch_id"], "T"), (t["events"]["session_id"], "S")):
        assert ids.str[0].eq(prefix).all()
        numbers = np.unique(ids.str[1:].astype(int))
        assert numbers.tolist() == list(range(1, len(numbers) + 1)), prefix
    # A session belongs to one account; sessions never straddle chunks.
    assert t["events"].groupby("session_id")["customer_id"].nunique().eq(1).all()
    assert t["order_items"]["order_id"].isin(sales).all()


def test_bgnbd_simulation_matches_closed_form():
    r, alpha, a, b, T = 0.8, 8.0, 1.6, 4.0, 52.0
    sim = synth.simulate_bgnbd(40_000, r, alpha, a, b, T, seed=3)
    expected = synth.bgnbd_expected_frequency(T, r, alpha, a, b)
    se = sim["frequency"].std() / np.sqrt(len(sim))
    assert abs(sim["frequency"].mean() - expected) < 4 * se
    assert (sim["recency"] <= sim["T"]).all() and (sim.loc[sim["frequency"] == 0, "recency"] == 0).all()
    with pytest.raises(ValueError, match="a > 1"):
        synth.bgnbd_expected_frequency(10, r, alpha, 1.0, b)


def test_atomic_write_keeps_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "sample"
    synth.generate(n_customers=500, seed=1, out_dir=out)
    before = _hashes(out)
    calls = {"n": 0}
    real = pq.write_table

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", flaky)
    with pytest.raises(OSError, match="disk full"):
        synth.generate(n_customers=500, seed=2, out_dir=out)
    assert _hashes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["sample"]


def test_failure_while_streaming_keeps_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "sample"
    synth.generate(n_customers=500, seed=1, out_dir=out, chunk_customers=200)
    before = _hashes(out)
    calls = {"n": 0}

    class FlakyWriter(pq.ParquetWriter):
        def write_table(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 7:  # second chunk, after the first chunk's five tables were written
                raise OSError("disk full")
            return super().write_table(*args, **kwargs)

    monkeypatch.setattr(pq, "ParquetWriter", FlakyWriter)
    with pytest.raises(OSError, match="disk full"):
        synth.generate(n_customers=500, seed=2, out_dir=out, chunk_customers=200)
    assert calls["n"] == 7
    assert _hashes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["sample"]


def test_bad_arguments():
    with pytest.raises(ConfigError, match="at least 100"):
        synth.generate(n_customers=10, out_dir="/tmp/never")
    with pytest.raises(ConfigError, match="must cover"):
        synth.generate(n_customers=200, start="2025-01-01", out_dir="/tmp/never")
    with pytest.raises(ConfigError, match="chunk_customers"):
        synth.generate(n_customers=200, chunk_customers=10, out_dir="/tmp/never")
