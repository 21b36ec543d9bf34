"""Tests-only writer: canonical tables -> Shopify's Orders export and Customers export CSV files.

Writes the files the Shopify admin exports (columns as in the Help Center: Orders > Export,
Customers > Export), so an end-to-end test can build a realistic shop from the synthetic sample:
export -> ``playbook import shopify`` -> validate -> run.

What the format cannot carry (the importer cannot give it back): refund order ids (they come back
as ``<Name>-refund``) and refund times of orders that were not cancelled (each refund is written as
the order's cancellation, ``Cancelled at``, the only refund date the export has), sub-second times,
list prices (``products.price`` comes back as the latest price paid), customers' signup time, birth
year, gender, acquisition channel, ad consent and erasure, and ids of customers without an email.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from tests.platform_exports import write_csv

ORDER_COLUMNS = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
    "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
    "Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,"
    "Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,"
    "Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,"
    "Lineitem discount,Tax 1 Name,Tax 1 Value,Phone,Receipt Number,Duties,Billing Province Name,"
    "Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,Payment References").split(",")
CUSTOMER_COLUMNS = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,"
    "Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,"
    "Total Spent,Total Orders,Note,Tax Exempt,Tags").split(",")
#: Canonical order channel -> Shopify ``Source``.
SOURCES = {"web": "web", "app": "iphone", "store": "pos", "unknown": ""}



def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA else str(value)


def refund_parents(orders: pd.DataFrame) -> pd.Series:
    """For each refund (negative revenue): the sale it refunds. ``R<n>`` refunds ``O<n>`` (the
    sample's convention), else the customer's latest sale before the refund."""
    sales = orders[orders["revenue"] >= 0].sort_values("order_ts")
    ids = set(sales["order_id"])
    parents: dict[str, str | None] = {}
    for r in orders[orders["revenue"] < 0].itertuples():
        guess = "O" + str(r.order_id)[1:]
        if guess in ids:
            parents[r.order_id] = guess
            continue
        before = sales[(sales["customer_id"] == r.customer_id) & (sales["order_ts"] <= r.order_ts)]
        parents[r.order_id] = before["order_id"].iloc[-1] if len(before) else None
    return pd.Series(parents, dtype=object)


def _time(ts: pd.Timestamp, tz: ZoneInfo) -> str:
    return ts.to_pydatetime().astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %z")


def _order_rows(tables: dict[str, pd.DataFrame], currency: str, tz: ZoneInfo) -> list[list[str]]:
    orders, items = tables["orders"], tables["order_items"]
    products = tables["products"].set_index("product_id")
    customers = tables["customers"].set_index("customer_id")
    parents = refund_parents(orders)
    refunds = orders[orders["revenue"] < 0].assign(parent=lambda d: d["order_id"].map(parents)).groupby("parent").agg(
        refunded=("revenue", lambda s: -s.sum()), refund_ts=("order_ts", "max"))
    lines = {k: g for k, g in items.groupby("order_id")}
    rows = []
    for n, o in enumerate(orders[orders["revenue"] >= 0].sort_values(["order_ts", "order_id"]).itertuples(), 1):
        c = customers.loc[o.customer_id] if o.customer_id in customers.index else None
        refunded = float(refunds["refunded"].get(o.order_id, 0.0))
        status = "paid" if refunded <= 0 else ("refunded" if refunded >= o.revenue else "partially_refunded")
        created = _time(o.order_ts, tz)
        head = {"Name": o.order_id, "Email": _text(c["email"]) if c is not None else "", "Financial Status": status,
                "Paid at": created, "Fulfillment Status": "fulfilled",
                "Accepts Marketing": "yes" if c is not None and bool(c["consent_email"]) else "no",
                "Currency": currency, "Subtotal": f"{o.revenue:.2f}", "Shipping": "0.00", "Taxes": "0.00",
                "Total": f"{o.revenue:.2f}", "Discount Code": _text(o.promo_code),
                "Discount Amount": f"{o.discount:.2f}", "Created at": created,
                "Billing Country": _text(c["country"]) if c is not None else "",
                "Cancelled at": _time(refunds["refund_ts"][o.order_id], tz) if refunded > 0 else "",
                "Payment Method": "Shopify Payments", "Refunded Amount": f"{refunded:.2f}",
                "Outstanding Balance": "0.00", "Id": str(5_000_000 + n), "Risk Level": "Low",
                "Source": SOURCES.get(_text(o.channel), ""), "Phone": _text(c["phone"]).strip() if c is not None else ""}
        its = lines.get(o.order_id)
        its = its.itertuples() if its is not None else [None]
        for k, it in enumerate(its):
            row = dict(head) if k == 0 else {"Name": o.order_id}
            if it is not None:
                p = products.loc[it.product_id] if it.product_id in products.index else None
                row.update({"Lineitem quantity": str(int(it.quantity)),
                            "Lineitem name": _text(p["name"]) if p is not None else it.product_id,
                            "Lineitem price": f"{it.unit_price:.2f}", "Lineitem sku": it.product_id,
                            "Lineitem requires shipping": "true", "Lineitem taxable": "true",
                            "Lineitem fulfillment status": "fulfilled",
                            "Vendor": _text(p["category"]) if p is not None else "", "Lineitem discount": "0.00"})
            rows.append([row.get(col, "") for col in ORDER_COLUMNS])
    return rows


def _customer_rows(tables: dict[str, pd.DataFrame]) -> list[list[str]]:
    orders = tables["orders"]
    spent = orders.groupby("customer_id")["revenue"].sum()
    count = orders[orders["revenue"] >= 0].groupby("customer_id").size()
    rows = []
    for c in tables["customers"].itertuples():
        row = {"Customer ID": c.customer_id, "First Name": _text(c.first_name), "Email": _text(c.email),
               "Accepts Email Marketing": "yes" if bool(c.consent_email) else "no",
               "Default Address Country Code": _text(c.country), "Phone": _text(c.phone).strip(),
               "Accepts SMS Marketing": "no", "Total Spent": f"{spent.get(c.customer_id, 0.0):.2f}",
               "Total Orders": str(int(count.get(c.customer_id, 0))), "Tax Exempt": "no"}
        rows.append([row.get(col, "") for col in CUSTOMER_COLUMNS])
    return rows


def write(tables: dict[str, pd.DataFrame], folder: Path, currency: str = "USD",
          timezone: str = "America/New_York") -> list[Path]:
    """Write ``orders_export.csv`` and ``customers_export.csv`` into ``folder`` (times in ``timezone``
    with their UTC offset, as the shop's admin writes them); returns the two paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo(timezone)
    out = []
    for name, header, rows in (("orders_export.csv", ORDER_COLUMNS, _order_rows(tables, currency, tz)),
                               ("customers_export.csv", CUSTOMER_COLUMNS, _customer_rows(tables))):
        out.append(write_csv(folder / name, header, rows))
    return out


__all__ = ["refund_parents", "write"]
