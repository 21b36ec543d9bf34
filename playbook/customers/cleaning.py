"""Cleaning and identity resolution of the customer table, in the engine.

Normalisation (the definitions of ``truth.json["defect_definitions"]``):

* **email**: surrounding whitespace removed, lower-cased; blank -> missing. Valid when it matches
  :data:`EMAIL_REGEX` (``local@domain.tld`` without spaces).
* **phone**: surrounding whitespace removed; a leading ``+`` is kept, every other non-digit is
  dropped; blank -> missing. Plausible when it has 7 to 15 digits (ITU-T E.164 allows at most 15).

Identity resolution: two accounts belong to the same person when they share a normalised email
or a normalised phone (transitively: A~B by email and B~C by phone puts A, B, C together). Each
group keeps the account that signed up first (ties: the smaller ``customer_id``); the *merge map*
lists every other account with the id it is merged into. :func:`resolve_customer_ids` applies the
map to any table with a ``customer_id`` column as an Ibis join, so downstream aggregates are per
person.

Nothing here loads a raw table into pandas: counts and group representatives are computed by the
backend; only the (small) list of accounts in duplicate groups comes back, and it holds ids and
signup times only, never emails or phones.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import ibis
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from playbook.data import cache, warehouse
from playbook.data.warehouse import Warehouse
from playbook.report import privacy
from playbook.report.privacy import pseudonymize

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_MIN_DIGITS = 7
PHONE_MAX_DIGITS = 15
BIRTH_YEAR_RANGE = (1900, 2015)

#: Defect kinds of the audit, what each means and how the playbook handles it.
DEFECT_KINDS: dict[str, tuple[str, str]] = {
    "duplicate_email": ("accounts sharing a normalised email with an earlier account",
                        "merged into one profile (merge map)"),
    "duplicate_phone": ("accounts sharing a normalised phone with an earlier account",
                        "merged into one profile (merge map)"),
    "invalid_email": ("non-blank emails that are not local@domain.tld after normalising",
                      "kept; never used for email or ad audiences"),
    "invalid_phone": ("non-blank phones with fewer than 7 or more than 15 digits",
                      "kept; never used for SMS"),
    "missing_email": ("email null or blank", "reachable on other channels only"),
    "missing_phone": ("phone null or blank", "reachable on other channels only"),
    "missing_first_name": ("first name null or blank", "generic salutation"),
    "missing_birth_year": ("birth year null", "no age-based rules"),
    "missing_gender": ("gender null or blank", "no gender-based rules"),
    "implausible_birth_year": (f"birth year outside {BIRTH_YEAR_RANGE[0]}-{BIRTH_YEAR_RANGE[1]}",
                               "treated as missing"),
    "future_signup": ("signup after the latest order/event in the data", "kept; flagged"),
    "erased": ("right-to-erasure requested (erased_at set)", "excluded from every output and export"),
    "events_before_signup": ("events earlier than the account's signup",
                             "kept (anonymous browsing linked at signup)"),
    "refunds": ("orders with negative revenue", "netted against revenue; counted separately"),
}


def _trim(s: ibis.StringValue) -> ibis.StringValue:
    """Remove leading/trailing whitespace of any kind (like Python's ``str.strip``)."""
    return s.re_replace(r"^\s+|\s+$", "")


def normalized_email(email: ibis.StringValue) -> ibis.StringValue:
    """Trimmed, lower-cased email; null when missing or blank (Ibis expression)."""
    e = _trim(email).lower()
    return ibis.ifelse(e == "", ibis.null("string"), e)


def normalized_phone(phone: ibis.StringValue) -> ibis.StringValue:
    """Phone with the leading ``+`` kept and every other non-digit dropped; null when blank."""
    p = _trim(phone)
    out = ibis.ifelse(p.startswith("+"), "+", "") + p.re_replace(r"\D", "")
    return ibis.ifelse((p == "") | (out == "") | (out == "+"), ibis.null("string"), out)


def email_is_valid(norm_email: ibis.StringValue) -> ibis.BooleanValue:
    """Whether a normalised email matches :data:`EMAIL_REGEX` (null stays null)."""
    return norm_email.re_search(EMAIL_REGEX)


def phone_is_plausible(norm_phone: ibis.StringValue) -> ibis.BooleanValue:
    """Whether a normalised phone has 7 to 15 digits (null stays null)."""
    n = norm_phone.re_replace(r"\D", "").length()
    return (n >= PHONE_MIN_DIGITS) & (n <= PHONE_MAX_DIGITS)


def clean_customers(wh: Warehouse) -> ibis.Table:
    """The customer table with normalised contact fields and validity flags (Ibis, lazy).

    Adds ``email_norm``, ``phone_norm`` (null when missing), ``email_valid``, ``phone_valid``
    (False when missing or malformed) and ``erased`` (bool).
    """
    c = wh.table("customers")
    em = normalized_email(c.email)
    ph = normalized_phone(c.phone)
    c = c.mutate(email_norm=em, phone_norm=ph)
    return c.mutate(
        email_valid=email_is_valid(c.email_norm).fill_null(False),
        phone_valid=phone_is_plausible(c.phone_norm).fill_null(False),
        erased=c.erased_at.notnull(),
    )


# --------------------------------------------------------------------------------------------
# identity resolution


@dataclass
class IdentityResolution:
    """Result of :func:`resolve_identities`.

    Attributes
    ----------
    merge_map : pandas.DataFrame
        ``customer_id`` (merged account) -> ``kept_id`` (the person's surviving account), one row
        per merged account, plus ``reason`` (``"email"``, ``"phone"`` or ``"email+phone"``: the
        key(s) the account shares with others in its group).
    n_accounts : int
        Accounts in the customer table.
    n_people : int
        Distinct people after merging.
    """

    merge_map: pd.DataFrame
    n_accounts: int
    n_people: int

    @property
    def n_merged(self) -> int:
        """Accounts folded into another account."""
        return len(self.merge_map)


def _group_reps(c: ibis.Table, key: str) -> ibis.Table:
    """Per account: the first-signed-up account sharing its ``key`` and the group size."""
    w = ibis.window(group_by=c[key], order_by=[c.signup_ts, c.customer_id])
    sized = ibis.window(group_by=c[key])
    return c.mutate(**{f"{key}_rep": c.customer_id.first().over(w),
                       f"{key}_n": c.customer_id.count().over(sized)})


def resolve_identities(wh: Warehouse) -> IdentityResolution:
    """Merge accounts of the same person (same normalised email or phone) into one profile.

    Parameters
    ----------
    wh : Warehouse
        Needs ``customers``.

    Returns
    -------
    IdentityResolution
        The merge map (old id -> kept id, earliest signup kept) and account/person counts.

    Notes
    -----
    Groups are the connected components of the graph "shares an email or a phone", found with
    :func:`scipy.sparse.csgraph.connected_components` on the accounts in duplicate groups only
    (ids and signup times; contact data stays in the engine). Invalid but non-blank emails are
    still used as keys: the same mistyped address twice is the same person.
    """
    c = clean_customers(wh).select("customer_id", "signup_ts", "email_norm", "phone_norm")
    n_accounts = int(c.count().execute())
    e = _group_reps(c.filter(c.email_norm.notnull()), "email_norm").select(
        "customer_id", "email_norm_rep", "email_norm_n")
    p = _group_reps(c.filter(c.phone_norm.notnull()), "phone_norm").select(
        "customer_id", "phone_norm_rep", "phone_norm_n")
    j = c.select("customer_id", "signup_ts").left_join(e, "customer_id").drop("customer_id_right")
    j = j.left_join(p, "customer_id").drop("customer_id_right")
    dup = j.filter((j.email_norm_n.fill_null(1) > 1) | (j.phone_norm_n.fill_null(1) > 1))
    rows = dup.select("customer_id", "signup_ts", "email_norm_rep", "phone_norm_rep",
                      "email_norm_n", "phone_norm_n").execute()
    merge_map = _components(rows)
    return IdentityResolution(merge_map=merge_map, n_accounts=n_accounts,
                              n_people=n_accounts - len(merge_map))


def _components(rows: pd.DataFrame) -> pd.DataFrame:
    """Merge map from accounts in duplicate groups (connected components, earliest signup kept)."""
    cols = ["customer_id", "kept_id", "reason"]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    rows = rows.copy()
    rows["customer_id"] = rows["customer_id"].astype(str)
    ids = pd.Index(sorted(set(rows["customer_id"])))
    src, dst = [], []
    for rep in ("email_norm_rep", "phone_norm_rep"):
        m = rows[rep].notna()
        src.append(ids.get_indexer(rows.loc[m, "customer_id"]))
        dst.append(ids.get_indexer(rows.loc[m, rep].astype(str)))
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(s)), (s, d)), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=False)
    info = pd.DataFrame({"customer_id": ids, "label": label})
    info = info.merge(rows[["customer_id", "signup_ts", "email_norm_n", "phone_norm_n"]], on="customer_id")
    info = info.sort_values(["label", "signup_ts", "customer_id"], kind="stable")
    info["kept_id"] = info.groupby("label")["customer_id"].transform("first")
    out = info[info["customer_id"] != info["kept_id"]].copy()
    by_email = out["email_norm_n"].fillna(1) > 1
    by_phone = out["phone_norm_n"].fillna(1) > 1
    out["reason"] = np.where(by_email & by_phone, "email+phone", np.where(by_email, "email", "phone"))
    return out[cols].sort_values("customer_id", ignore_index=True).astype(object)


def merge_map_table(merge_map: pd.DataFrame) -> ibis.Table:
    """The merge map as an in-memory Ibis table (``customer_id`` -> ``kept_id``)."""
    m = merge_map[["customer_id", "kept_id"]].astype(str)
    if m.empty:
        m = pd.DataFrame({"customer_id": ["\x00none"], "kept_id": ["\x00none"]})
    return ibis.memtable(m, schema={"customer_id": "string", "kept_id": "string"})


def resolve_customer_ids(t: ibis.Table, merge_map: pd.DataFrame) -> ibis.Table:
    """Replace ``customer_id`` of every row by the person's kept id (lazy join on the merge map).

    The original account id is kept in ``account_id``.
    """
    m = merge_map_table(merge_map).rename(account_id="customer_id")
    t = t.mutate(customer_id=t.customer_id.cast("string"))  # ids are strings (an all-null column may not be)
    j = t.rename(account_id="customer_id").left_join(m, "account_id").drop("account_id_right")
    return j.mutate(customer_id=j.kept_id.fill_null(j.account_id)).drop("kept_id")


# --------------------------------------------------------------------------------------------
# audit


def _examples(expr: ibis.Table, n: int) -> list[str]:
    ids = expr.select("customer_id").order_by("customer_id").limit(n).execute()["customer_id"]
    return [str(x) for x in cast(pd.Series, pseudonymize(ids.astype(str))).tolist()]


def defect_audit(wh: Warehouse, n_examples: int = 3) -> pd.DataFrame:
    """Count each data-quality defect kind (engine-side), with pseudonymous example ids.

    Parameters
    ----------
    wh : Warehouse
        Needs ``customers``; ``orders`` and ``events`` when present.
    n_examples : int
        Example customer ids per defect kind, pseudonymised with :func:`playbook.report.privacy.pseudonymize`
        (HMAC) so the audit can be shown in reports.

    Returns
    -------
    pandas.DataFrame
        One row per kind of :data:`DEFECT_KINDS`: ``defect``, ``count``, ``definition``,
        ``handling``, ``examples`` (comma-separated pseudonymous customer ids; for ``refunds`` and
        ``events_before_signup`` the customers concerned).
    """
    c = clean_customers(wh)
    blank = {col: c[col].isnull() | (_trim(c[col].cast("string")) == "")
             for col in ("email", "phone", "first_name", "gender")}
    latest = _latest_activity(wh)
    lo, hi = BIRTH_YEAR_RANGE
    flags: dict[str, ibis.BooleanValue] = {
        "invalid_email": c.email_norm.notnull() & ~c.email_valid,
        "invalid_phone": c.phone_norm.notnull() & ~c.phone_valid,
        "missing_email": blank["email"],
        "missing_phone": blank["phone"],
        "missing_first_name": blank["first_name"],
        "missing_birth_year": c.birth_year.isnull(),
        "missing_gender": blank["gender"],
        "implausible_birth_year": c.birth_year.notnull() & ((c.birth_year < lo) | (c.birth_year > hi)),
        "future_signup": (c.signup_ts > ibis.timestamp(latest)) if latest is not None
        else (c.signup_ts.isnull() & c.signup_ts.notnull()),  # no activity data: nothing to compare with
        "erased": c.erased,
    }
    counts = c.aggregate(**{k: v.sum() for k, v in flags.items()}).execute().iloc[0]
    found: dict[str, tuple[int, list[str]]] = {
        k: (int(counts[k] or 0), _examples(c.filter(v), n_examples)) for k, v in flags.items()}
    for key in ("email_norm", "phone_norm"):
        kind = "duplicate_" + key.split("_")[0]
        rep = _group_reps(c.filter(c[key].notnull()), key)
        later = rep.filter(rep.customer_id != rep[f"{key}_rep"])
        found[kind] = (int(later.count().execute()), _examples(later, n_examples))
    found["events_before_signup"] = _events_before_signup(wh, c, n_examples)
    found["refunds"] = _refunds(wh, n_examples)
    rows = [{"defect": k, "count": found[k][0], "definition": d, "handling": h,
             "examples": ", ".join(found[k][1])} for k, (d, h) in DEFECT_KINDS.items()]
    return pd.DataFrame(rows)


def _latest_activity(wh: Warehouse) -> pd.Timestamp | None:
    """Latest order/event time in the data (the data's 'now'); None without activity tables."""
    out = []
    for name, col in (("orders", "order_ts"), ("events", "event_ts")):
        if wh.has(name):
            v = wh.table(name)[col].max().execute()
            if v is not None and not pd.isna(v):
                out.append(pd.Timestamp(v))
    return max(out) if out else None


def _events_before_signup(wh: Warehouse, c: ibis.Table, n: int) -> tuple[int, list[str]]:
    if not wh.has("events"):
        return 0, []
    ev = wh.table("events")
    s = c.select(cid="customer_id", signup="signup_ts")
    j = ev.join(s, ev.customer_id == s.cid)
    bad = j.filter(j.event_ts < j.signup)
    return int(bad.count().execute()), _examples(bad.select("customer_id").distinct(), n)


def _refunds(wh: Warehouse, n: int) -> tuple[int, list[str]]:
    if not wh.has("orders"):
        return 0, []
    o = wh.table("orders")
    bad = o.filter(o.revenue < 0)
    return int(bad.count().execute()), _examples(bad.select("customer_id").distinct(), n)


def cached_identities(wh: Warehouse, root: Path | None = None) -> IdentityResolution:
    """:func:`resolve_identities`, shared across the campaigns that read the same data.

    Cached by :func:`playbook.data.cache.for_source` (key: the source's files, timezone and
    encoding, and this module's code); ``root`` is the cache folder (default
    :func:`playbook.data.cache.cache_dir`).
    """
    return cache.for_source("identity", wh, lambda: resolve_identities(wh),
                            [sys.modules[__name__], warehouse], root=root)


def cached_defect_audit(wh: Warehouse, root: Path | None = None) -> pd.DataFrame:
    """:func:`defect_audit`, shared across the campaigns that read the same data.

    The example ids are pseudonyms, so a keyed fingerprint of the pseudonym key is part of the
    cache key (a different ``PLAYBOOK_PSEUDONYM_KEY`` recomputes).
    """
    settings = {"pseudonym_key": pseudonymize("playbook-cache")}
    return cache.for_source("defect_audit", wh, lambda: defect_audit(wh),
                            [sys.modules[__name__], warehouse, privacy], settings, root)
