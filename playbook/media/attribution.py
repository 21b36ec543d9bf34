"""Multi-touch attribution: rule-based and data-driven models side by side.

The touch paths and the rule-based credits (first-touch, last-touch, linear, time-decay,
position-based; computed per touch in the engine) come from :func:`playbook.media.paths.build_paths`.
The data-driven models work on the aggregated paths, in pandas:

* Markov chain with removal effect (Anderl, Becker, von Wangenheim & Schumann 2016), order ``k``
  configurable: states are the last ``k`` channels.
* Shapley values (Shapley 1953) over channel sets, with the characteristic function ``v(S)`` =
  conversion rate of journeys whose channel set is exactly ``S`` (exact for up to
  :data:`MAX_EXACT_CHANNELS` channels per set, permutation sampling beyond), or the simplified
  formula of Zhao et al. (2018), ``phi_j = sum_{S containing j} R(S) / |S|``.

:func:`attribute` puts all seven models side by side; :func:`planted_agreement` compares them with
the planted incremental ranking of synthetic data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from playbook.media.paths import (
    CREDIT_COLUMNS,
    PathData,
    check_paths,
    journeys_per_channel,
    path_channels,
)
from playbook.paths import resolve
from playbook.report.charts import empty_chart, money_formatter

#: Models in the order they are shown.
MODELS: tuple[str, ...] = ("first_touch", "last_touch", "linear", "time_decay", "position_based",
                           "markov", "shapley")
RULE_MODELS: tuple[str, ...] = MODELS[:5]
#: Largest channel set whose Shapley values are computed exactly (2**k coalitions).
MAX_EXACT_CHANNELS = 12


# --------------------------------------------------------------------------------------------
# Markov chain
# --------------------------------------------------------------------------------------------
def _states(steps: tuple[str, ...], order: int) -> list[tuple[str, ...]]:
    return [steps[max(0, i - order + 1): i + 1] for i in range(len(steps))]


def markov_transitions(paths: pd.DataFrame, order: int = 1) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Transition probabilities of the order-``order`` Markov chain of the paths.

    Returns
    -------
    states : list of tuple
        Transient states (``("start",)`` first); a state is the last ``order`` channels.
    Q : ndarray
        Transient-to-transient transition probabilities.
    to_conv, to_null : ndarray
        Probability of absorbing into conversion / null from each state.
    """
    df = check_paths(paths)
    start = ("(start)",)
    index: dict[tuple, int] = {start: 0}
    trans: dict[tuple[int, int], float] = {}
    conv: dict[int, float] = {}
    null: dict[int, float] = {}
    for steps, c, n in zip(df["steps"], df["conversions"], df["non_conversions"], strict=True):
        weight = c + n
        if weight <= 0:
            continue
        prev = 0
        for s in _states(steps, order):
            i = index.setdefault(s, len(index))
            trans[(prev, i)] = trans.get((prev, i), 0.0) + weight
            prev = i
        conv[prev] = conv.get(prev, 0.0) + c
        null[prev] = null.get(prev, 0.0) + n
    k = len(index)
    counts = np.zeros((k, k))
    for (a, b), w in trans.items():
        counts[a, b] += w
    tc = np.array([conv.get(i, 0.0) for i in range(k)])
    tn = np.array([null.get(i, 0.0) for i in range(k)])
    out = counts.sum(axis=1) + tc + tn
    safe = np.where(out > 0, out, 1.0)
    states = sorted(index, key=lambda s: index[s])
    return states, counts / safe[:, None], tc / safe, tn / safe


def _p_conversion(Q: np.ndarray, to_conv: np.ndarray, removed: np.ndarray | None = None) -> float:
    """Probability of reaching conversion from state 0; ``removed`` states absorb into null."""
    Q = Q.copy()
    r = to_conv.copy()
    if removed is not None and removed.any():
        Q[:, removed] = 0.0
        Q[removed, :] = 0.0
        r[removed] = 0.0
    x = np.linalg.solve(np.eye(len(r)) - Q, r)
    return float(x[0])


def markov_removal_effects(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """Removal effect of each channel in a Markov chain of the paths (Anderl et al. 2016).

    The removal effect of channel ``c`` is ``1 - P(conv | c removed) / P(conv)``, where removing
    ``c`` sends every journey that reaches a state containing ``c`` to "no conversion".

    Parameters
    ----------
    paths : DataFrame
        ``path``, ``conversions`` and ``non_conversions`` (journeys without conversion).
    order : int
        Markov order: how many previous channels define a state (1 = first order).

    Returns
    -------
    DataFrame
        ``channel, removal_effect, share`` (share = removal effect / sum of removal effects;
        0 for all when no journey converts), sorted by channel. ``attrs["p_conversion"]`` holds
        the chain's overall conversion probability.
    """
    if order < 1:
        raise ValueError(f"Markov order must be at least 1, got {order}")
    chans = path_channels(paths)
    if not chans:
        return pd.DataFrame({"channel": pd.Series(dtype=object), "removal_effect": pd.Series(dtype=float),
                             "share": pd.Series(dtype=float)})
    states, Q, to_conv, _ = markov_transitions(paths, order)
    base = _p_conversion(Q, to_conv)
    rows = []
    for ch in chans:
        removed = np.array([ch in s for s in states])
        p = _p_conversion(Q, to_conv, removed)
        rows.append({"channel": ch, "removal_effect": 0.0 if base <= 0 else 1.0 - p / base})
    out = pd.DataFrame(rows)
    total = out["removal_effect"].sum()
    out["share"] = out["removal_effect"] / total if total > 0 else 0.0
    out.attrs["p_conversion"] = base
    return out


def markov_attribution(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """Conversions, revenue and new customers shared out by Markov removal effect.

    Returns
    -------
    DataFrame
        ``channel, conversions, revenue, new_customers`` (each the channel's share of the totals).
    """
    eff = markov_removal_effects(paths, order)
    df = check_paths(paths)
    totals = {c: float(df[c].sum()) if c in df.columns else 0.0
              for c in ("conversions", "revenue", "new_customers")}
    return pd.DataFrame({"channel": eff["channel"],
                         **{c: eff["share"].to_numpy() * v for c, v in totals.items()}})


# --------------------------------------------------------------------------------------------
# Shapley values
# --------------------------------------------------------------------------------------------
def _set_table(paths: pd.DataFrame) -> pd.DataFrame:
    """Journeys per channel set: ``set`` (frozenset), ``conversions``, ``non_conversions``,
    ``revenue``, ``new_customers``; one row per set, sorted by the set's sorted channel names (a
    total order: frozensets compare by inclusion, and their hashes change with PYTHONHASHSEED)."""
    df = check_paths(paths)
    if "new_customers" not in df.columns:
        df["new_customers"] = 0.0
    df["key"] = df["steps"].map(lambda s: "\t".join(sorted(set(s))))
    out = df.groupby("key", as_index=False, sort=True)[["conversions", "non_conversions", "revenue",
                                                        "new_customers"]].sum()
    out.insert(0, "set", out.pop("key").map(lambda k: frozenset(k.split("\t"))))
    return out


def conversion_rate_game(paths: pd.DataFrame) -> dict[frozenset, float]:
    """Characteristic function ``v(S)``: conversion rate of journeys with channel set exactly ``S``.

    Only sets seen in the data are returned; :func:`shapley_values` fills the others.
    """
    sets = _set_table(paths)
    n = sets["conversions"] + sets["non_conversions"]
    sets = sets[n > 0]
    return dict(zip(sets["set"], sets["conversions"] / (sets["conversions"] + sets["non_conversions"]),
                    strict=True))


def _filled_value(v: dict[frozenset, float], s: frozenset, cache: dict) -> float:
    """``v(s)`` when observed, else the best observed value of a subset (monotone fill); v(∅)=0."""
    if s in cache:
        return cache[s]
    if not s:
        val = 0.0
    elif s in v:
        val = v[s]
    else:
        val = max(_filled_value(v, s - {c}, cache) for c in s)
    cache[s] = val
    return val


def shapley_values(players: Iterable[str], value: Callable[[frozenset[str]], float], n_permutations: int = 2000,
                   seed: int = 0) -> dict[str, float]:
    """Shapley values of a cooperative game restricted to ``players`` (Shapley 1953).

    Exact (sum over coalitions, weight ``|T|! (n-|T|-1)! / n!``) for up to
    :data:`MAX_EXACT_CHANNELS` players; otherwise the mean marginal contribution over
    ``n_permutations`` random orderings drawn with ``seed``.

    Parameters
    ----------
    players : iterable of str
    value : callable
        ``value(frozenset) -> float`` with ``value(frozenset()) == 0`` expected.
    """
    ps = sorted(set(players))
    n = len(ps)
    out = dict.fromkeys(ps, 0.0)
    if n == 0:
        return out
    if n <= MAX_EXACT_CHANNELS:
        fact = [math.factorial(i) for i in range(n + 1)]
        for p in ps:
            others = [q for q in ps if q != p]
            tot = 0.0
            for k in range(n):
                w = fact[k] * fact[n - k - 1] / fact[n]
                for t in combinations(others, k):
                    ts = frozenset(t)
                    tot += w * (value(ts | {p}) - value(ts))
            out[p] = tot
        return out
    rng = np.random.default_rng(seed)
    for _ in range(n_permutations):
        perm = rng.permutation(ps)
        cur: frozenset = frozenset()
        prev = value(cur)
        for p in perm:
            cur = cur | {p}
            val = value(cur)
            out[p] += (val - prev) / n_permutations
            prev = val
    return out


def shapley_attribution(paths: pd.DataFrame, method: str = "conversion_rate",
                        seed: int = 0) -> pd.DataFrame:
    """Conversions, revenue and new customers credited by Shapley values over channel sets.

    Parameters
    ----------
    paths : DataFrame
        ``path, conversions, non_conversions`` (and optionally ``revenue``, ``new_customers``).
    method : {"conversion_rate", "simplified"}
        ``"conversion_rate"``: for each converting channel set ``S``, the Shapley values of the
        game ``v(T)`` = conversion rate of journeys with exactly set ``T`` (``T`` a subset of
        ``S``; unseen sets take the best value of a seen subset, ``v(∅) = 0``) split the
        conversions of ``S``; negative values are set to 0 before normalising, and a set whose
        values are all 0 is split equally. ``"simplified"``: Zhao et al. (2018),
        ``phi_j = sum over sets S containing j of R(S) / |S|`` with ``R(S)`` the conversions of
        set ``S`` (needs no non-converting journeys).
    seed : int
        Seed of the permutation sampling used for sets larger than :data:`MAX_EXACT_CHANNELS`.

    Returns
    -------
    DataFrame
        ``channel, conversions, revenue, new_customers``.
    """
    if method not in ("conversion_rate", "simplified"):
        raise ValueError(f"Unknown Shapley method {method!r}. Choose from ['conversion_rate', 'simplified']")
    sets = _set_table(paths)
    chans = sorted({c for s in sets["set"] for c in s})
    credit = {c: np.zeros(3) for c in chans}
    v = conversion_rate_game(paths) if method == "conversion_rate" else {}
    cache: dict = {}
    for s, conv, rev, new in zip(sets["set"], sets["conversions"], sets["revenue"], sets["new_customers"],
                                 strict=True):
        if conv <= 0:
            continue
        if method == "simplified":
            share = dict.fromkeys(s, 1.0 / len(s))
        else:
            phi = shapley_values(s, lambda t: _filled_value(v, t, cache), seed=seed)
            pos = {k: max(x, 0.0) for k, x in phi.items()}
            tot = sum(pos.values())
            share = {k: x / tot for k, x in pos.items()} if tot > 0 else dict.fromkeys(s, 1.0 / len(s))
        for k, x in share.items():
            credit[k] += x * np.array([conv, rev, new])
    return pd.DataFrame([{"channel": c, "conversions": a[0], "revenue": a[1], "new_customers": a[2]}
                         for c, a in credit.items()], columns=["channel", "conversions", "revenue",
                                                               "new_customers"])


# --------------------------------------------------------------------------------------------
# Side by side
# --------------------------------------------------------------------------------------------
def rule_based_from_paths(paths: pd.DataFrame) -> pd.DataFrame:
    """First/last/linear/position-based credit from aggregated paths (no time decay: no ages).

    A pandas reference for the engine-side credits of :func:`build_paths`.
    """
    df = check_paths(paths)
    rows: dict[tuple[str, str], float] = {}
    for steps, c in zip(df["steps"], df["conversions"], strict=True):
        n = len(steps)
        for i, ch in enumerate(steps):
            w = {"first_touch": float(i == 0), "last_touch": float(i == n - 1), "linear": 1.0 / n,
                 "position_based": 1.0 if n == 1 else 0.5 if n == 2 else
                 (0.4 if i in (0, n - 1) else 0.2 / (n - 2))}
            for m, x in w.items():
                rows[(m, ch)] = rows.get((m, ch), 0.0) + x * c
    return pd.DataFrame([{"model": m, "channel": ch, "conversions": x} for (m, ch), x in rows.items()])


def attribute(data: PathData, markov_order: int = 1, shapley_method: str = "conversion_rate",
              seed: int = 0) -> pd.DataFrame:
    """All seven models side by side in long form.

    Returns
    -------
    DataFrame
        ``model, channel, conversions, revenue, new_customers, share`` (share of the model's
        conversions), one row per model and channel seen in any path; 0 where a model gives a
        channel nothing. Empty (with these columns) when there is no path.
    """
    parts = [data.rule_credit]
    if not data.paths.empty and data.total_conversions > 0:
        parts.append(markov_attribution(data.paths, markov_order).assign(model="markov"))
        parts.append(shapley_attribution(data.paths, shapley_method, seed=seed).assign(model="shapley"))
    df = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(
        not p.empty for p in parts) else pd.DataFrame(columns=CREDIT_COLUMNS)
    cols = ["model", "channel", "conversions", "revenue", "new_customers", "share"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("model", "channel") else float) for c in cols})
    chans = sorted(set(df["channel"]) | set(path_channels(data.paths) if not data.paths.empty else []))
    grid = pd.MultiIndex.from_product([[m for m in MODELS if m in set(df["model"])], chans],
                                      names=["model", "channel"]).to_frame(index=False)
    df = grid.merge(df, on=["model", "channel"], how="left")
    df[["conversions", "revenue", "new_customers"]] = df[["conversions", "revenue", "new_customers"]].astype(
        float).fillna(0.0)
    tot = df.groupby("model")["conversions"].transform("sum")
    df["share"] = np.where(tot > 0, df["conversions"] / tot.where(tot > 0, 1.0), 0.0)
    return df[cols]


def comparison_table(long: pd.DataFrame, value: str = "conversions") -> pd.DataFrame:
    """Wide table: one row per channel, one column per model (``value``), sorted by Shapley."""
    if long.empty:
        return pd.DataFrame(columns=["channel", *MODELS]).set_index("channel")
    wide = long.pivot_table(index="channel", columns="model", values=value, aggfunc="sum", fill_value=0.0)
    wide = wide[[m for m in MODELS if m in wide.columns]]
    key = "shapley" if "shapley" in wide.columns else wide.columns[-1]
    return wide.sort_values(key, ascending=False)


def rank_agreement(long: pd.DataFrame, true_rank: dict[str, int], per_exposure: pd.Series | None = None,
                   value: str = "conversions") -> pd.DataFrame:
    """Spearman rank correlation of each model's channel ranking with a planted ranking.

    Parameters
    ----------
    long : DataFrame
        Output of :func:`attribute`.
    true_rank : dict
        ``{channel: rank}`` with 1 = most incremental (e.g. ``truth["touch_model"]["incremental_rank"]``).
    per_exposure : Series, optional
        Journeys containing each channel; when given, credit is divided by it first (credit per
        journey the channel appears in), which compares effectiveness rather than reach.

    Returns
    -------
    DataFrame
        ``model, spearman, channels`` (channels present in both), in :data:`MODELS` order.
    """
    rows = []
    for m in [m for m in MODELS if m in set(long["model"])]:
        sub = long[long["model"] == m].set_index("channel")[value]
        common = [c for c in sub.index if c in true_rank]
        if per_exposure is not None:
            common = [c for c in common if per_exposure.get(c, 0) > 0]
        if len(common) < 3:
            rows.append({"model": m, "spearman": 0.0, "channels": len(common)})
            continue
        score = sub[common].astype(float)
        if per_exposure is not None:
            score = score / per_exposure[common].astype(float)
        rho = spearmanr(score.to_numpy(), [-true_rank[c] for c in common]).statistic
        rows.append({"model": m, "spearman": float(0.0 if np.isnan(rho) else rho), "channels": len(common)})
    return pd.DataFrame(rows, columns=["model", "spearman", "channels"])


def plot_attribution(long: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Grouped bars: revenue credited to each channel by each model."""
    fig, ax = plt.subplots(figsize=(11, 4.8))
    if long.empty or long["revenue"].abs().sum() == 0:
        empty_chart(ax, "No attributed conversions in the window")
        return fig
    wide = comparison_table(long, "revenue")
    models = list(wide.columns)
    x = np.arange(len(wide))
    width = 0.8 / len(models)
    tab10 = plt.get_cmap("tab10")
    colors = [tab10(i) for i in range(tab10.N)]
    for i, m in enumerate(models):
        ax.bar(x + (i - (len(models) - 1) / 2) * width, wide[m], width, label=m.replace("_", " "),
               color=colors[i % len(colors)])
    ax.set_xticks(x, [c.replace("_", " ") for c in wide.index])
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Revenue credited to each channel, by attribution model")
    ax.set_xlabel("touch channel")
    ax.set_ylabel(f"attributed revenue in the window ({currency})")
    ax.legend(ncols=4, frameon=False, fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def describe_attribution(long: pd.DataFrame, agreement: pd.DataFrame | None = None) -> str:
    """One or two sentences on how the models disagree (Markdown)."""
    if long.empty or long["conversions"].sum() <= 0:
        return "No order in the window had a touch before it, so no channel can be credited."
    wide = comparison_table(long, "share")
    lt = wide["last_touch"] if "last_touch" in wide.columns else None
    dd = wide["shapley"] if "shapley" in wide.columns else wide.iloc[:, -1]
    top = dd.idxmax()
    text = f"The Shapley model credits **{top.replace('_', ' ')}** most ({dd[top]:.0%} of conversions)"
    if lt is not None:
        diff = (dd - lt)
        up, down = diff.idxmax(), diff.idxmin()
        text += (f"; against last-touch it gains most for **{up.replace('_', ' ')}** "
                 f"({lt[up]:.0%} → {dd[up]:.0%}) and loses most for **{down.replace('_', ' ')}** "
                 f"({lt[down]:.0%} → {dd[down]:.0%}).")
    else:
        text += "."
    if agreement is not None and not agreement.empty:
        best = agreement.sort_values("spearman", ascending=False).iloc[0]
        text += (f" Against the planted incremental ranking, **{best['model'].replace('_', ' ')}** agrees best "
                 f"(Spearman {best['spearman']:.2f}).")
    return text


def planted_agreement(long: pd.DataFrame, data: PathData, data_source: str) -> pd.DataFrame:
    """Rank agreement with the planted incremental ranking, when the data source is synthetic.

    Reads ``truth.json`` beside the data (written by ``playbook generate-data``) and compares each
    model's credit *per journey the channel appears in* with ``touch_model.incremental_rank``.

    Returns
    -------
    DataFrame
        :func:`rank_agreement` output; empty for real data (no ``truth.json``).
    """
    empty = pd.DataFrame(columns=["model", "spearman", "channels"])
    try:
        path = resolve(str(data_source)) / "truth.json"
    except Exception:  # noqa: BLE001 - URLs have no truth file
        return empty
    if not path.is_file() or long.empty:
        return empty
    ranks = json.loads(path.read_text()).get("touch_model", {}).get("incremental_rank")
    if not ranks:
        return empty
    return rank_agreement(long, ranks, per_exposure=journeys_per_channel(data.paths))


def describe_agreement(agreement: pd.DataFrame) -> str:
    """Sentence giving each model's rank correlation with the planted contributions (Markdown)."""
    if agreement.empty:
        return ("No planted truth is available for this data source (real data), so the models cannot be "
                "checked against known contributions.")
    parts = [f"{m.replace('_', ' ')} {r:+.2f}" for m, r in zip(agreement["model"], agreement["spearman"], strict=True)]
    return ("Spearman rank correlation between each model's credit per journey and the planted incremental "
            "ranking of the channels (1 = same order): " + ", ".join(parts) + ".")
