"""Suppression and consent per channel, and overlap between audiences.

Channels: ``email``, ``sms`` and ``ads`` (ad-platform audiences). A customer is suppressed for a
channel when at least one reason of :data:`REASONS` applies to that channel. Suppression is
computed on the per-customer feature table (:mod:`playbook.customers.features`) and is applied last, on every
export, by the personalize step.

Reasons and where they apply:

``erased``        all channels (right to erasure; these people are also removed from every output)
``no_consent``    email: ``consent_email`` false; ads: ``consent_ads`` false; sms: the data contract
                  has no SMS consent column, so SMS requires ``consent_email`` (conservative
                  stand-in; a ``consent_sms`` column would replace it)
``no_contact``    email: no valid email; sms: no plausible phone; ads: neither (nothing to match)
``unsubscribed``  email/sms: an unsubscribe on that channel before the as-of instant
``bounced``       email/sms: a hard bounce (``messages.bounced_ts``) on that channel
``converted``     all channels: already bought in the campaign window before the as-of instant
``service_cycle`` all channels: a refund (return) in the last :data:`SERVICE_DAYS` days; the
                  data has no return status, so a recent refund stands for "open return /
                  post-purchase service cycle"

Merged people (identity resolution) are suppressed when any of their accounts is.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

CHANNELS: tuple[str, ...] = ("email", "sms", "ads")
REASONS: tuple[str, ...] = ("erased", "no_consent", "no_contact", "unsubscribed", "bounced",
                            "converted", "service_cycle")
SERVICE_DAYS = 30


def _col(f: pd.DataFrame, name: str) -> pd.Series:
    if name in f:
        return f[name].fillna(False).astype(bool)
    return pd.Series(False, index=f.index)


def suppression_flags(features: pd.DataFrame, converted: pd.Series | None = None,
                      service_days: int = SERVICE_DAYS) -> pd.DataFrame:
    """Boolean reason flags per channel: columns ``<channel>_<reason>`` and ``suppress_<channel>``.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer 360 features (needs ``erased``, ``consent_email``, ``consent_ads``,
        ``email_valid``, ``phone_valid``; uses ``email_unsubscribed``, ``sms_unsubscribed``,
        ``email_bounced``, ``sms_bounced`` and ``refunds_<service_days>d`` when present).
    converted : pandas.Series of bool, optional
        Customers who already bought in the campaign window (same index); default nobody.
    service_days : int
        Look-back of the service-cycle rule, in days (needs the ``refunds_<service_days>d``
        feature; without it the rule flags nobody).

    Returns
    -------
    pandas.DataFrame
        Same index as ``features``.
    """
    f = features
    no = pd.Series(False, index=f.index)
    erased = _col(f, "erased")
    conv = no if converted is None else converted.reindex(f.index).fillna(False).astype(bool)
    refunds = f.get(f"refunds_{service_days}d")
    service = no if refunds is None else (refunds.fillna(0) > 0)
    consent_email = _col(f, "consent_email")
    email_ok, phone_ok = _col(f, "email_valid"), _col(f, "phone_valid")
    per = {
        "email": {"no_consent": ~consent_email, "no_contact": ~email_ok,
                  "unsubscribed": _col(f, "email_unsubscribed"), "bounced": _col(f, "email_bounced")},
        "sms": {"no_consent": ~consent_email, "no_contact": ~phone_ok,
                "unsubscribed": _col(f, "sms_unsubscribed"), "bounced": _col(f, "sms_bounced")},
        "ads": {"no_consent": ~_col(f, "consent_ads"), "no_contact": ~(email_ok | phone_ok),
                "unsubscribed": no, "bounced": no},
    }
    out = {}
    for ch in CHANNELS:
        flags = {"erased": erased, **per[ch], "converted": conv, "service_cycle": service}
        for reason in REASONS:
            out[f"{ch}_{reason}"] = flags[reason].astype(bool)
        out[f"suppress_{ch}"] = np.logical_or.reduce([flags[r] for r in REASONS])
    return pd.DataFrame(out, index=f.index)


def reason_counts(flags: pd.DataFrame) -> pd.DataFrame:
    """Customers per reason and channel (a customer can have several reasons), plus totals.

    Returns a frame indexed by reason (plus ``suppressed (any reason)`` and ``reachable``) with
    one count column per channel.
    """
    n = len(flags)
    data = {}
    for ch in CHANNELS:
        col = {r: int(flags[f"{ch}_{r}"].sum()) for r in REASONS}
        col["suppressed (any reason)"] = int(flags[f"suppress_{ch}"].sum())
        col["reachable"] = n - col["suppressed (any reason)"]
        data[ch] = col
    out = pd.DataFrame(data)
    out.index.name = "reason"
    return out


def overlap_matrix(members: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise overlap of audiences.

    Parameters
    ----------
    members : pandas.DataFrame
        One bool column per audience.

    Returns
    -------
    counts, share : pandas.DataFrame
        ``counts[a][b]`` = customers in both; ``share[a][b]`` = ``counts / min(|a|, |b|)`` (the
        share of the smaller audience that is also in the other; 0 when either is empty;
        diagonal 1 for non-empty audiences).
    """
    m = members.astype(bool).astype("int64")
    counts = m.T @ m
    size = np.diag(counts.to_numpy()).astype(float)
    denom = np.minimum.outer(size, size)
    share = np.where(denom > 0, counts.to_numpy() / np.where(denom > 0, denom, 1.0), 0.0)
    return counts, pd.DataFrame(share, index=counts.index, columns=counts.columns)


def overlap_warnings(members: pd.DataFrame, threshold: float) -> list[str]:
    """One plain-language warning per audience pair whose overlap share exceeds ``threshold``."""
    counts, share = overlap_matrix(members)
    out = []
    for a, b in itertools.combinations(members.columns, 2):
        s = float(share.loc[a, b])
        if s > threshold:
            out.append(f"{a} and {b} share {int(counts.loc[a, b]):,} customers ({s:.0%} of the smaller "
                       f"audience, above the {threshold:.0%} threshold): decide which message wins "
                       "or exclude one from the other.")
    return out
