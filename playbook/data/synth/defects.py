"""Count the planted data-quality defects with the definitions in
:data:`playbook.data.synth.params.DEFECT_DEFINITIONS` (the counts written to ``truth.json``)."""

from __future__ import annotations

import pandas as pd

from playbook.data.synth.params import (
    EMAIL_REGEX,
)


def count_defects(customers: pd.DataFrame, events: pd.DataFrame, orders: pd.DataFrame) -> dict[str, int]:
    """Count data-quality defects with the definitions in :data:`DEFECT_DEFINITIONS`.

    Parameters
    ----------
    customers : pandas.DataFrame
        ``customer_id, email, phone, first_name, birth_year, gender, erased_at, signup_ts``.
    events : pandas.DataFrame
        ``customer_id, event_ts``.
    orders : pandas.DataFrame
        ``revenue``.

    Returns
    -------
    dict
        Count per key of :data:`DEFECT_DEFINITIONS`.
    """
    signup = customers.set_index("customer_id")["signup_ts"]
    ev_signup = events["customer_id"].map(signup)
    return _customer_defects(customers) | {
        "events_before_signup": int((events["event_ts"] < ev_signup).sum()),
        "refunds": int((orders["revenue"] < 0).sum()),
    }


def _customer_defects(customers: pd.DataFrame) -> dict[str, int]:
    """The customer-table defects of :func:`count_defects` (all keys but events/refunds)."""
    def blank(s: pd.Series) -> pd.Series:
        return s.isna() | (s.astype("string").str.strip() == "")

    em = customers["email"].astype("string").str.strip().str.lower()
    em = em[~blank(customers["email"])]
    ph = customers["phone"].astype("string").str.strip()
    ph = ph[~blank(customers["phone"])]
    ph = ph.str[:1].where(ph.str[:1] == "+", "") + ph.str.replace(r"\D", "", regex=True)
    return {
        "duplicate_email": int(len(em) - em.nunique()),
        "duplicate_phone": int(len(ph) - ph.nunique()),
        "invalid_email": int((~em.str.fullmatch(EMAIL_REGEX)).sum()),
        "missing_email": int(blank(customers["email"]).sum()),
        "missing_phone": int(blank(customers["phone"]).sum()),
        "missing_first_name": int(blank(customers["first_name"]).sum()),
        "missing_birth_year": int(customers["birth_year"].isna().sum()),
        "missing_gender": int(blank(customers["gender"]).sum()),
        "erased": int(customers["erased_at"].notna().sum()),
    }
