"""The exact file formats of the audience exports: one entry per platform file, with the
normalisation each platform documents before hashing.

Which file holds what (``FORMATS``; the members and the suppression are chosen in
:mod:`playbook.value.audiences`):

============================== ========= ========================================================
file                           folder    columns
============================== ========= ========================================================
meta_custom_audience           exports   ``email``, ``phone``, ``country`` (SHA-256 hex)
meta_value_lookalike_seed      exports   ``email``, ``phone``, ``country`` (SHA-256), ``value``
google_ads_customer_match      exports   ``Email``, ``Phone`` (SHA-256 hex)
tiktok_custom_audience         exports   ``Email_SHA256``, ``Phone_SHA256``
klaviyo_list_import            private   ``Email``, ``First Name``, ``Email Marketing Consent``, ...
mailchimp_audience_import      private   ``Email Address``, ``First Name``, ``Tags``, ...
============================== ========= ========================================================

Only the two email-platform files hold plaintext PII (emails and first names); they are
written to the private folder (:func:`playbook.files.private_dir`), never to the
shareable report.

Normalisation, per platform (all hashes are lower-case hex SHA-256 of the UTF-8 string):

* **Meta** customer list (file upload, hashed columns). Email: trimmed, lower-case. Phone:
  digits only, with the country code, no ``+``, no leading zeros (``+44 20 7946 0958`` ->
  ``442079460958``). Country: lower-case ISO 3166-1 alpha-2 (``gb``). Column headers as Meta's
  customer-list template names them (``email``, ``phone``, ``country``; ``value`` for the
  customer value column). The value-based seed adds ``value``: predicted CLV in the campaign's
  currency, a plain non-negative number, never hashed (Meta: "decimal or whole numbers";
  Marketing API schema key ``LOOKALIKE_VALUE``, "integer or floating-point arbitrary
  non-negative number").
  https://www.facebook.com/business/help/2082575038703844 (how to format a customer list),
  https://www.facebook.com/business/help/1033094474356222 (the customer value column),
  https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences
  (hashing and normalising: PHONE "remove symbols, letters, and any leading zeroes",
  COUNTRY lower-case ISO 3166-1 alpha-2),
  https://developers.facebook.com/docs/marketing-api/audiences/guides/value-based-lookalike-audiences/
* **Google Ads** Customer Match (hashed upload). Headers ``Email`` and ``Phone`` in English;
  email trimmed and lower-case, phone in E.164 (``+`` and country code) before hashing.
  ``Country`` is documented only for mailing-address matching, together with ``First Name``,
  ``Last Name`` and ``Zip``; this file matches on email and phone only, so it has no Country.
  https://support.google.com/google-ads/answer/7659867 (format your customer data file),
  https://support.google.com/adwords/answer/7476159 (formatting guidelines for hashed data)
* **TikTok** customer file. Headers ``Email_SHA256`` and ``Phone_SHA256``. Email lower-case,
  with ``+`` and anything after it up to ``@`` removed (``ann+xmas@shop.com`` ->
  ``ann@shop.com``). Phone (August 2025 version of the page): remove symbols including ``+``,
  letters and leading zeros, add the country code (``(657)777-0000`` -> ``16577770000``).
  https://ads.tiktok.com/help/article/list-of-supported-ids-and-formats-for-a-customer-file
* **Klaviyo** list import. The first column is the email, headed ``Email`` (or ``Email
  Address``); Klaviyo properties by their names (``First Name``); email consent in an ``Email
  Marketing Consent`` column whose values are Klaviyo's statuses (``Subscribed``,
  ``Unsubscribed``, ``Never subscribed``); other columns become custom properties named by
  their header.
  https://help.klaviyo.com/hc/en-us/articles/115005078967 (create a list and add contacts),
  https://help.klaviyo.com/hc/en-us/articles/360043841811 (upload with consent)
* **Mailchimp** audience import. An ``Email Address`` column (one address per contact, no
  spaces), ``First Name`` as a text field, ``Tags`` (several tags separated by commas, so tag
  names carry no comma). The subscription status is chosen in the import step, not read from
  the file: import with status "Subscribed" (everyone in the file has email consent).
  https://mailchimp.com/help/format-guidelines-for-your-import-file/
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CALLING_CODES = {"US": "1", "GB": "44", "DE": "49", "IN": "91", "AE": "971", "CN": "86", "FR": "33",
                 "ES": "34", "IT": "39", "NL": "31", "CA": "1", "AU": "61", "JP": "81", "BR": "55"}
"""Country (ISO 3166-1 alpha-2) -> international calling code, for national phone numbers."""

COUNTRY_ALIASES = {"uk": "gb"}
"""Country spellings that are not ISO 3166-1 alpha-2 but common in shop data."""

KLAVIYO_SUBSCRIBED = "Subscribed"
"""Klaviyo's email consent status for someone opted in to email marketing."""


# --------------------------------------------------------------------------------------------
# normalisation and hashing


def normalize_email(email: pd.Series) -> pd.Series:
    """Trimmed, lower-case email; missing, blank or invalid -> missing."""
    e = email.astype(object).where(email.notna(), None).astype(str).str.strip().str.lower()
    ok = email.notna() & e.str.match(EMAIL_RE)
    return e.astype(object).where(ok.to_numpy(bool), None)


def normalize_phone(phone: pd.Series, country: pd.Series) -> pd.Series:
    """E.164 (``+`` and 8-15 digits): keeps a leading ``+``/``00``, else adds the country code.

    A national number loses its trunk zeros (``020 7946 0958`` in GB -> ``+442079460958``).
    Numbers without a ``+`` whose country has no known calling code become missing.
    """
    raw = phone.astype(object).where(phone.notna(), "").astype(str).str.strip()
    digits = raw.str.replace(r"\D", "", regex=True)
    intl = raw.str.startswith("+")
    zz = ~intl & raw.str.startswith("00")
    digits = digits.where(~zz, digits.str[2:])
    code = country.astype(object).map(lambda c: CALLING_CODES.get(str(c).strip().upper()) if isinstance(c, str) else None)
    local = ~intl & ~zz
    national = digits.str.lstrip("0")
    full = digits.where(~local, code.fillna("") + national)
    ok = full.str.len().between(8, 15) & ~(local & code.isna()) & (digits != "")
    return ("+" + full).astype(object).where(ok.fillna(False).to_numpy(bool), None)


def phone_digits(e164: pd.Series) -> pd.Series:
    """Meta's and TikTok's phone form: the E.164 number without ``+`` and leading zeros
    (``+442079460958`` -> ``442079460958``); missing stays missing."""
    return e164.map(lambda v: v.lstrip("+").lstrip("0") or None if isinstance(v, str) else None)


def normalize_country(country: pd.Series) -> pd.Series:
    """Lower-case ISO 3166-1 alpha-2 (``" GB "`` -> ``gb``, ``UK`` -> ``gb``); anything else
    (names, three-letter codes, blanks) -> missing."""
    c = country.astype(object).where(country.notna(), "").astype(str).str.strip().str.lower()
    c = c.replace(COUNTRY_ALIASES)
    return c.astype(object).where(c.str.fullmatch(r"[a-z]{2}").fillna(False).to_numpy(bool), None)


def tiktok_email(email_norm: pd.Series) -> pd.Series:
    """TikTok's email form of a normalised email: ``+`` and what follows it up to ``@`` removed."""
    return email_norm.map(lambda v: _drop_plus_tag(v) if isinstance(v, str) else None)


def _drop_plus_tag(email: str) -> str:
    user, _, domain = email.partition("@")
    return f"{user.split('+', 1)[0]}@{domain}"


def sha256(values: pd.Series) -> pd.Series:
    """Lower-case hex SHA-256 of each (already normalised) value; missing stays missing."""
    sha = hashlib.sha256  # a plain loop over the array: Series.map's per-value overhead doubled the cost
    return pd.Series([sha(v.encode("utf-8")).hexdigest() if isinstance(v, str) else None
                      for v in values.to_numpy(object)], index=values.index, dtype=object)


# --------------------------------------------------------------------------------------------
# one builder per file: rows (one per person, normalised contact data and offer) -> file columns
#
# ``rows`` columns: email_norm, phone_e164, country, first_name, segment, offer, top_products,
# local_send_time, clv.


def meta_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Meta customer list: hashed ``email``, ``phone`` (digits, no ``+``) and ``country``."""
    return pd.DataFrame({"email": sha256(rows["email_norm"]).to_numpy(),
                         "phone": sha256(phone_digits(rows["phone_e164"])).to_numpy(),
                         "country": sha256(normalize_country(rows["country"])).to_numpy()})


def meta_value_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Meta value-based seed: :func:`meta_frame` plus ``value`` = predicted CLV (>= 0, 2 decimals,
    in the campaign's currency; missing CLV counts as 0)."""
    out = meta_frame(rows)
    out["value"] = np.round(np.clip(pd.to_numeric(rows["clv"], errors="coerce").fillna(0.0).to_numpy(float), 0, None), 2)
    return out


def google_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Google Ads Customer Match: hashed ``Email`` and ``Phone`` (E.164 with ``+``)."""
    return pd.DataFrame({"Email": sha256(rows["email_norm"]).to_numpy(),
                         "Phone": sha256(rows["phone_e164"]).to_numpy()})


def tiktok_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """TikTok customer file: ``Email_SHA256`` (``+tag`` removed) and ``Phone_SHA256`` (digits)."""
    return pd.DataFrame({"Email_SHA256": sha256(tiktok_email(rows["email_norm"])).to_numpy(),
                         "Phone_SHA256": sha256(phone_digits(rows["phone_e164"])).to_numpy()})


def klaviyo_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Klaviyo list import (plaintext): ``Email`` first, ``First Name``, ``Email Marketing Consent``
    and the offer as custom properties."""
    return pd.DataFrame({"Email": rows["email_norm"].to_numpy(), "First Name": rows["first_name"].to_numpy(),
                         "Email Marketing Consent": KLAVIYO_SUBSCRIBED,
                         "Segment": rows["segment"].to_numpy(), "Offer": rows["offer"].to_numpy(),
                         "Top Products": rows["top_products"].to_numpy(),
                         "Local Send Time": rows["local_send_time"].to_numpy()})


def mailchimp_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Mailchimp audience import (plaintext): ``Email Address``, ``First Name``, ``Tags`` (the
    segment, commas removed) and the offer as text fields."""
    tags = rows["segment"].astype(object).map(lambda s: " ".join(str(s).replace(",", " ").split()) if isinstance(s, str) else None)
    return pd.DataFrame({"Email Address": rows["email_norm"].to_numpy(), "First Name": rows["first_name"].to_numpy(),
                         "Tags": tags.to_numpy(), "Offer": rows["offer"].to_numpy(),
                         "Top Products": rows["top_products"].to_numpy(),
                         "Local Send Time": rows["local_send_time"].to_numpy()})


# --------------------------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class ExportFormat:
    """One audience file.

    Attributes
    ----------
    name : str
        File stem (``<name>.csv``) and the audience's name in the reconciliation.
    platform : str
        Where the file is uploaded.
    channel : str
        ``email`` or ``ads``: whose consent and suppression apply.
    members : str
        ``all`` (every scored customer) or ``likely_buyers`` (top propensity deciles).
    private : bool
        Holds plaintext PII: written to the private folder, owner-only, never the report.
    columns : tuple of str
        The header, exactly as the platform documents it.
    key : tuple of str
        The columns identifying a person: rows repeating them are dropped (counted as duplicates).
    build : callable
        ``rows -> file frame`` (see the builders above).
    """

    name: str
    platform: str
    channel: str
    members: str
    private: bool
    columns: tuple[str, ...]
    key: tuple[str, ...]
    build: Callable[[pd.DataFrame], pd.DataFrame]


FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("klaviyo_list_import", "Klaviyo", "email", "all", True,
                 ("Email", "First Name", "Email Marketing Consent", "Segment", "Offer", "Top Products",
                  "Local Send Time"), ("Email",), klaviyo_frame),
    ExportFormat("mailchimp_audience_import", "Mailchimp", "email", "all", True,
                 ("Email Address", "First Name", "Tags", "Offer", "Top Products", "Local Send Time"),
                 ("Email Address",), mailchimp_frame),
    ExportFormat("google_ads_customer_match", "Google Ads", "ads", "likely_buyers", False,
                 ("Email", "Phone"), ("Email", "Phone"), google_frame),
    ExportFormat("meta_custom_audience", "Meta", "ads", "likely_buyers", False,
                 ("email", "phone", "country"), ("email", "phone", "country"), meta_frame),
    ExportFormat("meta_value_lookalike_seed", "Meta", "ads", "all", False,
                 ("email", "phone", "country", "value"), ("email", "phone", "country"), meta_value_frame),
    ExportFormat("tiktok_custom_audience", "TikTok", "ads", "likely_buyers", False,
                 ("Email_SHA256", "Phone_SHA256"), ("Email_SHA256", "Phone_SHA256"), tiktok_frame),
)
"""Every audience file, in the order of the reconciliation table."""

PRIVATE_FILES: tuple[str, ...] = tuple(f"{f.name}.csv" for f in FORMATS if f.private)
"""The files holding plaintext PII (emails, first names): only ever in the private folder."""


def build_file(fmt: ExportFormat, rows: pd.DataFrame) -> pd.DataFrame:
    """The file frame of ``fmt`` with its documented header in order (fails loudly if a builder
    and the registry disagree)."""
    out = fmt.build(rows)
    if tuple(out.columns) != fmt.columns:
        raise ValueError(f"{fmt.name}: builder wrote columns {list(out.columns)}, the format documents "
                         f"{list(fmt.columns)}; fix the builder or FORMATS in playbook/value/audience_formats.py")
    return out
