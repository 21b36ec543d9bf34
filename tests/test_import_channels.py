"""The source/medium -> touch channel mapping shared by the GA4 and Segment importers."""

from __future__ import annotations

import duckdb
import pytest

from playbook.data.importers.base import lit
from playbook.data.importers.channels import channel_of, channel_sql, inactivity_sessions_sql
from playbook.errors import DataError

CASES = [
    (None, None, "direct"), ("(direct)", "(none)", "direct"), ("direct", "(not set)", "direct"),
    ("google", "cpc", "paid_search"), ("bing", "ppc", "paid_search"), ("Google", "Paid_Search", "paid_search"),
    ("somesite", "cpc", "paid_search"), ("google", "retargeting", "paid_search"),
    ("facebook", "paid_social", "paid_social"), ("m.facebook.com", "cpc", "paid_social"),
    ("tiktok", "paid", "paid_social"), ("instagram", "social", "organic"),
    ("newsletter", "email", "email"), ("email", None, "email"), ("klaviyo", "sms", "email"),
    ("awin", "affiliate", "affiliate"), ("dv360", "display", "display"), ("criteo", "cpm", "display"),
    ("taboola", "paid", "display"), ("google", "organic", "organic"), ("blog.example.com", "referral", "organic"),
    ("partner-x", "weird", "organic"), (None, "organic", "organic"),
]


@pytest.mark.parametrize(("source", "medium", "expected"), CASES, ids=[f"{s}/{m}" for s, m, _ in CASES])
def test_channel_of(source: str | None, medium: str | None, expected: str) -> None:
    assert channel_of(source, medium) == expected


def test_sql_agrees_with_python() -> None:
    rows = " UNION ALL ".join(
        f"SELECT {i} AS i, {lit(s) if s else 'NULL'} AS s, {lit(m) if m else 'NULL'} AS m" for i, (s, m, _) in
        enumerate(CASES))
    got = duckdb.sql(f"SELECT i, {channel_sql('s', 'm')} FROM ({rows}) ORDER BY i").fetchall()
    assert [c for _, c in got] == [e for _, _, e in CASES]


def test_campaign_rules_come_first_and_are_checked() -> None:
    sql = channel_sql("'google'", "'cpc'", "'BF_brand_pmax'", rules=[("pmax", "display")])
    assert duckdb.sql(f"SELECT {sql}").fetchall() == [("display",)]
    with pytest.raises(DataError, match="unknown channel 'tv'"):
        channel_sql("'a'", "'b'", "'c'", rules=[("x", "tv")])
    with pytest.raises(DataError, match="not a valid regular expression"):
        channel_sql("'a'", "'b'", "'c'", rules=[("(", "display")])


def test_inactivity_sessions() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("""CREATE TABLE r AS SELECT * FROM (VALUES
        ('u1', TIMESTAMPTZ '2025-11-28 10:00:00+00', NULL), ('u1', TIMESTAMPTZ '2025-11-28 10:29:59+00', NULL),
        ('u1', TIMESTAMPTZ '2025-11-28 11:00:00+00', NULL), ('u2', TIMESTAMPTZ '2025-11-28 10:00:00+00', NULL),
        ('u2', TIMESTAMPTZ '2025-11-28 15:00:00+00', 'S9')) t(u, ts, sid)""")
    got = con.execute(f"SELECT u, ts, _session FROM ({inactivity_sessions_sql('r', 'u', 'ts', 'sid')}) "
                      "ORDER BY u, ts").fetchall()
    assert [s for *_, s in got] == ["u1-1764324000", "u1-1764324000", "u1-1764327600", "u2-1764324000", "S9"]
