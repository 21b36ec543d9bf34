"""What every step notebook does first and last: load the run context, and record the run.

A notebook cell calls :func:`start_step` once (config, data source, output folder, theme) and
:func:`finish_step` once (headline numbers for the index page). The appendix shows
:func:`run_info`. Keeping this here keeps the notebooks thin and identical in shape.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from IPython import get_ipython
from IPython.display import Markdown

from playbook import __version__
from playbook.artifacts import write_step_summary
from playbook.config.campaign import CampaignConfig, ComparisonSeason
from playbook.config.loader import load_config
from playbook.data.contract import CONTRACT_HINT
from playbook.data.source import DataSource
from playbook.data.warehouse import Warehouse, calendar_day, connect
from playbook.errors import ConfigError, DataError
from playbook.paths import resolve
from playbook.planning.seasons import default_comparison_seasons, describe_default_comparison
from playbook.report.charts import set_theme
from playbook.report.format import escape_markdown, escaped_style, fmt_money
from playbook.report.index import git_revision
from playbook.report.tables import install as install_tables

#: Tables each step cannot work without (others are optional and degrade gracefully: 04_test
#: without ``assignments`` still sizes the configured experiments and says why nothing is analysed).
STEP_TABLES: dict[str, tuple[str, ...]] = {
    "01_plan": ("customers", "orders"),
    "02_segment": ("customers", "orders"),
    "03_personalize": ("customers", "orders"),
    "04_test": ("customers", "orders"),
    "05_retrospective": ("customers", "orders"),
    "06_track": ("customers", "orders"),
}

#: Steps that have nothing to say without a single order (they refuse with a clear error; 02 and 04
#: still describe the customers and size the experiments).
NEEDS_ORDER_HISTORY: frozenset[str] = frozenset({"01_plan", "03_personalize", "05_retrospective", "06_track"})

#: Packages whose versions the appendix records.
VERSIONED_PACKAGES = ("pandas", "numpy", "ibis-framework", "duckdb", "scikit-learn", "statsmodels",
                      "xgboost", "papermill")


@dataclass
class StepContext:
    """Everything a step notebook needs: config, data source, warehouse, output folder, seed.

    Attributes
    ----------
    step : str
        Step name, e.g. ``"01_plan"``.
    cfg : CampaignConfig
        The validated campaign config; when the file leaves ``comparison_seasons`` out, a copy
        holding the seasons chosen from the data (:func:`resolve_comparison_seasons`).
    wh : Warehouse
        The open connection to the campaign's data (``wh.source is source``).
    output_dir : Path
        The campaign's report folder for this run (artifacts go to ``output_dir / "artifacts"``).
    seed : int
        Random seed for every random step of the notebook.
    config_path : str
        The config path as the notebook was given it.
    source : DataSource
        The data source (location, engine, timezone, encoding); ``source.location`` is where
        ``truth.json`` of synthetic data sits.
    started : float
        Start of the step (Unix time, seconds), for the appendix.
    comparison_note : str
        One sentence on the comparison seasons: chosen from the data, set in the campaign file,
        or none (and why).
    """

    step: str
    cfg: CampaignConfig
    wh: Warehouse
    output_dir: Path
    seed: int
    config_path: str
    source: DataSource
    started: float = field(default_factory=time.time)
    comparison_note: str = ""

    def header(self) -> pd.DataFrame:
        """A small table describing the run, shown at the top of each notebook."""
        c = self.cfg
        rows = [
            ("campaign", f"{c.name} ({c.slug})"),
            ("window", f"{c.season.start:%d %b %Y} to {c.season.end:%d %b %Y}"),
            ("planning cutoff", f"{c.season.planning_cutoff:%d %b %Y}"),
            ("comparison seasons", ", ".join(s.name for s in c.comparison_seasons) or "none"),
            ("countries", ", ".join(c.countries)),
            ("currency", c.currency),
            ("data source", self.source.display()),
            ("tables found", ", ".join(self.wh.available())),
        ]
        ex = self.wh.excluded_orders()
        if ex["orders"]:
            rows.append(("extreme orders left out", f"{ex['orders']:,} above "
                         f"{fmt_money(ex['limit'], c.currency)} (together {fmt_money(ex['revenue'], c.currency)})"))
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def default_output_dir(cfg: CampaignConfig) -> Path:
    """Where an interactive run writes: ``reports/_interactive/<slug>`` (never the published report)."""
    return resolve(Path("reports") / "_interactive" / cfg.slug)


#: The parameters of every step notebook (its cell tagged ``parameters``) and what each must be.
STEP_PARAMETERS: dict[str, str] = {
    "config_path": "text (the campaign file)",
    "data_source": "text (a data folder or connection URL, or empty for the config's data.source)",
    "output_dir": "text (the report folder, or empty for reports/_interactive/<slug>)",
    "seed": "a whole number",
}

#: First line of the cell Papermill injects after the parameters cell
#: (https://papermill.readthedocs.io/en/latest/usage-parameterize.html).
INJECTED_MARK = "# Parameters\n"


def _given(value: Any) -> str:
    """How a parameter value reads in a message: its Python type and value."""
    if isinstance(value, float) and math.isnan(value):
        return "the number nan"
    if value is None or isinstance(value, bool):
        return str(value)
    return f"the {type(value).__name__} {value!r}"


def parameter_problems(config_path: Any, data_source: Any, output_dir: Any, seed: Any) -> list[str]:
    """What is wrong with the values a step notebook was given (papermill ``-p`` reads ``nan``,
    numbers, ``True`` and ``None`` as such, so a text parameter can arrive as a number)."""
    problems = []
    for name, value in (("config_path", config_path), ("data_source", data_source), ("output_dir", output_dir)):
        if not isinstance(value, str | os.PathLike):
            problems.append(f"{name} must be {STEP_PARAMETERS[name]}, got {_given(value)}: papermill's -p turns "
                            f"nan, numbers, True and None into those; pass text with -r {name} VALUE (raw string)")
    if isinstance(config_path, str) and not config_path.strip():
        problems.append("config_path is empty: give the campaign file, e.g. -r config_path campaigns/holiday-2025.yaml")
    ok_seed = (isinstance(seed, int) and not isinstance(seed, bool)) or (isinstance(seed, str) and seed.strip().isdigit())
    if not ok_seed:
        problems.append(f"seed must be {STEP_PARAMETERS['seed']}, got {_given(seed)}: pass e.g. -p seed 42")
    return problems


def _assigned_names(source: str) -> list[str]:
    """Names assigned at the top level of a cell (``x = 1``, ``x: int = 1``); none if it does not parse."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return []
    targets = [t for node in body for t in (node.targets if isinstance(node, ast.Assign) else
                                             [node.target] if isinstance(node, ast.AnnAssign) else [])]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def unknown_parameters(history: Sequence[str]) -> dict[str, str | None]:
    """Names Papermill injected that the notebook's parameters cell does not declare, each with
    the closest declared name (or None).

    ``history`` is the kernel's input history: the injected cell starts with :data:`INJECTED_MARK`
    and follows the parameters cell (Papermill only warns about an unknown name, and the notebook
    then runs on the default of the one meant: a misspelt ``config_path`` runs the default campaign).
    """
    for i in range(len(history) - 1, -1, -1):
        if str(history[i]).startswith(INJECTED_MARK):
            declared = set(_assigned_names(str(history[i - 1])) if i > 0 else []) | set(STEP_PARAMETERS)
            return {n: next(iter(difflib.get_close_matches(n, sorted(declared), n=1, cutoff=0.6)), None)
                    for n in _assigned_names(str(history[i])) if n not in declared}
    return {}


def _kernel_history() -> list[str]:
    """The raw input history of the IPython kernel running this code; empty outside IPython."""
    shell = get_ipython()
    manager = getattr(shell, "history_manager", None)
    return [str(c) for c in getattr(manager, "input_hist_raw", [])]


def check_step_parameters(step: str, config_path: Any, data_source: Any, output_dir: Any, seed: Any,
                     history: Sequence[str] | None = None) -> None:
    """Refuse bad notebook parameters before any work (issue 19, item 13): wrong types
    (:func:`parameter_problems`) and names the notebook does not declare (:func:`unknown_parameters`;
    ``history`` defaults to the kernel's input history).

    Raises
    ------
    ConfigError
        Listing every problem, with the papermill option that fixes it.
    """
    problems = parameter_problems(config_path, data_source, output_dir, seed)
    unknown = unknown_parameters(_kernel_history() if history is None else history)
    problems += [f"unknown parameter {name!r}" + (f" (did you mean {close!r}?)" if close else "")
                 + f": this notebook's parameters are {', '.join(STEP_PARAMETERS)}; a misspelt one is ignored "
                 "and the step would run on the default" for name, close in unknown.items()]
    if problems:
        raise ConfigError(f"Step {step} was given bad parameters:\n" + "\n".join(f"  - {p}" for p in problems))


def start_step(
    step: str,
    config_path: str,
    data_source: str = "",
    output_dir: str = "",
    seed: int = 42,
) -> StepContext:
    """Load the campaign config, connect to the data, check the step's tables, set the theme.

    Parameters
    ----------
    step : str
        Step name, e.g. ``"01_plan"``.
    config_path : str
        Campaign YAML (relative paths are resolved against the project root).
    data_source : str
        Overrides the config's ``data.source`` when not empty (the location only: the time zone
        and encoding always come from the config's ``data`` section; see
        :meth:`DataSource.from_config <playbook.data.source.DataSource.from_config>`).
    output_dir : str
        Report folder to write artifacts into; empty means an interactive run
        (``reports/_interactive/<slug>``). The runner passes its staging folder.
    seed : int
        Random seed for every random step of the notebook.

    Raises
    ------
    ConfigError
        A parameter has the wrong type or the notebook was given one it does not declare
        (:func:`check_step_parameters`), or the config is invalid (every problem listed).
    DataError
        The data source is missing or lacks a table this step needs.
    """
    if step not in STEP_TABLES:
        raise ValueError(f"Unknown step {step!r}. Choose from {list(STEP_TABLES)}")
    check_step_parameters(step, config_path, data_source, output_dir, seed)
    cfg = load_config(config_path)
    source = DataSource.from_config(cfg.data, data_source)
    wh = connect(source)
    missing = [t for t in STEP_TABLES[step] if not wh.has(t)]
    if missing:
        raise DataError(
            f"Step {step} needs table(s) {missing} but {source} has only {wh.available()}. "
            f"Add the missing table(s) ({CONTRACT_HINT}) or point data.source elsewhere."
        )
    if step in NEEDS_ORDER_HISTORY and wh.first_order_ts() is None:
        raise DataError(f"The orders table of {source} has no orders: there is nothing to plan or "
                        "analyse. Export the orders with at least a year of history (`playbook "
                        "validate-data` checks the export).")
    # customers without a country column count for the campaign's first country (data.warehouse)
    wh.default_country = cfg.countries[0]
    # every daily aggregate counts calendar days of the campaign's time zone (issue 16 item 5)
    wh.day_zone = cfg.timezone
    cfg, note = resolve_comparison_seasons(cfg, wh)
    out = Path(output_dir) if output_dir else default_output_dir(cfg)
    (out / "artifacts").mkdir(parents=True, exist_ok=True)
    set_theme()
    install_tables(cfg.currency)  # every table a cell returns, as a person reads it (issue 20 item 3)
    return StepContext(step=step, cfg=cfg, wh=wh, output_dir=out, seed=int(seed),
                       config_path=str(config_path), source=source, comparison_note=note)


def order_days(wh: Warehouse) -> tuple[dt.date | None, dt.date | None]:
    """First and last day with an order, in the warehouse's :attr:`~playbook.data.warehouse.Warehouse.day_zone`
    (one min/max aggregate in the engine); ``(None, None)`` without orders."""
    t = wh.table("orders")
    row = t.aggregate(first=t.order_ts.min(), last=t.order_ts.max()).execute().iloc[0]
    days = []
    for value in (row["first"], row["last"]):
        ts = pd.Timestamp(value) if value is not None and not pd.isna(value) else None
        if ts is not None and ts.tzinfo is None:  # the engine's UTC instants, given back naive
            ts = ts.tz_localize("UTC")
        days.append(calendar_day(ts, wh.day_zone).date() if ts is not None else None)
    return days[0], days[1]


def resolve_comparison_seasons(cfg: CampaignConfig, wh: Warehouse) -> tuple[CampaignConfig, str]:
    """The config with its comparison seasons resolved, and one sentence about them.

    A file that leaves ``comparison_seasons`` out gets the same window 1 to 3 years earlier,
    wherever the order data covers it whole
    (:func:`playbook.planning.seasons.default_comparison_seasons`), in a copy of ``cfg`` (which
    then counts them as set); a file that lists them, or says ``[]``, is returned unchanged.
    """
    if not cfg.comparison_automatic:
        if not cfg.comparison_seasons:
            return cfg, ("The campaign file sets comparison_seasons: [], so nothing is compared with a past "
                         "season.")
        listed = ", ".join(f"{s.name} ({s.start:%d %b %Y} to {s.end:%d %b %Y})" for s in cfg.comparison_seasons)
        return cfg, f"Comparison seasons set in the campaign file: {listed}."
    first, last = order_days(wh)
    chosen = default_comparison_seasons(cfg.season.start, cfg.season.end, first, last, name=cfg.name)
    seasons = [ComparisonSeason(name=n, start=a, end=b) for n, a, b in chosen]
    note = describe_default_comparison(chosen, first, last, cfg.season.start, cfg.season.end)
    return cfg.with_comparison_from_data(seasons), note


def finish_step(ctx: StepContext, headline: Mapping[str, str | float | int | None],
                notes: list[str] | tuple[str, ...] = (), skipped: str | None = None) -> pd.DataFrame:
    """Record the step's headline numbers for the index page and return them as a table.

    ``skipped`` (optional) says why the step had nothing to do; the index then shows the step
    as skipped with that reason, and the run still succeeds.
    """
    extreme = excluded_orders_note(ctx)
    notes = [*notes, extreme] if extreme else list(notes)
    write_step_summary(ctx.output_dir, ctx.step, headline, notes, skipped=skipped)
    return pd.DataFrame({"headline": list(headline.keys()), "value": [str(v) for v in headline.values()]}
                        ).set_index("headline")


def excluded_orders_note(ctx: StepContext) -> str | None:
    """One sentence counting the orders left out as implausibly large (``data.exclude_extreme_orders``;
    :meth:`playbook.data.warehouse.Warehouse.excluded_orders`), or None when none were."""
    ex = ctx.wh.excluded_orders()
    if not ex["orders"]:
        return None
    return (f"{ex['orders']:,} order(s) above {fmt_money(ex['limit'], ctx.cfg.currency)} (together "
            f"{fmt_money(ex['revenue'], ctx.cfg.currency)}) are left out of every figure as implausible; "
            "`playbook validate-data` lists them, and data.exclude_extreme_orders: false keeps them.")


def run_info(ctx: StepContext) -> pd.DataFrame:
    """Run parameters, data source, git revision and package versions (the notebook appendix)."""
    rows: list[tuple[str, str]] = [
        ("step", ctx.step),
        ("config_path", ctx.config_path),
        ("data_source", ctx.source.display()),
        ("output_dir", str(ctx.output_dir)),
        ("seed", str(ctx.seed)),
        ("run at (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")),
        ("step run time", f"{time.time() - ctx.started:.1f} s"),
        ("git revision", git_revision()),
        ("playbook", __version__),
        ("python", platform.python_version()),
    ]
    for pkg in VERSIONED_PACKAGES:
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def md(text: str) -> Markdown:
    """Show generated plain-language text as Markdown in the notebook and its HTML report.

    Names from the campaign file and the data are part of ``text``, so it is escaped first
    (:func:`playbook.report.format.escape_markdown`): no HTML tag, link or math can come from it,
    while emphasis, lists, code spans and a leading ``>`` blockquote still render (issue 19 item 4).
    """
    return Markdown(escape_markdown(text))  # type: ignore[no-untyped-call]  # IPython's Markdown.__init__ is unannotated


def shown(table: pd.DataFrame | None) -> Any:
    """``table`` for display: None (nothing shown) when it has no rows, since a skipped section
    says why in its sentence; missing values as a dash, never ``NaN`` (numbers with two decimals
    and thousands separators then)."""
    if table is None or len(table) == 0:
        return None
    if not table.isna().to_numpy().any():
        return table
    return escaped_style(table).format(precision=2, thousands=",", na_rep="\u2014", escape="html")
