"""Tests-only writer: canonical tables -> Magento 2 ``sales_order`` and ``sales_order_item`` tables
as CSV (database column names as header, ``NULL`` for nulls, as phpMyAdmin writes them).

What the format cannot carry (the importer cannot give it back): refund order ids (they come back
as ``<increment_id>-refund``; refund times are carried by ``updated_at``), order channels (Magento
orders come back as ``web``), sub-second times, product categories and list prices, and every
customer column but the id, email and first name (Magento keeps the rest in its customer tables).
Customer ids are written as they are (Magento's would be integers).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.platform_exports import write_csv
from tests.platform_exports.shopify import refund_parents

ORDER_COLUMNS = (
    "entity_id,state,status,coupon_code,protect_code,shipping_description,is_virtual,store_id,customer_id,"
    "base_discount_amount,base_grand_total,base_shipping_amount,base_subtotal,base_tax_amount,base_total_refunded,"
    "discount_amount,grand_total,shipping_amount,subtotal,tax_amount,total_refunded,customer_is_guest,increment_id,"
    "base_currency_code,customer_email,customer_firstname,customer_lastname,order_currency_code,store_currency_code,"
    "created_at,updated_at").split(",")
ITEM_COLUMNS = (
    "item_id,order_id,parent_item_id,quote_item_id,store_id,created_at,updated_at,product_id,product_type,sku,name,"
    "qty_ordered,price,base_price,original_price,discount_amount,row_total,base_row_total").split(",")


def _text(value: object) -> str:
    return "NULL" if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)


def _utc(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")


def write(tables: dict[str, pd.DataFrame], folder: Path, currency: str = "EUR") -> list[Path]:
    """Write ``sales_order.csv`` and ``sales_order_item.csv`` into ``folder``; returns the two paths."""
    folder.mkdir(parents=True, exist_ok=True)
    orders, items = tables["orders"], tables["order_items"]
    customers = tables["customers"].set_index("customer_id")
    names = tables["products"].set_index("product_id")["name"]
    parents = refund_parents(orders)
    refunds = orders[orders["revenue"] < 0].assign(parent=lambda d: d["order_id"].map(parents)).groupby("parent").agg(
        refunded=("revenue", lambda s: -s.sum()), refund_ts=("order_ts", "max"))
    sales = orders[orders["revenue"] >= 0].sort_values(["order_ts", "order_id"]).reset_index(drop=True)
    entity = {oid: str(n) for n, oid in enumerate(sales["order_id"], 1)}
    order_rows = []
    for o in sales.itertuples():
        c = customers.loc[o.customer_id] if o.customer_id in customers.index else None
        refunded = float(refunds["refunded"].get(o.order_id, 0.0))
        state = "complete" if refunded <= 0 else ("closed" if refunded >= o.revenue else "complete")
        money = {"discount_amount": f"{-o.discount:.4f}", "grand_total": f"{o.revenue:.4f}",
                 "shipping_amount": "0.0000", "subtotal": f"{o.revenue + o.discount:.4f}", "tax_amount": "0.0000",
                 "total_refunded": f"{refunded:.4f}"}
        row = {"entity_id": entity[o.order_id], "state": state, "status": state, "coupon_code": _text(o.promo_code),
               "protect_code": "x" + entity[o.order_id], "shipping_description": "Flat Rate - Fixed",
               "is_virtual": "0", "store_id": "1", "customer_id": o.customer_id, "customer_is_guest": "0",
               "increment_id": o.order_id, "base_currency_code": currency,
               "customer_email": _text(c["email"]) if c is not None else "NULL",
               "customer_firstname": _text(c["first_name"]) if c is not None else "NULL",
               "order_currency_code": currency, "store_currency_code": currency, "created_at": _utc(o.order_ts),
               "updated_at": _utc(refunds["refund_ts"][o.order_id]) if refunded > 0 else _utc(o.order_ts),
               **money, **{f"base_{k}": v for k, v in money.items()}}
        order_rows.append([row.get(col, "NULL") for col in ORDER_COLUMNS])
    item_rows = []
    created = dict(zip(sales["order_id"], sales["order_ts"], strict=True))
    for n, it in enumerate(items[items["order_id"].isin(entity)].itertuples(), 1):
        ts = _utc(created[it.order_id])
        row = {"item_id": str(n), "order_id": entity[it.order_id], "quote_item_id": str(n), "store_id": "1",
               "created_at": ts, "updated_at": ts, "product_id": str(n), "product_type": "simple",
               "sku": it.product_id, "name": _text(names.get(it.product_id, it.product_id)),
               "qty_ordered": f"{it.quantity:.4f}", "price": f"{it.unit_price:.4f}",
               "base_price": f"{it.unit_price:.4f}", "original_price": f"{it.unit_price:.4f}",
               "discount_amount": "0.0000", "row_total": f"{it.quantity * it.unit_price:.4f}",
               "base_row_total": f"{it.quantity * it.unit_price:.4f}"}
        item_rows.append([row.get(col, "NULL") for col in ITEM_COLUMNS])
    out = []
    for name, header, rows in (("sales_order.csv", ORDER_COLUMNS, order_rows),
                               ("sales_order_item.csv", ITEM_COLUMNS, item_rows)):
        out.append(write_csv(folder / name, header, rows))
    return out


__all__ = ["write"]
