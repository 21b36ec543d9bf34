"""Small shared fixtures: a tiny, hand-written, contract-conforming dataset of all nine tables.

``clean_tables`` returns fresh pandas DataFrames (10-20 rows each) that pass every validation
check; tests plant one problem at a time by editing a copy and writing it with ``write_tables``.
A few ready-made planted datasets are provided as separate fixtures.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

# One fixed pseudonym key for the whole suite (and the notebooks it runs): pseudonyms agree across
# machines and no test writes the project's own key file (.playbook/pseudonym.key). Tests of the
# no-key path remove it with monkeypatch.
os.environ.setdefault("PLAYBOOK_PSEUDONYM_KEY", "tests-only-key-" + "0" * 40)


def _utc(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[ns, UTC]")


def make_clean_tables() -> dict[str, pd.DataFrame]:
    """The tiny clean dataset (new DataFrames on every call)."""
    n = 12
    cust_ids = [f"C{i:02d}" for i in range(1, n + 1)]
    customers = pd.DataFrame({
        "customer_id": cust_ids,
        "email": [f"person{i}@example.com" for i in range(1, n + 1)],
        "phone": [f"+49 151 000{i:04d}" for i in range(1, n + 1)],
        "first_name": ["Ann", "Ben", "Cem", "Dia", "Eva", "Fin", "Gus", "Hoa", "Ida", "Jon", "Kai", "Lea"],
        "country": ["US", "DE", "IN", "US", "DE", "IN", "US", "DE", "IN", "US", "DE", "IN"],
        "signup_ts": _utc([f"2024-01-{i:02d} 08:00:00" for i in range(1, n + 1)]),
        "birth_year": pd.array([1960 + 3 * i for i in range(n)], dtype="Int64"),
        "gender": ["f", "m", "x", "f", "m", "f", "m", "x", "f", "m", "f", "m"],
        "acquisition_channel": ["paid_search", "organic", "email", "direct", "display", "affiliate",
                                "paid_social", "organic", "direct", "email", "paid_search", "organic"],
        "consent_email": [True, True, False, True, True, True, False, True, True, True, False, True],
        "consent_ads": [True, False, False, True, True, False, False, True, True, False, False, True],
        "erased_at": _utc([None] * n),
    })
    products = pd.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "name": ["Runner", "Trail", "Tote", "Clutch", "Beanie", "Cap"],
        "category": ["shoes", "shoes", "bags", "bags", "hats", "hats"],
        "price": [80.0, 120.0, 40.0, 60.0, 15.0, 20.0],
    })
    # order_id, customer, ts (UTC), channel, discount, promo, items [(product, qty, unit_price)]
    raw_orders = [
        ("O01", "C01", "2024-03-01 09:00", "web", 0.0, None, [("P1", 1, 80.0)]),
        ("O02", "C02", "2024-03-01 23:30", "app", 5.0, "SPRING", [("P3", 2, 40.0), ("P5", 1, 15.0)]),
        ("O03", "C01", "2024-03-02 00:10", "web", 0.0, None, [("P6", 3, 20.0)]),
        ("O04", "C03", "2024-03-02 12:00", "store", 10.0, "VIP", [("P2", 1, 120.0), ("P4", 1, 60.0)]),
        ("O05", "C04", "2024-03-02 18:45", "web", 0.0, None, [("P5", 2, 15.0)]),
        ("O06", "C05", "2024-03-04 07:00", "app", 0.0, None, [("P1", 1, 80.0), ("P6", 1, 20.0)]),
        ("O07", "C02", "2024-03-04 16:20", "web", 8.0, "SPRING", [("P3", 1, 40.0)]),
        ("O08", "C06", "2024-03-05 10:00", "store", 0.0, None, [("P2", 1, 120.0)]),
        ("O09", "C07", "2024-03-05 11:00", "web", 0.0, None, [("P4", 2, 60.0), ("P5", 1, 15.0)]),
        ("O10", "C08", "2024-03-05 21:00", "app", 2.0, None, [("P6", 1, 20.0)]),
        ("O11", "C03", "2024-03-06 08:00", "web", 0.0, None, [("P1", 2, 80.0)]),
        ("O12", "C09", "2024-03-06 13:00", "store", 0.0, None, [("P3", 1, 40.0), ("P4", 1, 60.0)]),
        ("O13", "C10", "2024-03-06 14:00", "web", 0.0, None, [("P5", 1, 0.0)]),
        ("O14", "C01", "2024-03-06 22:00", "app", 0.0, None, [("P2", 1, 120.0)]),
    ]
    orders = pd.DataFrame({
        "order_id": [o[0] for o in raw_orders],
        "customer_id": [o[1] for o in raw_orders],
        "order_ts": _utc([o[2] for o in raw_orders]),
        "channel": [o[3] for o in raw_orders],
        "revenue": [sum(q * p for _, q, p in o[6]) - o[4] for o in raw_orders],
        "discount": [o[4] for o in raw_orders],
        "promo_code": [o[5] for o in raw_orders],
    })
    order_items = pd.DataFrame(
        [(o[0], prod, q, p) for o in raw_orders for prod, q, p in o[6]],
        columns=["order_id", "product_id", "quantity", "unit_price"],
    )
    events = pd.DataFrame({
        "event_id": [f"E{i:02d}" for i in range(1, 16)],
        "customer_id": [cust_ids[i % n] for i in range(15)],
        "session_id": [f"S{i // 3:02d}" for i in range(15)],
        "event_ts": _utc([f"2024-02-{1 + i:02d} 10:00" for i in range(15)]),
        "event_type": ["view", "add_to_cart", "checkout", "purchase", "view"] * 3,
        "product_id": ["P1", "P2", None, "P3", "P4", "P5", "P6", "P1", None, "P2", "P3", "P4", "P5", "P6", "P1"],
    })
    messages = pd.DataFrame({
        "message_id": [f"M{i:02d}" for i in range(1, 11)],
        "customer_id": cust_ids[:10],
        "campaign_id": ["CMP1"] * 10,
        "channel": ["email", "sms", "push", "email", "email", "sms", "push", "email", "email", "sms"],
        "variant": ["A", "B"] * 5,
        "sent_ts": _utc(["2024-02-20 09:00"] * 10),
        "opened_ts": _utc(["2024-02-20 10:00", None] * 5),
        "clicked_ts": _utc(["2024-02-20 10:05", None, None, None, None] * 2),
        "unsubscribed_ts": _utc([None] * 10),
        "bounced_ts": _utc([None] * 10),
    })
    touches = pd.DataFrame({
        "touch_id": [f"T{i:02d}" for i in range(1, 11)],
        "customer_id": cust_ids[:10],
        "touch_ts": _utc([f"2024-02-{10 + i:02d} 12:00" for i in range(10)]),
        "channel": ["paid_search", "paid_social", "display", "email", "affiliate", "organic", "direct",
                    "paid_search", "email", "organic"],
        "campaign_id": ["CMP1", "CMP1", "CMP1", "CMP1", "CMP1", None, None, "CMP1", "CMP1", None],
        "utm_source": ["google", "meta", "dv360", "crm", "partner", None, None, "google", "crm", None],
        "utm_medium": ["cpc", "paid", "display", "email", "affiliate", None, None, "cpc", "email", None],
        "utm_campaign": ["spring"] * 5 + [None, None, "spring", "spring", None],
    })
    spend = pd.DataFrame({
        "date": [pd.Timestamp(f"2024-03-0{d}").date() for d in (1, 1, 2, 2, 3, 3)],
        "channel": ["paid_search", "display"] * 3,
        "campaign_id": ["CMP1"] * 6,
        "spend": [100.0, 50.0, 110.0, 40.0, 90.0, 0.0],
        "impressions": [1000, 5000, 1200, 4000, 900, 0],
        "clicks": [50, 20, 60, 10, 45, 0],
    })
    assignments = pd.DataFrame({
        "experiment_id": ["EXP1"] * 10,
        "customer_id": cust_ids[:10],
        "variant": ["control", "treatment"] * 5,
        "assigned_ts": _utc(["2024-02-15 00:00"] * 10),
    })
    return {
        "customers": customers, "products": products, "orders": orders, "order_items": order_items,
        "events": events, "messages": messages, "touches": touches, "spend": spend,
        "assignments": assignments,
    }


def write_parquet_tables(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    """Write each table as ``<folder>/<table>.parquet``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


@pytest.fixture
def clean_tables() -> dict[str, pd.DataFrame]:
    """A fresh copy of the tiny clean dataset (edit freely)."""
    return make_clean_tables()


@pytest.fixture
def write_tables(tmp_path: Path) -> Callable[..., Path]:
    """Callable ``write_tables(tables, name="data") -> folder`` writing Parquet under tmp_path."""

    def _write(tables: dict[str, pd.DataFrame], name: str = "data") -> Path:
        return write_parquet_tables(tables, tmp_path / name)

    return _write


@pytest.fixture
def clean_source(clean_tables, write_tables) -> Path:
    """Folder with the clean dataset as Parquet."""
    return write_tables(clean_tables, "clean")


@pytest.fixture
def refund_tables(clean_tables) -> dict[str, pd.DataFrame]:
    """Clean data plus two refunds (order rows with negative revenue and no item lines)."""
    t = clean_tables
    refunds = pd.DataFrame({
        "order_id": ["R01", "R02"], "customer_id": ["C01", "C02"],
        "order_ts": _utc(["2024-03-04 12:00", "2024-03-06 09:00"]),
        "channel": ["web", "app"], "revenue": [-80.0, -40.0], "discount": [0.0, 0.0],
        "promo_code": [None, None],
    })
    t["orders"] = pd.concat([t["orders"], refunds], ignore_index=True)
    return t


@pytest.fixture
def dirty_source(clean_tables, write_tables) -> Path:
    """Several problems at once: an absent optional table (information only), a duplicate key, an
    orphan, a bad channel, a negative quantity, a duplicate email and an invalid email."""
    t = clean_tables
    del t["spend"]
    t["orders"] = pd.concat([t["orders"], t["orders"].iloc[[0]]], ignore_index=True)
    t["orders"].loc[1, "customer_id"] = "C99"
    t["orders"].loc[2, "channel"] = "fax"
    t["order_items"].loc[0, "quantity"] = -1
    t["customers"].loc[1, "email"] = " PERSON1@Example.com "
    t["customers"].loc[2, "email"] = "not-an-email"
    return write_tables(t, "dirty")


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory):
    """A kernel spec ``playbook-test-kernel`` for this interpreter, visible through JUPYTER_PATH
    (the runner and fault tests start real kernels by that name); yields the name."""
    name = "playbook-test-kernel"
    share = tmp_path_factory.mktemp("jupyter")
    spec = share / "kernels" / name
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}),
                                      encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join([str(share), os.environ.get("JUPYTER_PATH", "")]))
        yield name
