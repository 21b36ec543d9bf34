"""Audience exports: the email-platform lists, the ad-platform customer lists and a value-based
lookalike seed, each in its platform's exact format (:mod:`playbook.value.audience_formats`,
where the documentation each format follows is cited).

Rules (``docs/architecture.md``, "Conventions the code relies on", privacy):

* Only customers with consent for the export's channel, not erased, not unsubscribed and not
  bounced are exported. These checks are computed here from the tables (in the engine) and, when
  the segment step's ``segments.parquet`` is present, its ``suppress_<channel>`` flags are added
  on top (never removed). A person is suppressed on every account that shares their normalised
  email or phone (duplicates cannot slip through on a second account).
* Suppression is applied **last**, on every export, right before writing (:func:`_finalise`).
* Ad platforms receive SHA-256 hashes of each platform's normalised identifiers; no raw PII
  leaves in ad files, which go to the report's ``exports/`` folder.
* The email-platform files (Klaviyo, Mailchimp) hold plaintext emails and first names: they are
  written owner-only (folder ``0700``, files ``0600``) to the private folder
  (:func:`playbook.files.private_dir`), never into the shareable report.
* Audiences smaller than ``min_audience_size`` are not written (and a file of that name left by
  an earlier run in the same folder is removed); the reconciliation says so.
* Files are UTF-8 without BOM, written to a temporary name and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import ibis
import numpy as np
import pandas as pd

from playbook.artifacts import read_artifact
from playbook.data.warehouse import Warehouse, fetch
from playbook.files import atomic_write, make_private_dir
from playbook.report.privacy import pseudonymize
from playbook.value import offers
from playbook.value.audience_formats import (
    CALLING_CODES,
    EMAIL_RE,
    FORMATS,
    PRIVATE_FILES,
    ExportFormat,
    build_file,
    normalize_email,
    normalize_phone,
    sha256,
)
from playbook.value.send_time import DEFAULT_HOUR_UTC, local_send_time

__all__ = ["CALLING_CODES", "EMAIL_RE", "FORMATS", "PRIVATE_FILES", "REASONS", "build_people", "contacts",
           "describe", "describe_recheck", "export_audiences", "normalize_email", "normalize_phone",
           "recheck_exports", "segment_flags", "sha256", "suppression", "withdraw_exports"]

REASONS = ("erased", "no_consent", "no_contact", "unsubscribed", "bounced", "segment_step", "shared_identity")
SHAREABLE_DIR = "exports"
"""The report subfolder of the hashed ad-platform files."""


# --------------------------------------------------------------------------------------------
# contacts and suppression


def contacts(wh: Warehouse, as_of=None) -> pd.DataFrame:
    """Per account: normalised contact data, consent and suppression facts.

    Unsubscribes and bounces are counted at any time (also after ``as_of``: an opt-out known now
    must be honoured). ``as_of`` only limits accounts to those signed up before it (an instant; a date
    or naive value is read in the campaign's zone, ``wh.day_zone``: a date is its local midnight).
    """
    c = wh.table("customers")
    if as_of is not None:
        c = c.filter(c.signup_ts < ibis.timestamp(wh.instant(as_of)))
    cols = c.select("customer_id", "email", "phone", "first_name", "country", "consent_email", "consent_ads",
                    erased=c.erased_at.notnull())
    if wh.has("messages"):
        m = wh.table("messages")
        em = m.channel == "email"
        bounced = m.bounced_ts.notnull() if "bounced_ts" in m.columns else ibis.literal(False)
        g = m.group_by("customer_id").aggregate(
            unsubscribed=(em & m.unsubscribed_ts.notnull()).any(),
            bounced=(em & bounced).any())
        cols = cols.left_join(g, "customer_id").drop("customer_id_right")
    df = fetch(cols)
    for col in ("unsubscribed", "bounced"):
        df[col] = df[col].fillna(False).astype(bool) if col in df else False
    df["customer_id"] = df["customer_id"].astype(str)
    df["email_norm"] = normalize_email(df["email"])
    df["phone_e164"] = normalize_phone(df["phone"], df["country"])
    for col in ("consent_email", "consent_ads", "erased"):
        df[col] = df[col].fillna(False).astype(bool)
    return df.sort_values("customer_id", ignore_index=True)


def segment_flags(output_dir, ids: pd.Series) -> pd.DataFrame | None:
    """The segment step's ``suppress_<channel>`` flags mapped to ``ids`` (None if absent)."""
    seg = read_artifact(output_dir, "segments")
    if seg is None or "customer_pid" not in seg:
        return None
    pid = pd.Series(cast(pd.Series, pseudonymize(ids.astype(str))).to_numpy(), index=ids.to_numpy())
    s = seg.drop_duplicates("customer_pid").set_index("customer_pid")
    out = pd.DataFrame(index=ids.to_numpy())
    for ch in ("email", "ads"):
        col = f"suppress_{ch}"
        out[ch] = s[col].reindex(pid.to_numpy()).fillna(False).astype(bool).to_numpy() if col in s else False
    return out


def suppression(con: pd.DataFrame, seg: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Reason flags per channel (``email``, ``ads``): one boolean column per reason + ``suppressed``.

    Indexed by customer_id. ``shared_identity``: another account with the same normalised email
    or phone is suppressed for that channel.
    """
    idx = con["customer_id"].to_numpy()
    out = {}
    for ch in ("email", "ads"):
        consent = con["consent_email"] if ch == "email" else con["consent_ads"]
        contact = con["email_norm"].notna() if ch == "email" else (con["email_norm"].notna() | con["phone_e164"].notna())
        f = pd.DataFrame({
            "erased": con["erased"].to_numpy(),
            "no_consent": ~consent.to_numpy(),
            "no_contact": ~contact.to_numpy(),
            "unsubscribed": con["unsubscribed"].to_numpy(),
            "bounced": con["bounced"].to_numpy() if ch == "email" else np.zeros(len(con), bool),
            "segment_step": (seg[ch].reindex(idx).fillna(False).to_numpy(bool) if seg is not None
                             else np.zeros(len(con), bool)),
        }, index=idx)
        direct = f.any(axis=1).to_numpy()
        shared = np.zeros(len(con), bool)
        for key in ("email_norm", "phone_e164"):
            k = con[key]
            bad_keys = set(k[direct & k.notna().to_numpy()])
            shared |= k.isin(bad_keys).to_numpy() & k.notna().to_numpy()
        f["shared_identity"] = shared & ~direct
        f["suppressed"] = direct | shared
        out[ch] = f
    return out


# --------------------------------------------------------------------------------------------
# writing


def _write_csv(df: pd.DataFrame, path: Path, private: bool = False) -> Path:
    """Write an export as UTF-8 CSV without BOM, ``\n`` line ends, atomically; a private file is
    made owner-only (``0600``) before anything is written into it."""

    def write(tmp: Path) -> None:
        if private:
            os.chmod(tmp, 0o600)
        df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")

    return atomic_write(path, write)


def _finalise(df: pd.DataFrame, ids: pd.Series, sup: pd.DataFrame) -> pd.DataFrame:
    """Apply the channel's suppression: the LAST step before writing, on every export."""
    keep = ~sup["suppressed"].reindex(ids.to_numpy()).fillna(True).to_numpy(bool)
    return df[keep]


def _reconcile(name: str, channel: str, members: pd.Index, sup: pd.DataFrame) -> dict:
    f = sup.reindex(members)
    row = {"audience": name, "channel": channel, "eligible": len(members)}
    first = f[list(REASONS)].to_numpy(bool)
    # count each excluded person once, under the first reason that applies (REASONS order)
    any_r = first.any(axis=1)
    which = np.where(any_r, first.argmax(axis=1), -1)
    for i, r in enumerate(REASONS):
        row[f"excluded_{r}"] = int((which == i).sum())
    return row


def _members(fmt: ExportFormat, p: pd.DataFrame, c: pd.DataFrame, ad_deciles: int) -> pd.Index:
    """The scored customers an audience starts from (before suppression), sorted."""
    base = p.index if fmt.members == "all" else p.index[p["score_decile"] <= ad_deciles]
    return pd.Index(np.sort(base.intersection(c.index).to_numpy()))


def _rows(members: pd.Index, c: pd.DataFrame, p: pd.DataFrame) -> pd.DataFrame:
    """Normalised contact data and offer of ``members``: what every format is built from."""
    cm, pm = c.reindex(members), p.reindex(members)
    clv = pm["clv"] if "clv" in pm else pd.Series(0.0, index=members)
    return pd.DataFrame({
        "email_norm": cm["email_norm"].to_numpy(), "phone_e164": cm["phone_e164"].to_numpy(),
        "country": cm["country"].to_numpy(), "first_name": cm["first_name"].to_numpy(),
        "segment": pm["segment"].to_numpy(), "offer": pm["offer"].to_numpy(),
        "top_products": pm["top_products"].to_numpy(), "local_send_time": pm["local_send_time"].to_numpy(),
        "clv": clv.to_numpy()})


def export_audiences(con: pd.DataFrame, people: pd.DataFrame, output_dir, min_size: int = 100,
                     seg: pd.DataFrame | None = None, ad_deciles: int = 3) -> pd.DataFrame:
    """Write every audience file of :data:`~playbook.value.audience_formats.FORMATS` and return
    the reconciliation table.

    Parameters
    ----------
    con : DataFrame
        From :func:`contacts`.
    people : DataFrame
        customer_id, segment, offer, top_products (text), local_send_time, score_decile
        (1 = most likely buyers), clv (predicted, campaign currency; 0 when absent).
    output_dir : path
        The step's output folder: hashed ad files go to ``<output_dir>/exports``, plaintext email
        lists to :func:`playbook.files.private_dir` (created owner-only, also when nothing
        is written there, so a publish replaces earlier private files).
    min_size : int
        Audiences with fewer people after suppression are not written.
    seg : DataFrame, optional
        :func:`segment_flags` (extra suppression from the segment step).
    ad_deciles : int
        "Likely buyers" = customers in the top ``ad_deciles`` propensity deciles.

    Returns
    -------
    pandas.DataFrame
        One row per audience: audience, channel, eligible, excluded_<reason> (each person once,
        first reason), excluded_duplicate, exported, file (``exports/<name>.csv`` or
        ``private/<name>.csv``; empty when not written), status.
    """
    shared, private = Path(output_dir) / SHAREABLE_DIR, make_private_dir(output_dir)
    sup = suppression(con, seg)
    c = con.set_index("customer_id")
    p = people.set_index("customer_id")
    rows = []
    for fmt in FORMATS:
        members = _members(fmt, p, c, ad_deciles)
        row = _reconcile(fmt.name, fmt.channel, members, sup[fmt.channel])
        # the files are built row by row, so only the people not suppressed are built (hashing
        # everyone first cost seconds per file at 1M customers); _finalise still checks every row
        allowed = members[~sup[fmt.channel]["suppressed"].reindex(members).fillna(True).to_numpy(bool)]
        frame = build_file(fmt, _rows(allowed, c, p))
        final = _finalise(frame, pd.Series(allowed.to_numpy()), sup[fmt.channel])
        # one row per person: repeated identifiers (same normalised email / same hashes) keep the first
        n_kept = len(final)
        final = final.drop_duplicates(list(fmt.key))
        row["excluded_duplicate"] = n_kept - len(final)
        row["exported"] = len(final)
        folder = private if fmt.private else shared
        target = folder / f"{fmt.name}.csv"
        if len(final) == 0 or len(final) < min_size:
            target.unlink(missing_ok=True)  # never leave an earlier run's file of this audience
            why = ("nobody eligible (no consenting, reachable customer)" if len(final) == 0
                   else f"{len(final)} people, below the minimum of {min_size}")
            row.update(file="", status=f"not exported: {why}")
        else:
            _write_csv(final, target, private=fmt.private)
            row.update(file=f"{'private' if fmt.private else SHAREABLE_DIR}/{target.name}", status="exported")
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# re-checking exports a run republishes without regenerating them (issue 19, item 1)

FORMATS_BY_FILE = {f"{f.name}.csv": f for f in FORMATS}


def _identity_columns(fmt: ExportFormat) -> tuple[str, ...]:
    """The columns of ``fmt`` that identify one person (email, phone; never the country)."""
    return tuple(c for c in fmt.key if c.lower() != "country")


def _contact_frame(fmt: ExportFormat, con: pd.DataFrame) -> pd.DataFrame:
    """``fmt``'s file columns for every account of ``con`` (same order), built as the export
    builds them: the identifiers a row of an existing file can be matched on."""
    n = len(con)
    rows = pd.DataFrame({"email_norm": con["email_norm"].to_numpy(), "phone_e164": con["phone_e164"].to_numpy(),
                         "country": con["country"].to_numpy(), "first_name": [""] * n, "segment": [""] * n,
                         "offer": [""] * n, "top_products": [""] * n, "local_send_time": [""] * n,
                         "clv": np.zeros(n)})
    return build_file(fmt, rows)


def _entry(label: str, before: int, after: int, status: str, reason: str = "") -> dict:
    return {"file": label, "rows_before": before, "removed": before - after, "rows_after": after,
            "status": status, "reason": reason}


def withdraw_exports(files: list[tuple[Path, str]], reason: str) -> list[dict]:
    """Delete export files that cannot be re-checked; one entry each (status ``withdrawn``)."""
    out = []
    for path, label in files:
        before = sum(1 for _ in path.open(encoding="utf-8", errors="replace")) - 1 if path.is_file() else 0
        path.unlink(missing_ok=True)
        out.append(_entry(label, max(before, 0), 0, "withdrawn", reason))
    return out


def _recheck_file(path: Path, label: str, fmt: ExportFormat, ids: pd.DataFrame, blocked: np.ndarray,
                  min_size: int) -> dict:
    """Keep the rows of one export file that still match a person allowed on its channel."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if tuple(df.columns) != fmt.columns:
        path.unlink()
        return _entry(label, len(df), 0, "withdrawn", f"its columns are not those of {fmt.platform}'s format")
    allowed = np.zeros(len(df), bool)
    barred = np.zeros(len(df), bool)
    for col in _identity_columns(fmt):
        values = df[col].where(df[col] != "", None)
        allowed |= values.isin(set(ids.loc[~blocked, col].dropna())).to_numpy(bool)
        barred |= values.isin(set(ids.loc[blocked, col].dropna())).to_numpy(bool)
    keep = allowed & ~barred
    n = int(keep.sum())
    if n == len(df):
        return _entry(label, len(df), n, "unchanged")
    if n == 0 or n < min_size:
        path.unlink()
        return _entry(label, len(df), n, "withdrawn", f"{n} people left, below the minimum of {min_size}")
    _write_csv(df[keep], path, private=fmt.private)
    return _entry(label, len(df), n, "re-checked")


def recheck_exports(con: pd.DataFrame, seg: pd.DataFrame | None, files: list[tuple[Path, str]],
                    min_size: int = 100) -> list[dict]:
    """Re-apply the current erasure, consent and suppression to existing export files, in place.

    A run that does not regenerate the exports (``--only plan``) republishes the last ones; people
    erased, unsubscribed or without consent since then must leave them. Each file's rows are
    matched on the identifiers its format holds (hashed or plain email and phone, built by the
    same builders as the export, :func:`_contact_frame`): a row stays only when one of them
    belongs to an account allowed on the file's channel and none belongs to a suppressed account
    (:func:`suppression`, so shared identities are suppressed too). Rows matching no account
    (deleted from the data) go as well. A file left under ``min_size`` rows, or whose columns are
    not its format's, is withdrawn (deleted); unknown files are withdrawn.

    Parameters
    ----------
    con : DataFrame
        :func:`contacts` of the current data.
    seg : DataFrame, optional
        :func:`segment_flags` (the segment step's suppression), added on top.
    files : list of (Path, str)
        Export files and the label to report them by (``exports/meta_custom_audience.csv``).
    min_size : int
        The campaign's ``min_audience_size``.

    Returns
    -------
    list of dict
        Per file: ``file``, ``rows_before``, ``removed``, ``rows_after``, ``status``
        (``unchanged``, ``re-checked`` or ``withdrawn``) and ``reason``. Unchanged files are not
        rewritten (reruns stay byte-identical).
    """
    sup = suppression(con, seg)
    out = []
    for path, label in files:
        fmt = FORMATS_BY_FILE.get(path.name)
        if fmt is None:
            out += withdraw_exports([(path, label)], "not an export the playbook can re-check")
            continue
        blocked = sup[fmt.channel]["suppressed"].to_numpy(bool)
        out.append(_recheck_file(path, label, fmt, _contact_frame(fmt, con), blocked, min_size))
    return out


def describe_recheck(entries: list[dict]) -> str:
    """One sentence on the re-check of republished exports (empty when there was nothing to check)."""
    if not entries:
        return ""
    changed = [e for e in entries if e["status"] != "unchanged"]
    head = (f"{len(entries)} export file(s) not regenerated by this run were re-checked against the current "
            "erasure, consent and suppression")
    if not changed:
        return head + ": no change."
    parts = [f"{e['file']}: {e['removed']:,} removed" if e["status"] == "re-checked"
             else f"{e['file']}: withdrawn ({e['reason']})" for e in changed]
    return head + ": " + "; ".join(parts) + "."


def describe(recon: pd.DataFrame) -> str:
    """Plain-language sentences on what was exported, what was held back and where the files
    with plaintext emails are (Markdown; names them, never links them)."""
    if recon.empty:
        return "No audiences were defined, so nothing was exported."
    done = recon[recon["status"] == "exported"]
    held = recon[recon["status"] != "exported"]
    excl = recon[[c for c in recon.columns if c.startswith("excluded_")]].sum().sum()
    parts = [f"{len(done)} audience file(s) were written with {int(done['exported'].sum()):,} rows in total; "
             f"{int(excl):,} audience memberships were removed by consent, suppression (applied last) and duplicate checks."]
    if len(held):
        parts.append("Not exported: " + "; ".join(f"{r.audience} ({r.status.removeprefix('not exported: ')})"
                                                  for r in held.itertuples()) + ".")
    private = [f for f in done["file"] if str(f).startswith("private/")]
    if private:
        names = ", ".join(f"`{Path(f).name}`" for f in private)
        parts.append(f"{names} hold plaintext emails and first names: they are not part of this report and are "
                     "kept owner-only in the private folder beside it (`reports/.private/<campaign>/`); "
                     "the files in `exports/` hold SHA-256 hashes only.")
    return " ".join(parts)


def top_products_text(recs: pd.DataFrame, products: pd.DataFrame, n: int = 3) -> pd.Series:
    """customer_id -> ``"name 1; name 2; name 3"`` from recommendations (ranks 1..n)."""
    r = recs[recs["rank"] <= n].merge(products[["product_id", "name"]], on="product_id", how="left")
    r["name"] = r["name"].fillna(r["product_id"]).astype(str)
    if r.empty:
        return pd.Series(dtype=object, name="name").rename_axis("customer_id")
    # Vectorised "; ".join per customer in rank order (a Python join per group took ~2 min at 1M).
    wide = r.drop_duplicates(["customer_id", "rank"]).set_index(["customer_id", "rank"])["name"].unstack("rank")
    out = pd.Series("", index=wide.index, dtype=object)
    for col in sorted(wide.columns):
        v = wide[col]
        has = v.notna()
        out = out.where(~has, out.where(out == "", out + "; ") + v.fillna(""))
    out.index = out.index.astype(str).rename("customer_id")
    return out.rename("name")


def has_bom(path) -> bool:
    """Whether a written file starts with a UTF-8 BOM (it never should)."""
    return Path(path).read_bytes()[:3] == b"\xef\xbb\xbf"


# --------------------------------------------------------------------------------------------
# one table per customer with everything the exports need


def fallback_segment(clv_table: pd.DataFrame) -> pd.Series:
    """Segment names when the segment step's output is absent (customer_id -> name).

    Seasonal buyers first, then Champions (top CLV decile), At Risk (P(alive) < 0.3 with 2+ orders),
    Loyal (3+ orders), New (1 order), else "Others" (the content matrix's default row).
    """
    t = clv_table.set_index("customer_id")
    seg = np.select(
        [t.get("seasonal_buyer", pd.Series(False, index=t.index)).to_numpy(bool),
         (t["clv_decile"] == 10).to_numpy(), ((t["p_alive"] < 0.3) & (t["orders"] >= 2)).to_numpy(),
         (t["orders"] >= 3).to_numpy(), (t["orders"] == 1).to_numpy()],
        ["Seasonal Gift Buyers", "Champions", "At Risk", "Loyal", "New"], "Others")
    return pd.Series(seg, index=t.index)


def segments_for(output_dir, ids: pd.Series, clv_table: pd.DataFrame) -> tuple[pd.Series, str]:
    """customer_id -> segment: the segment step's RFM segment when its artifact exists (seasonal
    buyers override it), else :func:`fallback_segment`. Also returns where it came from."""
    own = fallback_segment(clv_table).reindex(ids.to_numpy()).fillna("Others")
    seg = read_artifact(output_dir, "segments")
    if seg is None or "rfm_segment" not in seg or "customer_pid" not in seg:
        return own, "computed here (segment step output not found)"
    pid = cast(pd.Series, pseudonymize(ids.astype(str))).to_numpy()
    rfm = seg.drop_duplicates("customer_pid").set_index("customer_pid")["rfm_segment"].reindex(pid)
    out = pd.Series(rfm.to_numpy(), index=ids.to_numpy()).astype(object)
    out = out.where(out.notna(), own)
    out[own == "Seasonal Gift Buyers"] = "Seasonal Gift Buyers"
    return out, "segment step (segments.parquet)"


def build_people(wh: Warehouse, output_dir, scores: pd.DataFrame, clv_table: pd.DataFrame,
                 recs: pd.DataFrame, st: pd.DataFrame, promo_share: pd.Series, matrix: dict | None = None
                 ) -> tuple[pd.DataFrame, str]:
    """One row per scored customer with everything the exports need (contains first names: never
    display it; use :func:`playbook.value.offers.offer_preview`).

    Returns the table (customer_id, first_name, country, segment, score, score_decile, clv,
    clv_decile, top_products, top_product, discount_pct, offer, content, subject, best_hour_utc,
    local_send_time) and the segment source.
    """
    c = wh.table("customers")
    base = fetch(c.select("customer_id", "first_name", "country"))
    base["customer_id"] = base["customer_id"].astype(str)
    base = base.drop_duplicates("customer_id")
    df = scores[["customer_id", "score", "score_decile"]].merge(base, on="customer_id", how="left")
    df = df.merge(clv_table[["customer_id", "clv", "clv_decile"]], on="customer_id", how="left")
    df["clv"] = df["clv"].fillna(0.0)
    df["clv_decile"] = df["clv_decile"].fillna(0).astype(int)
    ids = df["customer_id"]
    seg, source = segments_for(output_dir, ids, clv_table)
    df["segment"] = seg.reindex(ids.to_numpy()).fillna("Others").to_numpy()
    products = (wh.table("products").select("product_id", "name").execute() if wh.has("products")
                else pd.DataFrame({"product_id": pd.Series(dtype=str), "name": pd.Series(dtype=str)}))
    top = top_products_text(recs, products)
    df["top_products"] = top.reindex(ids.to_numpy()).to_numpy()
    df["top_product"] = df["top_products"].str.split("; ").str[0]
    df["promo_share"] = promo_share.reindex(ids.to_numpy()).fillna(0.0).to_numpy()
    nbo = offers.next_best_offer(df[["customer_id", "segment", "promo_share", "first_name", "top_product"]], matrix)
    for col in ("discount_pct", "offer", "content", "subject", "matrix_row"):
        df[col] = nbo[col].to_numpy()
    hours = st.set_index("customer_id")["best_hour_utc"] if not st.empty else pd.Series(dtype=float)
    df["best_hour_utc"] = hours.reindex(ids.to_numpy()).fillna(DEFAULT_HOUR_UTC).astype(int).to_numpy()
    df["local_send_time"] = local_send_time(df["best_hour_utc"], df["country"]).to_numpy()
    return df, source
