"""Each audience file against its platform's documented format (playbook.value.audience_formats):
exact headers, normalisation before hashing, plain value column, plaintext email lists.

Expected hashes are computed here with hashlib from the normalised strings the platforms'
documentation gives, never with the code under test."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from playbook.run.publish import private_dir
from playbook.value import audience_formats as F
from playbook.value import audiences


def h(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _rows(**over) -> pd.DataFrame:
    """One person: the London number of the docs' examples, a mixed-case email with spaces."""
    row = {"email": "  John.Doe@Example.COM ", "phone": "+44 20 7946 0958", "country": "GB", "first_name": "John",
           "segment": "Loyal, gift buyers", "offer": "10% off", "top_products": "Scarf; Mug",
           "local_send_time": "19:00 Europe/London", "clv": 123.456}
    row.update(over)
    df = pd.DataFrame([row])
    df["email_norm"] = F.normalize_email(df["email"])
    df["phone_e164"] = F.normalize_phone(df["phone"], df["country"])
    return df


HEADERS = {
    "meta_custom_audience": ["email", "phone", "country"],
    "meta_value_lookalike_seed": ["email", "phone", "country", "value"],
    "google_ads_customer_match": ["Email", "Phone"],
    "tiktok_custom_audience": ["Email_SHA256", "Phone_SHA256"],
    "klaviyo_list_import": ["Email", "First Name", "Email Marketing Consent", "Segment", "Offer", "Top Products",
                            "Local Send Time"],
    "mailchimp_audience_import": ["Email Address", "First Name", "Tags", "Offer", "Top Products", "Local Send Time"],
}


def _fmt(name: str) -> F.ExportFormat:
    return next(f for f in F.FORMATS if f.name == name)


@pytest.mark.parametrize("name", list(HEADERS), ids=list(HEADERS))
def test_headers_are_exactly_as_documented(name):
    fmt = _fmt(name)
    assert list(fmt.columns) == HEADERS[name]
    assert list(F.build_file(fmt, _rows()).columns) == HEADERS[name]


def test_only_the_email_platform_files_are_private():
    assert F.PRIVATE_FILES == ("klaviyo_list_import.csv", "mailchimp_audience_import.csv")
    assert {f.name for f in F.FORMATS if f.private} == {"klaviyo_list_import", "mailchimp_audience_import"}
    assert all(f.channel == ("email" if f.private else "ads") for f in F.FORMATS)


@pytest.mark.parametrize("phone,country", [("+44 20 7946 0958", "GB"), ("020 7946 0958", "GB"),
                                           ("0044 20-7946-0958", "DE"), ("+442079460958", None)],
                         ids=["plus", "national", "00-prefix", "no-country"])
def test_meta_phone_is_digits_with_country_code_without_plus(phone, country):
    out = F.meta_frame(_rows(phone=phone, country=country))
    assert out.loc[0, "phone"] == h("442079460958")
    assert F.google_frame(_rows(phone=phone, country=country)).loc[0, "Phone"] == h("+442079460958")
    assert F.tiktok_frame(_rows(phone=phone, country=country)).loc[0, "Phone_SHA256"] == h("442079460958")


def test_tiktok_documented_us_example():
    # TikTok: "(657)777-0000 is normalized to 16577770000"
    assert F.phone_digits(F.normalize_phone(pd.Series(["(657)777-0000"]), pd.Series(["US"])))[0] == "16577770000"


def test_email_trimmed_lowercase_then_hashed():
    rows = _rows()
    expected = h("john.doe@example.com")
    assert F.meta_frame(rows).loc[0, "email"] == expected
    assert F.google_frame(rows).loc[0, "Email"] == expected
    assert F.tiktok_frame(rows).loc[0, "Email_SHA256"] == expected
    # TikTok's published example: janedoe@gmail.com -> d611...6c69
    jane = F.tiktok_frame(_rows(email=" JaneDoe@Gmail.com")).loc[0, "Email_SHA256"]
    assert jane == "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"


def test_tiktok_drops_plus_tags_and_meta_keeps_them():
    rows = _rows(email="John.Doe+xmas@Example.com")
    assert F.tiktok_frame(rows).loc[0, "Email_SHA256"] == h("john.doe@example.com")
    assert F.meta_frame(rows).loc[0, "email"] == h("john.doe+xmas@example.com")


@pytest.mark.parametrize("raw,expected", [("GB", "gb"), (" de ", "de"), ("UK", "gb"), ("Germany", None),
                                          ("GBR", None), (None, None)])
def test_meta_country_lowercase_iso2_hashed(raw, expected):
    assert F.normalize_country(pd.Series([raw], dtype=object))[0] == expected
    got = F.meta_frame(_rows(country=raw, phone="+442079460958")).loc[0, "country"]
    assert got == (h(expected) if expected else None)


def test_value_column_is_plain_non_negative_clv():
    rows = pd.concat([_rows(), _rows(clv=-3.2), _rows(clv=np.nan)], ignore_index=True)
    out = F.meta_value_frame(rows)
    assert out["value"].tolist() == [123.46, 0.0, 0.0]
    assert out["email"].tolist() == [h("john.doe@example.com")] * 3


def test_email_lists_are_plaintext_with_platform_vocabulary():
    k = F.klaviyo_frame(_rows())
    assert k.iloc[0].tolist() == ["john.doe@example.com", "John", "Subscribed", "Loyal, gift buyers", "10% off",
                                  "Scarf; Mug", "19:00 Europe/London"]
    m = F.mailchimp_frame(_rows())
    assert m.iloc[0].tolist() == ["john.doe@example.com", "John", "Loyal gift buyers", "10% off", "Scarf; Mug",
                                  "19:00 Europe/London"]  # Mailchimp splits tags on commas


def test_builder_and_registry_must_agree():
    bad = F.ExportFormat("x", "X", "ads", "all", False, ("Email",), ("Email",), F.google_frame)
    with pytest.raises(ValueError, match="x: builder wrote columns"):
        F.build_file(bad, _rows())


def test_written_files_read_back_exactly(tmp_path):
    """End to end through export_audiences: the bytes on disk for one consented person."""
    n = 3
    con = pd.concat([_rows(email=f"  Person{i}@Example.COM ", phone=f"+44 20 7946 095{i}") for i in range(n)],
                    ignore_index=True)
    con["customer_id"] = [f"C{i}" for i in range(n)]
    con["consent_email"] = con["consent_ads"] = True
    con["erased"] = con["unsubscribed"] = con["bounced"] = False
    people = con[["customer_id", "segment", "offer", "top_products", "local_send_time", "clv"]].assign(score_decile=1)
    out = tmp_path / "report"
    audiences.export_audiences(con, people, out, min_size=1)
    meta = (out / "exports" / "meta_custom_audience.csv").read_text(encoding="utf-8").splitlines()
    assert meta[0] == "email,phone,country"
    assert meta[1] == f"{h('person0@example.com')},{h('442079460950')},{h('gb')}"
    seed = (out / "exports" / "meta_value_lookalike_seed.csv").read_text(encoding="utf-8").splitlines()
    assert seed[0] == "email,phone,country,value" and seed[1].endswith(",123.46")
    google = (out / "exports" / "google_ads_customer_match.csv").read_text(encoding="utf-8").splitlines()
    assert google[:2] == ["Email,Phone", f"{h('person0@example.com')},{h('+442079460950')}"]
    tiktok = (out / "exports" / "tiktok_custom_audience.csv").read_text(encoding="utf-8").splitlines()
    assert tiktok[:2] == ["Email_SHA256,Phone_SHA256", f"{h('person0@example.com')},{h('442079460950')}"]
    klaviyo = (private_dir(out) / "klaviyo_list_import.csv").read_text(encoding="utf-8").splitlines()
    assert klaviyo[0].startswith("Email,First Name,Email Marketing Consent,")
    assert klaviyo[1] == 'person0@example.com,John,Subscribed,"Loyal, gift buyers",10% off,Scarf; Mug,19:00 Europe/London'
    mailchimp = (private_dir(out) / "mailchimp_audience_import.csv").read_text(encoding="utf-8").splitlines()
    assert mailchimp[1] == "person0@example.com,John,Loyal gift buyers,10% off,Scarf; Mug,19:00 Europe/London"
