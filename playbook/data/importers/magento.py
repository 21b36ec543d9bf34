"""Magento 2 / Adobe Commerce ``sales_order`` and ``sales_order_item`` tables as CSV ->
``customers``, ``orders``, ``order_items``, ``products``.

Reads the two database tables exported as CSV with their column names as header (``SELECT * FROM
sales_order`` / ``sales_order_item`` saved as CSV by mysql, phpMyAdmin or Adminer). Documentation
followed:

* The tables' columns (``entity_id``, ``increment_id``, ``state``, ``customer_id``,
  ``customer_email``, ``customer_is_guest``, ``created_at``, ``updated_at``, ``order_currency_code``,
  ``base_currency_code``, ``subtotal``, ``discount_amount``, ``grand_total``, ``total_refunded``,
  ``coupon_code`` and their ``base_`` twins; ``item_id``, ``order_id``, ``parent_item_id``,
  ``sku``, ``name``, ``qty_ordered``, ``price``, ``product_type``): the declarative schema
  ``app/code/Magento/Sales/etc/db_schema.xml`` in https://github.com/magento/magento2 and
  https://developer.adobe.com/commerce/php/development/components/declarative-schema/
* Order states (``new``, ``pending_payment``, ``processing``, ``complete``, ``closed``,
  ``canceled``, ``holded``, ``payment_review``):
  https://experienceleague.adobe.com/en/docs/commerce-admin/stores-sales/order-management/orders/order-status

Mapping decisions:

* **Orders that count**: state ``processing``, ``complete``, ``closed`` (fully refunded: a sale
  plus a refund) and ``holded`` (on hold after payment). ``canceled`` (Magento cancels only orders
  that were never invoiced: no money taken), ``new`` and ``pending_payment`` (not paid yet) and
  ``payment_review`` are skipped and counted in the notes.
* **Times**: Magento stores ``created_at`` in UTC whatever the store's locale, so it is read as
  UTC regardless of ``--timezone`` (said in the notes when another zone is set).
* **revenue** = ``subtotal + discount_amount`` (``discount_amount`` is negative in Magento): items
  after discounts, before shipping and tax, as for Shopify; ``grand_total`` adds shipping and tax.
  **discount** = ``-discount_amount``; **promo_code** = ``coupon_code``; **channel** = ``web``
  (Magento orders are storefront orders; the table carries no sales channel).
* **Currency**: amounts in ``order_currency_code`` when that is the campaign's currency; when only
  ``base_currency_code`` is, the ``base_`` columns are used (noted); otherwise the import stops.
* **Refunds**: ``total_refunded`` > 0 gives an order ``<increment_id>-refund`` with negative revenue,
  scaled by ``revenue / grand_total`` to the sale's basis (a full refund nets to zero), dated at
  ``updated_at`` (the credit memo is usually the order's last change; ``sales_order_creditmemo``
  has the exact date and is not read), else at the order time.
* **Customers**: registered buyers keep Magento's ``customer_id``; guests are found by email among
  the customers already known, else get ``magento-`` + a hash of the email (``magento-guest-<increment_id>``
  without one). New customers get email and first name from their latest order; email consent is
  false (newsletter subscriptions live in ``newsletter_subscriber``, not read), country is left to
  the store's fill (``sales_order_address`` is not read).
* **order_items**: top-level items only (``parent_item_id`` empty): a configurable product's parent
  line carries the chosen variant's sku, price and quantity, its child line repeats them at price 0,
  so counting both would double the quantity. ``product_id`` = ``sku`` (else Magento's
  ``product_id``); ``quantity`` = ``qty_ordered``; ``unit_price`` = ``price``; **products**
  (name and price of the latest order, ``category`` ``unknown``: categories are in the catalog tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from playbook.data.importers.base import (
    KNOWN,
    ExportFile,
    ImportSession,
    email_customer_id,
    email_norm,
    lit,
    number,
    q,
    text,
    timestamp,
)
from playbook.errors import DataError

PLATFORM = "Magento"
EXPORT_ORDERS, EXPORT_ITEMS = "sales_order table", "sales_order_item table"
HOW = ("Export the database tables with their column names as the header, e.g. "
       "mysql -e 'SELECT * FROM sales_order' --batch | tr '\\t' ',' > sales_order.csv (same for sales_order_item), "
       "or in phpMyAdmin/Adminer: select the table, Export, format CSV, 'Put columns names in the first row'.")

ORDERS_REQUIRED = {
    "entity_id": ("entity_id",), "increment_id": ("increment_id",), "state": ("state",),
    "created_at": ("created_at",), "customer_email": ("customer_email",), "subtotal": ("subtotal",),
    "grand_total": ("grand_total",),
}
ORDERS_OPTIONAL = {
    "customer_id": ("customer_id",), "is_guest": ("customer_is_guest",), "firstname": ("customer_firstname",),
    "discount_amount": ("discount_amount",), "coupon_code": ("coupon_code",), "total_refunded": ("total_refunded",),
    "updated_at": ("updated_at",), "currency": ("order_currency_code",), "base_currency": ("base_currency_code",),
    "base_subtotal": ("base_subtotal",), "base_grand_total": ("base_grand_total",),
    "base_discount_amount": ("base_discount_amount",), "base_total_refunded": ("base_total_refunded",),
}
ITEMS_REQUIRED = {"order_id": ("order_id",), "sku": ("sku",), "qty": ("qty_ordered",), "price": ("price",)}
ITEMS_OPTIONAL = {"parent": ("parent_item_id",), "name": ("name",), "product_id": ("product_id",),
                  "base_price": ("base_price",)}

#: Order states that count as sales.
COUNTED_STATES: tuple[str, ...] = ("processing", "complete", "closed", "holded")
_AMOUNTS = ("subtotal", "grand_total", "discount_amount", "total_refunded")


def _val(col: str) -> str:
    """SQL: trimmed text of a column; empty and the database's NULL markers (``NULL``, ``\\N``) -> NULL."""
    return f"CASE WHEN {text(col)} IN ('NULL', '\\N') THEN NULL ELSE {text(col)} END"


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the canonical rows of Magento ``sales_order`` (and ``sales_order_item``) CSV files."""
    orders: list[ExportFile] = []
    items: list[ExportFile] = []
    for path in files:
        f = session.read_csv(path, platform=PLATFORM, export="table", how=HOW)
        if f.has("increment_id") or f.has("grand_total"):
            f.export = EXPORT_ORDERS
            orders.append(f)
        elif f.has("qty_ordered") or f.has("parent_item_id"):
            f.export = EXPORT_ITEMS
            items.append(f)
        else:
            raise DataError(f"{path.name} is neither Magento's sales_order table (columns entity_id, increment_id, "
                            f"created_at, grand_total, ...) nor sales_order_item (item_id, order_id, sku, qty_ordered, "
                            f"price, ...); its columns are {', '.join(f.columns[:8])}. {HOW}")
    if not orders:
        raise DataError("Magento import needs the sales_order table (the items alone have no dates or buyers). "
                        + HOW)
    if session.options.timezone not in ("UTC", "Etc/UTC"):
        session.note(f"Magento stores created_at in UTC; read as UTC (--timezone {session.options.timezone} "
                     "is not applied to Magento's times).")
    union = " UNION ".join(f"SELECT * FROM {_order_rows(session, f)}" for f in orders)
    session.con.execute(f"CREATE TEMP TABLE magento_orders AS {_resolve(union)}")
    _note_orders(session)
    _add_orders(session)
    _add_customers(session)
    if items:
        _add_items(session, " UNION ".join(f"SELECT * FROM {_item_rows(session, f)}" for f in items))
    else:
        session.note("No sales_order_item file: orders imported without their items and products.")


def _amount_columns(session: ImportSession, f: ExportFile, cols: dict[str, str]) -> dict[str, str]:
    """Columns holding the amounts in the campaign's currency (order or base currency)."""
    expected = (session.options.currency or "").upper()
    order_amounts = {k: cols[k] for k in _AMOUNTS if k in cols}
    if not expected or "currency" not in cols:
        session.check_currency(f, cols.get("currency"))
        return order_amounts
    found = {r[0] for r in session.con.execute(
        f"SELECT DISTINCT UPPER(TRIM({q(cols['currency'])})) FROM {f.view} WHERE {text(cols['currency'])} IS NOT NULL"
    ).fetchall()}
    base_found = set()
    if "base_currency" in cols:
        base_found = {r[0] for r in session.con.execute(
            f"SELECT DISTINCT UPPER(TRIM({q(cols['base_currency'])})) FROM {f.view} "
            f"WHERE {text(cols['base_currency'])} IS NOT NULL").fetchall()}
    base_amounts = {k: cols[f"base_{k}"] for k in _AMOUNTS if f"base_{k}" in cols}
    if found - {expected} and base_found == {expected} and {"subtotal", "grand_total"} <= set(base_amounts):
        session.note(f"{f.path.name}: orders in {', '.join(sorted(found))}; the base_ amounts in {expected} are used.")
        return base_amounts
    session.check_currency(f, cols["currency"])
    return order_amounts


def _order_rows(session: ImportSession, f: ExportFile) -> str:
    """Normalise one sales_order file (typed columns, UTC times) into a temp table; returns its name."""
    cols = f.require(ORDERS_REQUIRED)
    cols.update(f.optional(ORDERS_OPTIONAL))
    amounts = _amount_columns(session, f, cols)
    dc = f.decimal_comma

    def num(key: str) -> str:
        return number(amounts[key], dc) if key in amounts else "CAST(NULL AS DOUBLE)"

    guest = (f"COALESCE(TRIM({q(cols['is_guest'])}) IN ('1', 'true'), FALSE)" if "is_guest" in cols
             else "FALSE")
    cid = f"NULLIF(REGEXP_REPLACE({_val(cols['customer_id'])}, '\\.0+$', ''), '')" if "customer_id" in cols \
        else "CAST(NULL AS VARCHAR)"
    updated = timestamp(q(cols["updated_at"]), "UTC") if "updated_at" in cols else "CAST(NULL AS TIMESTAMPTZ)"
    first = _val(cols["firstname"]) if "firstname" in cols else "CAST(NULL AS VARCHAR)"
    coupon = _val(cols["coupon_code"]) if "coupon_code" in cols else "CAST(NULL AS VARCHAR)"
    name = f"{f.view}_orders"
    session.con.execute(f"""
        CREATE TEMP TABLE {name} AS
        SELECT {_val(cols['entity_id'])} AS entity_id, {_val(cols['increment_id'])} AS increment_id,
               LOWER({_val(cols['state'])}) AS state, {timestamp(q(cols['created_at']), 'UTC')} AS created_ts,
               {updated} AS updated_ts, CASE WHEN {guest} THEN NULL ELSE {cid} END AS shop_customer_id,
               {_val(cols['customer_email'])} AS email, {first} AS first_name, {coupon} AS coupon_code,
               {num('subtotal')} AS subtotal, {num('grand_total')} AS grand_total,
               COALESCE({num('discount_amount')}, 0) AS discount_amount, COALESCE({num('total_refunded')}, 0) AS refunded
        FROM {f.view} WHERE {_val(cols['increment_id'])} IS NOT NULL""")
    return name


def _resolve(union: str) -> str:
    """SQL: the orders with their customer id and whether they count."""
    counted = ", ".join(lit(s) for s in COUNTED_STATES)
    known = f"(SELECT email_norm, MIN(customer_id) AS customer_id FROM {KNOWN} GROUP BY email_norm)"
    return f"""
        SELECT o.*, {email_norm('o.email')} AS email_n,
               COALESCE(o.shop_customer_id, k.customer_id,
                        CASE WHEN {email_norm('o.email')} IS NOT NULL THEN {email_customer_id('magento', 'o.email')} END,
                        'magento-guest-' || o.increment_id) AS customer_id,
               o.state IN ({counted}) AND o.created_ts IS NOT NULL AND o.subtotal IS NOT NULL AS counts,
               ROUND(o.subtotal + LEAST(o.discount_amount, -o.discount_amount), 2) AS revenue
        FROM ({union}) o LEFT JOIN {known} k ON k.email_norm = {email_norm('o.email')}"""


def _note_orders(session: ImportSession) -> None:
    skipped = session.con.execute(
        "SELECT COALESCE(state, '(blank)') AS s, COUNT(*) FROM magento_orders WHERE NOT counts "
        "GROUP BY s ORDER BY s").fetchall()
    if skipped:
        session.note("sales_order: orders that are not sales skipped, by state (or without a readable created_at "
                     "or subtotal): " + ", ".join(f"{s} {n:,}" for s, n in skipped) + ".")
    dup = session.count("SELECT COUNT(*) - COUNT(DISTINCT increment_id) FROM magento_orders")
    if dup:
        raise DataError(f"sales_order: {dup:,} increment_id(s) appear on several different rows (several store "
                        "views numbering orders alike?). Export one store's orders at a time, or the same export "
                        "only once.")


def _add_orders(session: ImportSession) -> None:
    sales = session.add("orders", """
        SELECT increment_id AS order_id, customer_id, created_ts AS order_ts, 'web' AS channel, revenue,
               ROUND(ABS(discount_amount), 2) AS discount, coupon_code AS promo_code
        FROM magento_orders WHERE counts""")
    refunds = session.add("orders", """
        SELECT increment_id || '-refund' AS order_id, customer_id, COALESCE(updated_ts, created_ts) AS order_ts,
               'web' AS channel,
               -ROUND(LEAST(refunded * CASE WHEN grand_total > 0 THEN revenue / grand_total ELSE 1 END, revenue), 2)
                   AS revenue,
               0.0 AS discount, CAST(NULL AS VARCHAR) AS promo_code
        FROM magento_orders WHERE counts AND refunded > 0""")
    session.note(f"sales_order: {sales:,} orders and {refunds:,} refunds (revenue = subtotal + discount_amount: items "
                 "after discounts, before shipping and tax; refunds dated at updated_at).")


def _add_customers(session: ImportSession) -> None:
    rows = session.add("customers", f"""
        SELECT customer_id, email, CAST(NULL AS VARCHAR) AS phone, first_name, FALSE AS consent_email,
               FALSE AS consent_ads
        FROM magento_orders
        WHERE counts AND customer_id NOT IN (SELECT customer_id FROM {KNOWN} WHERE customer_id IS NOT NULL)
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY created_ts DESC, increment_id DESC) = 1""")
    session.remember_customers("SELECT DISTINCT customer_id, email_n FROM magento_orders WHERE counts")
    guests = session.count("SELECT COUNT(DISTINCT customer_id) FROM magento_orders WHERE counts "
                           "AND shop_customer_id IS NULL")
    session.note(f"sales_order: {rows:,} new customer(s) from the orders ({guests:,} guest buyer(s) identified by "
                 "email); email consent false (newsletter_subscriber is not read), country filled by the import.")


def _item_rows(session: ImportSession, f: ExportFile) -> str:
    cols = f.require(ITEMS_REQUIRED)
    cols.update(f.optional(ITEMS_OPTIONAL))
    dc = f.decimal_comma
    parent = _val(cols["parent"]) if "parent" in cols else "CAST(NULL AS VARCHAR)"
    pid = f"COALESCE({_val(cols['sku'])}, " + (f"{_val(cols['product_id'])})" if "product_id" in cols
                                                 else "CAST(NULL AS VARCHAR))")
    name_sql = _val(cols["name"]) if "name" in cols else pid
    name = f"{f.view}_items"
    session.con.execute(f"""
        CREATE TEMP TABLE {name} AS
        SELECT {_val(cols['order_id'])} AS entity_id, {pid} AS product_id, COALESCE({name_sql}, {pid}) AS name,
               {number(cols['qty'], dc)} AS qty, {number(cols['price'], dc)} AS price
        FROM {f.view} WHERE {parent} IS NULL OR {parent} = '0'""")
    return name


def _add_items(session: ImportSession, union: str) -> None:
    session.con.execute(f"""
        CREATE TEMP TABLE magento_lines AS
        SELECT o.increment_id AS order_id, i.product_id, i.name, i.qty, i.price, o.created_ts
        FROM ({union}) i JOIN magento_orders o ON o.entity_id = i.entity_id
        WHERE o.counts AND i.product_id IS NOT NULL AND COALESCE(i.qty, 0) > 0""")
    orphans = session.count(f"SELECT COUNT(*) FROM ({union}) i WHERE i.entity_id NOT IN "
                            "(SELECT entity_id FROM magento_orders WHERE entity_id IS NOT NULL)")
    if orphans:
        session.note(f"sales_order_item: {orphans:,} item(s) of orders not in the sales_order file skipped.")
    session.add("order_items", """
        SELECT order_id, product_id, CAST(ROUND(SUM(qty)) AS BIGINT) AS quantity,
               ROUND(SUM(qty * COALESCE(price, 0)) / SUM(qty), 2) AS unit_price
        FROM magento_lines GROUP BY order_id, product_id""")
    n = session.add("products", """
        SELECT product_id, name, 'unknown' AS category, GREATEST(COALESCE(price, 0), 0) AS price
        FROM magento_lines
        QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY created_ts DESC, order_id DESC, name) = 1""")
    session.note(f"sales_order_item: {n:,} products (category unknown: categories live in Magento's catalog tables).")
