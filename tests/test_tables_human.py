"""Tests for playbook.report.tables: every table on a step page readable by a person (issue 20 item 3)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from playbook.report import tables as tables_module
from playbook.report.format import format_table
from playbook.report.tables import HumanTable, column_kind, human_header, human_table, install


class _Cells(HTMLParser):
    """Header and body cell texts of every ``<table>`` in a page, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, list[list[str]]]] = []
        self._part = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"thead": [], "tbody": []})
        elif tag in ("thead", "tbody"):
            self._part = tag
        elif tag == "tr":
            self.tables[-1][self._part].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][self._part][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str) -> list[dict[str, list[list[str]]]]:
    parser = _Cells()
    parser.feed(page)
    return parser.tables


def body(page: str, which: int = 0) -> list[list[str]]:
    return tables(page)[which]["tbody"]


def header(page: str, which: int = 0) -> list[str]:
    return tables(page)[which]["thead"][-1]


def column(page: str, name: str, which: int = 0) -> list[str]:
    i = header(page, which).index(name)
    return [row[i] for row in body(page, which)]


# ------------------------------------------------------------------ cells


def test_numbers_money_percentages_and_ratios() -> None:
    df = pd.DataFrame({
        "revenue": [1234567.4, 12.5], "revenue_share": [0.123, 0.5], "orders": [16023.0, 7.0],
        "roas": [2.5, 0.8], "score": [0.869868, 12.345], "customer_id": [12345, 7], "year": [2025, 2024],
        "p_value": [0.0312, 0.0004], "monetary_value": [85.3, 1500.0], "value": [120.0, 7.0],
    })
    page = human_table(df, currency="EUR").html
    assert column(page, "Revenue") == ["€1,234,567", "€12.50"]
    assert column(page, "Revenue share") == ["12.3%", "50.0%"]
    assert column(page, "Orders") == ["16,023", "7"]
    assert column(page, "ROAS") == ["2.50", "0.80"]
    assert column(page, "Score") == ["0.870", "12.3"]
    assert column(page, "Customer ID") == ["12345", "7"]
    assert column(page, "Year") == ["2025", "2024"]
    assert column(page, "p-value") == ["0.031", "< 0.001"]
    assert column(page, "Monetary value") == ["€85.30", "€1,500"]
    assert column(page, "Value") == ["120", "7"]  # a bare "value" is not assumed to be money


def test_fraction_words_outside_unit_interval_stay_numbers() -> None:
    df = pd.DataFrame({"growth": [0.5, 2.5], "lift": [-0.25, 0.1], "roas_share_of_wallet": [2.5, 3.0]})
    page = human_table(df).html
    assert column(page, "Growth") == ["0.5", "2.5"]  # a number (not 250 %), with the data's one decimal
    assert column(page, "Lift") == ["-25.0%", "10.0%"]
    assert column(page, "ROAS share of wallet") == ["2.50", "3.00"]  # never 250 %


def test_missing_values_booleans_and_dates() -> None:
    df = pd.DataFrame({
        "spend": [np.nan, 10.0, 2000.0], "note": ["ok", None, "x"],
        "significant": [True, False, True], "shipped": [True, None, False],
        "day": pd.to_datetime(["2025-11-28", "2025-11-29", None]),
        "sent_at": pd.to_datetime(["2025-11-28 14:05:33", "2025-11-29 00:00:00", "2025-11-30 09:30:00"]),
    })
    page = human_table(df).html
    assert column(page, "Spend") == ["–", "$10.00", "$2,000"]
    assert column(page, "Note") == ["ok", "–", "x"]
    assert column(page, "Significant") == ["yes", "no", "yes"]
    assert column(page, "Shipped") == ["yes", "–", "no"]
    assert column(page, "Day") == ["2025-11-28", "2025-11-29", "–"]
    assert column(page, "Sent at") == ["2025-11-28 14:05", "2025-11-29 00:00", "2025-11-30 09:30"]
    assert "NaN" not in page and "None" not in page and "True" not in page and "NaT" not in page


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("expected_revenue_low", "Expected revenue low"),
        ("iroas", "iROAS"),
        ("iroas_lo", "iROAS low"),
        ("roas_mean", "ROAS mean"),
        ("marginal_roas_hi", "Marginal ROAS high"),
        ("customer_id", "Customer ID"),
        ("utm_source", "UTM source"),
        ("aov", "AOV"),
        ("clv_decile", "CLV decile"),
        ("mape", "MAPE"),
        ("smape", "SMAPE"),
        ("mase", "MASE"),
        ("cpa", "CPA"),
        ("rfm_segment", "RFM segment"),
        ("srm_p", "SRM p"),
        ("p_value", "p-value"),
        ("cuped_p_value", "CUPED p-value"),
        ("p_alive", "P(alive)"),
        ("p_reach_target", "P(reach target)"),
        ("r2", "R²"),
        ("lo80", "Low 80%"),
        ("planned share", "Planned share"),
        ("P(variant beats control)", "P(variant beats control)"),
        ("MDE", "MDE"),
        (("revenue", "lo"), "Revenue low"),
        (2025, "2025"),
    ],
    ids=lambda v: str(v),
)
def test_headers(label: object, expected: str) -> None:
    assert human_header(label) == expected


def test_column_kind_prefers_the_last_telling_word() -> None:
    assert column_kind("revenue_share", pd.Series([0.2, 0.3])) == "fraction"
    assert column_kind("cost_per_conversion", pd.Series([12.0, 30.0])) == "money"
    assert column_kind("marginal_roas_lo", pd.Series([0.5, 0.9])) == "ratio"
    assert column_kind("incremental_conversions", pd.Series([12.0, 30.0])) == "int"


def test_real_column_names_from_the_sample_artifacts() -> None:
    df = pd.DataFrame({
        "roas_proportional": [25000.0, 7250.5],  # a budget split in proportion to ROAS, not a ratio
        "clv_decile": [2, 10], "days_needed": [np.inf, 12.0], "cumulative_share": [0.0105, 1.0000000001],
        "marginal_roas_recommended_lo": [0.3053, 1.2359], "seg_vip": [False, True],
    })
    page = human_table(df).html
    assert header(page) == ["ROAS proportional", "CLV decile", "Days needed", "Cumulative share",
                            "Marginal ROAS recommended low", "Segment VIP"]
    assert body(page) == [["25,000", "2", "∞", "1.1%", "0.31", "no"], ["7,250", "10", "12", "100.0%", "1.24", "yes"]]


# ------------------------------------------------------------------ index


def test_range_index_hidden() -> None:
    page = human_table(pd.DataFrame({"channel": ["email", "search"], "spend": [100.0, 250.0]})).html
    assert header(page) == ["Channel", "Spend"]
    assert body(page) == [["email", "$100"], ["search", "$250"]]
    assert "row_heading" not in page


def test_leftover_row_numbers_hidden_in_frames_and_stylers() -> None:
    df = pd.DataFrame({"country": ["DE", "US", "GB"], "revenue": [2.0e5, 5.2e5, 2.0e5]})
    ranked = df.sort_values("revenue", ascending=False)  # index 1, 0, 2: row numbers, not data
    for table in (ranked, format_table(ranked, money=["revenue"])):
        page = human_table(table).html
        assert header(page) == ["Country", "Revenue"]
        assert body(page)[0] == ["US", "$520,000"]


def test_rounded_data_keeps_its_decimals() -> None:
    df = pd.DataFrame({"feature": ["a", "b"], "lo95": [0.81, 1.82], "score": [0.869868, 12.345]})
    page = human_table(df).html
    assert column(page, "Low 95%") == ["0.81", "1.82"]  # .round(2) upstream: not "0.810"
    assert column(page, "Score") == ["0.870", "12.3"]


def test_named_and_multi_index_become_columns() -> None:
    df = pd.DataFrame({"spend": [100.0, 250.0]}, index=pd.Index(["email", "search"], name="channel"))
    page = human_table(df).html
    assert header(page) == ["Channel", "Spend"]
    assert body(page) == [["email", "$100"], ["search", "$250"]]
    multi = pd.DataFrame({"orders": [3.0, 4.0]},
                         index=pd.MultiIndex.from_tuples([("DE", "email"), ("DE", "search")], names=["country", None]))
    page = human_table(multi).html
    assert header(page) == ["Country", "Level 1", "Orders"]
    assert body(page) == [["DE", "email", "3"], ["DE", "search", "4"]]
    unnamed = pd.DataFrame({"value": ["Holiday", "USD"]}, index=pd.Index(["campaign", "currency"], name=""))
    page = human_table(unnamed).html
    assert header(page) == ["", "Value"]
    assert body(page) == [["campaign", "Holiday"], ["currency", "USD"]]


# ------------------------------------------------------------------ escaping


def test_everything_escaped() -> None:
    df = pd.DataFrame({"<script>alert(1)</script>": ["<script>alert(2)</script>", "a & b"]},
                      index=pd.Index(["<img src=x onerror=alert(3)>", "y"], name="<b>name</b>"))
    df.columns.name = "<i>cols</i>"
    page = human_table(df).html
    assert not re.search(r"<(script|img|b>|i>)", page, flags=re.IGNORECASE)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(3)&gt;" in page
    assert "&lt;b&gt;name&lt;/b&gt;" in page
    assert body(page)[1] == ["y", "a & b"]  # shown as text, once escaped (no &amp;amp;)


def test_styler_input_escaped_once() -> None:
    df = pd.DataFrame({"<script>x</script>": ["<script>y</script>"], "spend": [5.0]})
    df.columns.name = "<u>n</u>"
    page = human_table(format_table(df, money=["spend"])).html
    assert not re.search(r"<(script|u>)", page, flags=re.IGNORECASE)
    assert "&lt;script&gt;y&lt;/script&gt;" in page
    assert "&amp;lt;" not in page


def test_plain_styler_rows_and_labels_escaped() -> None:
    df = pd.DataFrame({"who": ["<script>a</script>"], "<b>x</b>": ["<i>y</i>"]}).set_index("who")
    page = human_table(df.style).html
    assert not re.search(r"<(script|b>|i>)", page, flags=re.IGNORECASE)
    assert "&lt;script&gt;a&lt;/script&gt;" in page and "&lt;i&gt;y&lt;/i&gt;" in page


# ------------------------------------------------------------------ long tables


def test_collapse_at_thirteen_rows() -> None:
    df = pd.DataFrame({"day": pd.date_range("2025-11-01", periods=13), "orders": np.arange(13) * 1000.0})
    assert "<details" not in human_table(pd.concat([df] * 2).head(20)).html  # the default: whole up to 20 rows
    short = human_table(df.head(12), max_rows=12).html
    assert "<details" not in short and len(tables(short)) == 1 and len(body(short)) == 12
    page = human_table(df, max_rows=12).html
    assert page.count("<details") == 1 and "<summary>All 13 rows</summary>" in page
    top, full = body(page, 0), body(page, 1)
    assert len(top) == 10 and top[0] == ["2025-11-01", "0"] and top[-1] == ["2025-11-10", "9,000"]
    assert len(full) == 13 and full[-1] == ["2025-11-13", "12,000"]
    assert page.index("<table") < page.index("<details") < page.rindex("<table")
    assert page.startswith('<div class="table-scroll">')


def test_disclosure_capped() -> None:
    page = human_table(pd.DataFrame({"n": range(30)}), max_detail_rows=20).html
    assert "<summary>First 20 of 30 rows</summary>" in page and len(body(page, 1)) == 20


# ------------------------------------------------------------------ Styler input


def test_styler_keeps_its_formatting_and_humanises_generic_columns() -> None:
    df = pd.DataFrame({"spend": [1234.4, 20.0], "conv_rate": [0.1234, 0.5], "score": [0.869868, 12.345],
                       "orders": [16023.0, 7.0], "saturation": [0.12345, 1.5], "significant": [True, False]})
    styled = format_table(df, money=["spend"], pct=["conv_rate"], currency="EUR")
    styled = styled.format("{:.2f}", subset=["saturation"])
    page = human_table(styled, currency="EUR").html
    assert header(page) == ["Spend", "Conversion rate", "Score", "Orders", "Saturation", "Significant"]
    assert body(page) == [["€1,234", "12.3%", "0.870", "16,023", "0.12", "yes"],
                          ["€20.00", "50.0%", "12.3", "7", "1.50", "no"]]
    assert "row_heading" not in page
    assert format_table(df).to_html().count("0.869868") == 1  # the caller's Styler is untouched


def test_styler_with_generic_two_decimals_shows_counts_as_counts() -> None:
    # what playbook.steps.context.shown() returns for a table with a missing value
    df = pd.DataFrame({"orders": [16023.0, np.nan], "aov": [85.25, 90.0]})
    styled = df.style.format(precision=2, thousands=",", na_rep="\u2014", escape="html")
    page = human_table(styled).html
    assert body(page) == [["16,023", "$85.25"], ["–", "$90.00"]]


def test_long_styler_collapses() -> None:
    styled = format_table(pd.DataFrame({"spend": np.arange(13) * 100.0}), money=["spend"])
    page = human_table(styled, max_rows=12).html
    assert "<summary>All 13 rows</summary>" in page
    assert body(page, 0)[-1] == ["$900"] and len(body(page, 0)) == 10 and len(body(page, 1)) == 13


# ------------------------------------------------------------------ IPython


@pytest.fixture()
def shell() -> Iterator[InteractiveShell]:
    sh = InteractiveShell.instance()
    display = sh.display_formatter
    assert display is not None
    yield sh
    for mime in ("text/html", "text/plain"):
        for kind in (pd.DataFrame, type(pd.DataFrame().style)):
            display.formatters[mime].pop(kind, None)


def test_install_registers_human_printers(shell: InteractiveShell) -> None:
    df = pd.DataFrame({"revenue": [1500.0, np.nan], "is_new": [True, False]})
    display = shell.display_formatter
    assert display is not None
    before, _ = display.format(df)
    assert "NaN" in before["text/html"] and "True" in before["text/html"]
    install("GBP", shell=shell)
    data, _ = display.format(df)
    def ids_masked(page: str) -> str:  # table ids are random, as pandas' own
        return re.sub(r"T_[0-9a-f]{5}", "T_", page)

    assert ids_masked(data["text/html"]) == ids_masked(human_table(df, "GBP").html)
    assert body(data["text/html"]) == [["£1,500", "yes"], ["–", "no"]]
    assert "NaN" not in data["text/plain"] and "£1,500" in data["text/plain"]
    styled, _ = display.format(format_table(df, money=["revenue"]))
    assert styled["text/plain"] == "Table: 2 rows × 2 columns"
    assert 'class="table-scroll"' in styled["text/html"]


def test_printer_falls_back_to_pandas_when_a_table_cannot_be_humanised(
        shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("cannot")

    install("USD", shell=shell)
    monkeypatch.setattr(tables_module, "human_table", broken)
    display = shell.display_formatter
    assert display is not None
    df = pd.DataFrame({"n": [1.5]})
    data, _ = display.format(df)
    assert data["text/html"] == df._repr_html_() and data["text/plain"] == repr(df)


def test_install_outside_ipython_is_a_no_op() -> None:
    install("USD", shell=object())  # no display_formatter: nothing to register, no error


def test_human_table_is_displayable_and_refuses_other_types() -> None:
    table = human_table(pd.DataFrame({"a": [1]}))
    assert isinstance(table, HumanTable) and table._repr_html_() == table.html and table.rows == 1
    with pytest.raises(TypeError, match="DataFrame or Styler"):
        human_table([1, 2])  # type: ignore[arg-type, unused-ignore]
