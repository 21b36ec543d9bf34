"""Products (co-purchase clusters) and customer accounts: archetypes with BG/NBD and
Gamma-Gamma parameters, planted duplicate accounts and contact defects, and their Arrow tables
(``customers``, ``products``, ``truth_customers``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from playbook.data.contract import TOUCH_CHANNELS
from playbook.data.synth.params import (
    ARCHETYPES,
    CATEGORIES,
    COUNTRIES,
    DEFECT_RATES,
    FIRST_NAMES,
    GG_P,
    GG_Q,
    GIFT_WRAP_PRICE,
    PHONE_PREFIX,
    PRODUCTS_PER_CLUSTER,
    PROFILES,
    Arrays,
)
from playbook.data.synth.util import _ids, _take, _ts, _width


def _products(rng: np.random.Generator) -> Arrays:
    """~300 products in co-purchase clusters, sorted by (cluster, price); last one is gift wrap."""
    cats, clusters, prices = [], [], []
    cluster_id = 0
    for ci, (n_cl, lo, hi) in enumerate(CATEGORIES.values()):
        for _ in range(n_cl):
            p = np.exp(rng.uniform(np.log(lo), np.log(hi), PRODUCTS_PER_CLUSTER))
            prices.append(np.sort(np.round(p, 2)))
            cats.append(np.full(PRODUCTS_PER_CLUSTER, ci))
            clusters.append(np.full(PRODUCTS_PER_CLUSTER, cluster_id))
            cluster_id += 1
    price = np.concatenate(prices)
    cat = np.concatenate(cats)
    cluster = np.concatenate(clusters)
    names = np.array([f"{list(CATEGORIES)[c].capitalize()} item {i + 1:03d}"
                      for i, c in enumerate(cat)] + ["Gift wrap service"], dtype=object)
    popularity = rng.zipf(1.6, len(price)).clip(1, 50).astype(float)  # within-cluster popularity
    return {
        "price": np.r_[price, GIFT_WRAP_PRICE],
        "category": np.r_[cat, len(CATEGORIES)],
        "cluster": np.r_[cluster, -1],
        "name": names,
        "popularity": np.r_[popularity, 0.0],
        "n_clusters": np.int64(cluster_id),
        "cluster_category": np.array([c for c, (n, _, _) in enumerate(CATEGORIES.values())
                                      for _ in range(n)]),
        "gift_wrap": np.int64(len(price)),
    }


def _customers(rng: np.random.Generator, n: int, n_days: int, prod: Arrays) -> Arrays:
    """Accounts (people + planted duplicate accounts) with planted parameters."""
    n_dup_e = int(round(DEFECT_RATES["duplicate_email"] * n))
    n_dup_p = int(round(DEFECT_RATES["duplicate_phone"] * n))
    n_people = n - n_dup_e - n_dup_p
    countries = np.array(list(COUNTRIES))
    arch_names = list(ARCHETYPES)
    shares = np.array([ARCHETYPES[a]["share"] for a in arch_names])
    country = rng.choice(len(countries), n_people, p=np.array(list(COUNTRIES.values())))
    arch = rng.choice(len(arch_names), n_people, p=shares / shares.sum())
    pre = rng.random(n_people) < 0.35
    signup = np.where(pre, -rng.uniform(0, 3 * 365, n_people),
                      rng.random(n_people) ** (1 / 1.3) * (n_days - 20))
    # Duplicate accounts: later accounts of existing people (disjoint sets of people).
    email_missing = rng.random(n_people) < DEFECT_RATES["missing_email"]
    email_invalid = ~email_missing & (rng.random(n_people) < DEFECT_RATES["invalid_email"] * 1.03)
    phone_missing = rng.random(n_people) < DEFECT_RATES["missing_phone"]
    order = rng.permutation(n_people)
    ok_e = order[~(email_missing | email_invalid)[order]]
    dup_e_person = np.sort(ok_e[:n_dup_e])
    rest = np.setdiff1d(order, dup_e_person, assume_unique=True)
    rest = rng.permutation(rest)
    dup_p_person = np.sort(rest[~phone_missing[rest]][:n_dup_p])
    person = np.r_[np.arange(n_people), dup_e_person, dup_p_person]
    kind = np.r_[np.zeros(n_people, int), np.ones(len(dup_e_person), int), np.full(len(dup_p_person), 2)]
    n_all = len(person)
    room = np.maximum(n_days - 2 - np.maximum(signup[person], 0), 1.0)
    dup_signup = np.maximum(signup[person], 0) + rng.uniform(0.2, 1.0, n_all) * room
    signup_all = np.where(kind == 0, signup[person], dup_signup)
    arch_all = np.where(kind == 0, arch[person], arch_names.index("one_time"))
    c = {
        "person": person, "kind": kind, "country": country[person], "archetype": arch_all,
        "signup": signup_all, "email_missing": email_missing[person] & (kind == 0),
        "email_invalid": email_invalid[person] & (kind == 0),
        "phone_missing": np.where(kind == 0, phone_missing[person], False),
    }
    # Dup-email accounts: fresh phone or no phone.
    c["phone_missing"] |= (kind == 1) & (rng.random(n_all) < 0.5)
    _behaviour(rng, c, arch_names, prod)
    return c


def _behaviour(rng: np.random.Generator, c: Arrays, arch_names: list[str], prod: Arrays) -> None:
    """Per-account planted behaviour: BG/NBD lambda/p, Gamma-Gamma nu, engagement, clusters."""
    n = len(c["person"])
    a_idx = c["archetype"]
    get = {k: np.array([ARCHETYPES[a][k] for a in arch_names]) for k in
           ("r", "alpha", "a", "b", "spend", "promo", "click", "browse", "refund")}
    c["lam"] = rng.gamma(get["r"][a_idx], 1.0 / get["alpha"][a_idx])
    c["p"] = rng.beta(get["a"][a_idx], get["b"][a_idx])
    gamma_rate = get["spend"][a_idx] * (GG_Q - 1) / GG_P  # E[p/nu] = spend
    c["nu"] = rng.gamma(GG_Q, 1.0 / gamma_rate)
    c["mean_spend"] = GG_P / c["nu"]
    c["promo"] = get["promo"][a_idx]
    c["click"] = get["click"][a_idx]
    c["browse"] = get["browse"][a_idx]
    c["refund"] = get["refund"][a_idx]
    oa = np.array([ARCHETYPES[a]["open"][0] for a in arch_names])[a_idx]
    ob = np.array([ARCHETYPES[a]["open"][1] for a in arch_names])[a_idx]
    c["open_p"] = rng.beta(oa, ob)
    c["pref_hour"] = rng.choice(24, n, p=_pref_hour_weights())
    c["profile"] = np.array([PROFILES.index(ARCHETYPES[a]["profile"]) for a in arch_names])[a_idx]
    # Favourite co-purchase clusters drawn from archetype category affinity.
    c["fav"] = np.stack([_draw_cluster(rng, a_idx, arch_names, prod) for _ in range(2)], axis=1)


def _pref_hour_weights() -> np.ndarray:
    w = np.array([.3, .2, .1, .1, .1, .2, 1, 2.5, 3, 2, 1.5, 1.5, 2.5, 2, 1.2, 1, 1, 1.5, 2.5,
                  3.5, 4, 3.5, 2, 1])
    return np.asarray(w / w.sum())


def _draw_cluster(rng: np.random.Generator, a_idx: np.ndarray, arch_names: list[str], prod: Arrays) -> np.ndarray:
    aff = np.array([ARCHETYPES[a]["affinity"] for a in arch_names], dtype=float)
    aff /= aff.sum(axis=1, keepdims=True)
    cum = aff.cumsum(axis=1)[a_idx]
    cat = (rng.random(len(a_idx))[:, None] > cum).sum(axis=1).clip(0, len(CATEGORIES) - 1)
    cl_cat = prod["cluster_category"]
    first = np.searchsorted(cl_cat, np.arange(len(CATEGORIES)))
    count = np.bincount(cl_cat, minlength=len(CATEGORIES))
    return np.asarray(first[cat] + (rng.random(len(a_idx)) * count[cat]).astype(np.int64))


def _customer_table(rng: np.random.Generator, c: Arrays, origin_us: int, n_days: int) -> pa.Table:
    n = len(c["person"])
    w = _width(n)
    cid = _ids("C", np.arange(n) + 1, w)
    person = c["person"]
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), person.max() + 1)][person]
    first_arr = pa.array(first, pa.string())
    num = pc.cast(pa.array(person + 1000), pa.string())
    domain = _take(np.array(["example.com", "example.org", "example.net"], dtype=object),
                   rng.integers(0, 3, person.max() + 1)[person])
    base_email = pc.binary_join_element_wise(pc.utf8_lower(first_arr), ".", num, "@", domain, "")
    kind = c["kind"]
    # Dup-email accounts: same address, different case/whitespace.
    variant = rng.integers(0, 4, n)
    upper = pc.utf8_upper(base_email)
    title = pc.utf8_capitalize(base_email)
    spaced = pc.binary_join_element_wise(" ", base_email, "  ", "")
    dup_e = pc.if_else(pa.array(variant == 0), upper, pc.if_else(pa.array(variant == 1), title,
                        pc.if_else(pa.array(variant == 2), spaced, pc.binary_join_element_wise(base_email, " ", ""))))
    fresh = pc.binary_join_element_wise(pc.utf8_lower(first_arr), ".n", pc.cast(pa.array(np.arange(n)), pa.string()),
                                        "@example.net", "")
    email = pc.if_else(pa.array(kind == 1), dup_e, pc.if_else(pa.array(kind == 2), fresh, base_email))
    # Invalid emails (unique, three forms).
    inv_kind = rng.integers(0, 3, n)
    local = pc.binary_join_element_wise(pc.utf8_lower(first_arr), ".", num, "")
    inv = pc.if_else(pa.array(inv_kind == 0), pc.replace_substring(base_email, "@", "."),
                     pc.if_else(pa.array(inv_kind == 1), pc.binary_join_element_wise(local, "@", ""),
                                pc.replace_substring(base_email, "@", "@@")))
    email = pc.if_else(pa.array(c["email_invalid"]), inv, email)
    miss_e = np.flatnonzero(c["email_missing"])
    blank_e = np.zeros(n, bool)
    if len(miss_e):
        blank_e[miss_e[0]] = True  # exactly one blank: duplicates unambiguous either way
    email = pc.if_else(pa.array(blank_e), pa.scalar("  "), email)
    email = pc.if_else(pa.array(c["email_missing"] & ~blank_e), pa.scalar(None, pa.string()), email)
    # Phones: unique national numbers; dup-phone accounts reformat the person's number.
    cc = _take(np.array([PHONE_PREFIX[k] for k in COUNTRIES], dtype=object), c["country"])
    perm = rng.permutation(person.max() + 1)
    national = np.where(kind == 1, 8_000_000_000 + np.arange(n), 7_000_000_000 + perm[person])
    nat = pc.cast(pa.array(national), pa.string())
    compact = pc.binary_join_element_wise("+", cc, nat, "")
    pretty = pc.binary_join_element_wise("+", cc, " (", pc.utf8_slice_codeunits(nat, 0, 3), ") ",
                                         pc.utf8_slice_codeunits(nat, 3, 6), "-",
                                         pc.utf8_slice_codeunits(nat, 6, 10), "")
    spaced_p = pc.binary_join_element_wise("+", cc, " ", pc.utf8_slice_codeunits(nat, 0, 5), " ",
                                           pc.utf8_slice_codeunits(nat, 5, 10), "")
    pv = rng.integers(0, 2, n)
    phone = pc.if_else(pa.array(kind == 2), pc.if_else(pa.array(pv == 0), pretty, spaced_p), compact)
    miss_p = np.flatnonzero(c["phone_missing"])
    blank_p = np.zeros(n, bool)
    if len(miss_p):
        blank_p[miss_p[0]] = True
    phone = pc.if_else(pa.array(blank_p), pa.scalar(" "), phone)
    phone = pc.if_else(pa.array(c["phone_missing"] & ~blank_p), pa.scalar(None, pa.string()), phone)
    # Other attributes (copied from the person for duplicate accounts).
    p_n = person.max() + 1
    fn_missing = (rng.random(p_n) < DEFECT_RATES["missing_first_name"])[person]
    first_name = pc.if_else(pa.array(fn_missing), pa.scalar(None, pa.string()), first_arr)
    by = rng.integers(1950, 2007, p_n)[person]
    by_missing = (rng.random(p_n) < DEFECT_RATES["missing_birth_year"])[person]
    gender = rng.choice(3, p_n, p=[0.5, 0.47, 0.03])[person]
    g_missing = (rng.random(p_n) < DEFECT_RATES["missing_gender"])[person]
    acq_p = np.array([.22, .15, .05, .08, .07, .25, .18])
    acq = rng.choice(len(TOUCH_CHANNELS), n, p=acq_p / acq_p.sum())
    return pa.table({
        "customer_id": cid,
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "country": _take(np.array(list(COUNTRIES), dtype=object), c["country"]),
        "signup_ts": _ts(c["signup"], origin_us),
        "birth_year": pa.array(by.astype(np.int64), pa.int64(), mask=by_missing),
        "gender": _take(np.array(["f", "m", "x", None], dtype=object), np.where(g_missing, 3, gender)),
        "acquisition_channel": _take(np.array(TOUCH_CHANNELS, dtype=object), acq),
        "consent_email": pa.array(c["consent_email"]),
        "consent_ads": pa.array(c["consent_ads"]),
        "erased_at": _ts(np.where(np.isfinite(c["erased"]), c["erased"], 0), origin_us,
                         valid=np.isfinite(c["erased"])),
    })


def _product_table(prod: Arrays) -> pa.Table:
    n_p = len(prod["price"])
    cat_names = np.array(list(CATEGORIES) + ["services"], dtype=object)
    return pa.table({"product_id": _ids("P", np.arange(n_p) + 1, 4), "name": pa.array(prod["name"], pa.string()),
                     "category": _take(cat_names, prod["category"]), "price": pa.array(prod["price"])})


def _truth_customers(c: Arrays, p_buy: np.ndarray, w_c: int) -> pa.Table:
    arch = np.array(list(ARCHETYPES), dtype=object)
    n = len(c["person"])
    return pa.table({
        "customer_id": _ids("C", np.arange(n) + 1, w_c),
        "person_id": _ids("C", np.where(c["kind"] == 0, np.arange(n), c["person"]) + 1, w_c),
        "archetype": _take(arch, c["archetype"]),
        "country": _take(np.array(list(COUNTRIES), dtype=object), c["country"]),
        "bgnbd_lambda_per_week": pa.array(c["lam"]),
        "bgnbd_dropout_p": pa.array(c["p"]),
        "p_buy_window": pa.array(p_buy),
        "mean_spend": pa.array(c["mean_spend"]),
        "preferred_send_hour_utc": pa.array(c["pref_hour"].astype(np.int64)),
        "email_open_prob": pa.array(c["open_p"]),
        "seasonal": pa.array(c["profile"] == PROFILES.index("seasonal")),
    })
