"""Behavioural clusters: K-Means with k chosen by silhouette, a Gaussian-mixture comparison,
named cluster profiles and stability across seeds (adjusted Rand index).

Works on the per-customer feature table of :mod:`playbook.customers.features` (pandas, one row per person).

References
----------
Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and validation of
cluster analysis. *J. Comput. Appl. Math.* 20, 53-65.
Hubert, L. & Arabie, P. (1985). Comparing partitions. *J. Classification* 2, 193-218 (ARI).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

#: Clustering inputs: name -> (how it is built from the features, plain-language description).
CLUSTER_FEATURES: dict[str, str] = {
    "log_orders": "log(1 + sale orders, whole history)",
    "log_monetary": "log(1 + net revenue, whole history)",
    "log_aov": "log(1 + average order value)",
    "log_recency": "log(1 + days since last order; days since signup for non-buyers)",
    "discount_share": "share of sales bought on discount",
    "email_open_rate": "opens per delivered email",
    "email_click_rate": "clicks per delivered email",
    "log_sessions": "log(1 + browsing sessions in the last 365 days)",
    "browse_ratio": "sessions without purchase per session (last 365 days)",
    "seasonal_order_share": "share of orders in past holiday seasons",
}

#: Descriptors used to name a cluster from its standout features: (feature, sign) -> words.
DESCRIPTORS: dict[tuple[str, int], str] = {
    ("log_orders", 1): "frequent buyers", ("log_orders", -1): "rare buyers",
    ("log_monetary", 1): "high spenders", ("log_monetary", -1): "low spenders",
    ("log_aov", 1): "big baskets", ("log_aov", -1): "small baskets",
    ("log_recency", 1): "lapsed", ("log_recency", -1): "recently active",
    ("discount_share", 1): "discount-driven", ("discount_share", -1): "full-price",
    ("email_open_rate", 1): "email-engaged", ("email_open_rate", -1): "email-silent",
    ("email_click_rate", 1): "clickers", ("email_click_rate", -1): "non-clickers",
    ("log_sessions", 1): "heavy browsers", ("log_sessions", -1): "rarely online",
    ("browse_ratio", 1): "browse without buying", ("browse_ratio", -1): "buy when they browse",
    ("seasonal_order_share", 1): "holiday shoppers", ("seasonal_order_share", -1): "year-round",
}


def cluster_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The unscaled clustering inputs (:data:`CLUSTER_FEATURES`) built from the feature table."""
    f = features
    recency = f["days_since_last_order"].fillna(f["tenure_days"]).clip(lower=0)
    sessions = f["sessions_365d"] if "sessions_365d" in f else f["sessions_total"]
    browse = f["browse_sessions_without_purchase_365d"] if "browse_sessions_without_purchase_365d" in f \
        else f["browse_sessions_without_purchase_total"]
    out = pd.DataFrame({
        "log_orders": np.log1p(f["orders_total"].clip(lower=0)),
        "log_monetary": np.log1p(f["monetary_total"].clip(lower=0)),
        "log_aov": np.log1p(f["aov"].clip(lower=0)),
        "log_recency": np.log1p(recency),
        "discount_share": f["discount_share"],
        "email_open_rate": f["email_open_rate"],
        "email_click_rate": f["email_click_rate"],
        "log_sessions": np.log1p(sessions.clip(lower=0)),
        "browse_ratio": np.where(sessions > 0, browse / sessions.where(sessions > 0, 1), 0.0),
        "seasonal_order_share": f["seasonal_order_share"],
    }, index=f.index)
    return out.astype("float64").fillna(0.0)


@dataclass
class ClusterResult:
    """Result of :func:`cluster_customers` (learned values end in ``_``)."""

    labels_: pd.Series
    k_: int
    silhouette_by_k_: pd.DataFrame
    comparison_: pd.DataFrame
    stability_: pd.DataFrame
    profiles_: pd.DataFrame
    names_: dict[int, str]
    gmm_labels_: pd.Series
    notes: list[str] = field(default_factory=list)

    @property
    def named_labels_(self) -> pd.Series:
        return self.labels_.map(self.names_)

    @property
    def stability_ari_(self) -> float:
        """Mean ARI between the chosen solution and reruns with other seeds."""
        return float(self.stability_["ari_vs_seed0"].mean()) if len(self.stability_) else float("nan")


def _fit_kmeans(x: np.ndarray, k: int, seed: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)


def choose_k(x: np.ndarray, ks: range, seed: int, sample_size: int = 3000) -> pd.DataFrame:
    """Silhouette (Rousseeuw 1987) of K-Means for each k, on a random sample for speed.

    Returns a frame ``k, silhouette, inertia`` (silhouette on at most ``sample_size`` rows).
    """
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=min(sample_size, len(x)), replace=False)
    xs = x[idx]
    rows = []
    for k in ks:
        if k >= len(xs):
            break
        km = _fit_kmeans(xs, k, seed)
        rows.append({"k": k, "silhouette": float(silhouette_score(xs, km.labels_)), "inertia": float(km.inertia_)})
    return pd.DataFrame(rows, columns=["k", "silhouette", "inertia"])


def cluster_customers(
    features: pd.DataFrame,
    seed: int,
    ks: range = range(3, 10),
    sample_size: int = 3000,
    n_stability_seeds: int = 4,
    fit_size: int = 50_000,
) -> ClusterResult:
    """K-Means segments on standardised behavioural features.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer 360 features (one row per customer).
    seed : int
        Seed of every random step (sampling, K-Means and mixture initialisation).
    ks : range
        Candidate numbers of clusters; the one with the highest silhouette is chosen.
    sample_size : int
        Rows used to compute silhouettes and the model comparison (speed); the final K-Means is
        fitted on all rows.
    n_stability_seeds : int
        Extra seeds for the stability check (ARI of each rerun vs the chosen solution).
    fit_size : int
        Most rows the final K-Means, the Gaussian mixture and the stability reruns are fitted on.
        Up to this many customers every row is used; above it a seeded random sample of
        ``fit_size`` rows is, and every customer is then assigned to the nearest centre
        (``predict``), so the cost beyond the sample is one linear pass (1M customers: ~10 s
        instead of several minutes). Stability ARIs are computed on the fitting rows.

    Returns
    -------
    ClusterResult

    Notes
    -----
    With fewer than ``max(ks.start, 2) * 5`` customers the step does not cluster: every customer
    gets cluster 0 ("all customers") and a note says so (documented fallback).
    """
    x_raw = cluster_matrix(features)
    if len(x_raw) < max(ks.start, 2) * 5:
        return _trivial(features, x_raw)
    # One BLAS/OpenMP thread: on small shared machines oversubscription makes K-Means 10x slower.
    with threadpool_limits(1):
        return _cluster(features, x_raw, seed, ks, sample_size, n_stability_seeds, fit_size)


def _fit_rows(n: int, fit_size: int, seed: int) -> np.ndarray | None:
    """Sorted indices of the rows models are fitted on (``None``: all ``n`` rows)."""
    if n <= fit_size:
        return None
    rng = np.random.default_rng([seed, n])
    return np.sort(rng.choice(n, size=fit_size, replace=False))


def _cluster(features: pd.DataFrame, x_raw: pd.DataFrame, seed: int, ks: range, sample_size: int,
             n_stability_seeds: int, fit_size: int = 50_000) -> ClusterResult:
    x = StandardScaler().fit_transform(x_raw.to_numpy())
    sil = choose_k(x, ks, seed, sample_size)
    k = int(sil.loc[sil["silhouette"].idxmax(), "k"])
    rows = _fit_rows(len(x), fit_size, seed)
    x_fit = x if rows is None else x[rows]
    km = _fit_kmeans(x_fit, k, seed)
    raw = km.labels_ if rows is None else km.predict(x)
    labels = _relabel_by_size(raw)
    gmm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed, n_init=2).fit(x_fit)
    gl = gmm.predict(x)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=min(sample_size, len(x)), replace=False)
    comparison = pd.DataFrame([
        {"method": "K-Means", "k": k, "silhouette": float(silhouette_score(x[idx], labels[idx])),
         "ari_vs_kmeans": 1.0, "largest_cluster_share": float(np.bincount(labels).max() / len(labels))},
        {"method": "Gaussian mixture (full covariance)", "k": k,
         "silhouette": float(silhouette_score(x[idx], gl[idx])) if len(set(gl[idx])) > 1 else float("nan"),
         "ari_vs_kmeans": float(adjusted_rand_score(labels, gl)),
         "largest_cluster_share": float(np.bincount(gl).max() / len(gl))},
    ])
    stab = pd.DataFrame([
        {"seed": seed + i, "ari_vs_seed0": float(adjusted_rand_score(
            km.labels_, _fit_kmeans(x_fit, k, seed + i).labels_))}
        for i in range(1, n_stability_seeds + 1)
    ], columns=["seed", "ari_vs_seed0"])
    profiles = profile_clusters(features, x_raw, labels)
    names = name_clusters(x_raw, labels)
    profiles.insert(0, "name", profiles.index.map(names))
    return ClusterResult(labels_=pd.Series(labels, index=features.index, name="cluster"), k_=k,
                         silhouette_by_k_=sil, comparison_=comparison, stability_=stab,
                         profiles_=profiles, names_=names,
                         gmm_labels_=pd.Series(gl, index=features.index, name="gmm_cluster"))


def _trivial(features: pd.DataFrame, x_raw: pd.DataFrame) -> ClusterResult:
    labels = np.zeros(len(features), dtype=int)
    profiles = profile_clusters(features, x_raw, labels) if len(features) else pd.DataFrame()
    if len(profiles):
        profiles.insert(0, "name", "all customers")
    return ClusterResult(
        labels_=pd.Series(labels, index=features.index, name="cluster"), k_=1,
        silhouette_by_k_=pd.DataFrame(columns=["k", "silhouette", "inertia"]),
        comparison_=pd.DataFrame(columns=["method", "k", "silhouette", "ari_vs_kmeans", "largest_cluster_share"]),
        stability_=pd.DataFrame(columns=["seed", "ari_vs_seed0"]), profiles_=profiles,
        names_={0: "all customers"}, gmm_labels_=pd.Series(labels, index=features.index, name="gmm_cluster"),
        notes=[f"Too few customers ({len(features)}) to cluster: everyone is in one group."])


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1 from largest to smallest (stable, so reruns read the same)."""
    counts = np.bincount(labels)
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    remap = np.empty(len(counts), dtype=int)
    remap[order] = np.arange(len(counts))
    return remap[labels]


def profile_clusters(features: pd.DataFrame, x_raw: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Cluster profile: size, share, and mean of readable features per cluster."""
    f = features
    cols = {"orders_total": "orders", "monetary_total": "revenue", "aov": "AOV",
            "days_since_last_order": "days since last order", "discount_share": "discount share",
            "email_open_rate": "email open rate", "sessions_365d": "sessions (365 d)",
            "seasonal_order_share": "seasonal order share"}
    cols = {k: v for k, v in cols.items() if k in f}
    g = f[list(cols)].groupby(labels)
    prof = g.mean().rename(columns=cols)
    prof.insert(0, "customers", g.size())
    prof.insert(1, "share", prof["customers"] / len(f))
    prof.index.name = "cluster"
    return prof


def name_clusters(x_raw: pd.DataFrame, labels: np.ndarray, n_words: int = 2) -> dict[int, str]:
    """Descriptive names from each cluster's standout features (largest |z| of the cluster mean).

    The z-score of a cluster mean is ``(mean_c - mean) / sd`` over all customers; the ``n_words``
    features with the largest absolute z give the name via :data:`DESCRIPTORS`. Duplicate names
    get a number.
    """
    mu, sd = x_raw.mean(), x_raw.std(ddof=0).replace(0, 1.0)
    z = (x_raw.groupby(labels).mean() - mu) / sd
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    buyers = (x_raw["log_orders"] > 0).groupby(labels).mean()
    for c, row in z.iterrows():
        top = row.abs().sort_values(ascending=False).index[:n_words]
        words = [DESCRIPTORS[(f, 1 if row[f] >= 0 else -1)] for f in top]
        if buyers[c] < 0.1:  # mostly customers who never bought: say so first
            rest = row.drop(["log_orders", "log_monetary", "log_aov", "log_recency"])
            f2 = rest.abs().idxmax()
            words = ["never bought", DESCRIPTORS[(f2, 1 if rest[f2] >= 0 else -1)]]
        name = ", ".join(words).capitalize()
        seen[name] = seen.get(name, 0) + 1
        names[int(c)] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return names
