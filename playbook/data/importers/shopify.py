"""Shopify Orders export and Customers export -> ``customers``, ``orders``, ``order_items``, ``products``.

Reads the CSV files Shopify admin exports (Orders > Export > "All orders", "CSV for Excel, Numbers,
or other spreadsheet programs"; Customers > Export). Documentation followed:

* Exporting orders (the Orders export CSV, one row per line item, order-level fields on an order's
  first row only): https://help.shopify.com/en/manual/fulfillment/managing-orders/exporting-orders
* Customer CSV file (current columns ``Customer ID``, ``Accepts Email Marketing``,
  ``Default Address Country Code``, ``Accepts SMS Marketing``; exports before 2022 had
  ``Accepts Marketing``, ``Country Code`` and no ``Customer ID``):
  https://help.shopify.com/en/manual/customers/import-export-customers
* Order fields (``subtotal_price`` is the line items after discounts, before shipping and taxes;
  ``source_name`` ``web``, ``pos``, ``shopify_draft_order``, ``iphone``, ``android`` or an app id;
  financial statuses): https://shopify.dev/docs/api/admin-rest/latest/resources/order

Which file is which is read from its header (a customers export has no ``Lineitem name``);
customers exports are read first, then orders exports, whatever the order of the arguments.

Mapping decisions:

* **Orders that count**: ``Financial Status`` ``paid``, ``partially_paid``, ``partially_refunded``,
  ``refunded`` or ``authorized`` (money taken or reserved). ``pending`` (manual payment not yet
  received, e.g. bank transfer or cash on delivery), ``voided`` and ``expired`` orders are not
  sales and are skipped (counted in the notes; import again once they are paid, the import
  merges). A cancelled order follows its financial status: cancelled before payment it is
  ``voided`` (skipped); cancelled and refunded it is a sale plus a refund (net zero).
* **revenue** = ``Subtotal``: line items after discounts, before shipping and (unless the shop's
  prices include tax) taxes; the playbook's revenue is merchandise revenue (the sum of the order's
  items less its discount), shipping and sales tax are not sales. ``Total`` (which adds shipping
  and taxes) is used only when the export lacks ``Subtotal``. ``Subtotal - Discount Amount``
  would subtract the discount twice. **discount** = ``Discount Amount``; **promo_code** =
  ``Discount Code``; **order_ts** = ``Created at`` (with its UTC offset).
* **Refunds**: ``Refunded Amount`` > 0 gives an extra order ``<Name>-refund`` with negative
  revenue, scaled by ``Subtotal / Total`` to the same basis as the sale (a full refund of an order
  with shipping nets to zero). The export has no refund date: the refund is dated ``Cancelled at``
  when the order was cancelled, else at the order's own time (said in the notes).
* **channel** from ``Source``: ``web`` -> web, ``pos`` -> store, ``iphone`` / ``android`` (Shopify's
  mobile apps and mobile sales channels) -> app; ``shopify_draft_order`` (orders keyed in by
  staff), app ids and blanks -> unknown (the notes list them).
* **Customers**: the Customers export gives ``customer_id`` (``Customer ID``, else an id derived
  from the email), email, first name, phone, country and ``consent_email`` (``Accepts Email
  Marketing``). Shopify has no consent for ad-platform audiences, so ``consent_ads`` is false
  (consent unknown counts as not consented). SMS consent and tags have no canonical column. The
  export's ``Customer ID`` is the id (accounts sharing an email stay separate accounts: the
  segment step merges people), except for a customer an earlier orders-only import already created
  under an email-derived id, who keeps that id (their orders use it); an older export without
  ``Customer ID`` finds the customer by email in the output folder, else derives the id from the
  email.
  Orders find their customer by email; emails not known get a customer derived from their latest
  order (``Accepts Marketing``, ``Billing Country``, ``Phone``); orders without an email (point of
  sale, phone orders) get their own customer ``shopify-guest-<Id or Name>`` (counted in the notes).
* **order_items** from the line-item rows (same product twice in one order: quantities summed,
  price averaged); **products**: ``product_id`` = ``Lineitem sku``, else ``shopify-`` + a stable id
  of ``Lineitem name``; price = ``Lineitem price`` of the latest order; ``category`` = ``Vendor``
  (the export has no product type; the vendor is the only grouping it carries), else ``unknown``.
* Two identical line-item rows of the same order are one row to the reader (exact duplicates are
  dropped); Shopify writes a repeated product as one line with its quantity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from playbook.data.importers.base import (
    KNOWN,
    ExportFile,
    ImportSession,
    boolean,
    email_customer_id,
    email_norm,
    lit,
    number,
    q,
    text,
    timestamp,
)
from playbook.errors import DataError

PLATFORM = "Shopify"
EXPORT_ORDERS, EXPORT_CUSTOMERS = "Orders export", "Customers export"
HOW_ORDERS = ("In Shopify admin, go to Orders > Export, choose All orders and 'CSV for Excel, Numbers, or other "
              "spreadsheet programs', then Export orders.")
HOW_CUSTOMERS = ("In Shopify admin, go to Customers > Export, choose All customers and 'CSV for Excel, Numbers, "
                 "or other spreadsheet programs', then Export customers.")
HOW = f"{HOW_ORDERS} {HOW_CUSTOMERS}"

ORDERS_REQUIRED = {
    "name": ("Name",), "email": ("Email",), "status": ("Financial Status",), "created": ("Created at",),
    "total": ("Total",), "qty": ("Lineitem quantity",), "li_name": ("Lineitem name",),
    "li_price": ("Lineitem price",),
}
ORDERS_OPTIONAL = {
    "subtotal": ("Subtotal",), "currency": ("Currency",), "code": ("Discount Code",),
    "discount": ("Discount Amount",), "refunded": ("Refunded Amount",), "cancelled": ("Cancelled at",),
    "sku": ("Lineitem sku",), "vendor": ("Vendor",), "country": ("Billing Country",), "source": ("Source",),
    "accepts": ("Accepts Marketing", "Accepts Email Marketing"), "id": ("Id",), "phone": ("Phone",),
    "billing_phone": ("Billing Phone",),
}
CUSTOMERS_REQUIRED = {"email": ("Email",)}
CUSTOMERS_OPTIONAL = {
    "customer_id": ("Customer ID", "Id", "ID"), "first_name": ("First Name",),
    "consent": ("Accepts Email Marketing", "Accepts Marketing"),
    "country": ("Default Address Country Code", "Country Code"), "phone": ("Phone",),
    "address_phone": ("Default Address Phone",),
}

#: Financial statuses of orders that count as sales.
COUNTED_STATUSES: tuple[str, ...] = ("paid", "partially_paid", "partially_refunded", "refunded", "authorized")
#: ``Source`` -> canonical order channel; other sources are ``unknown``.
SOURCE_CHANNELS: dict[str, str] = {"web": "web", "pos": "store", "iphone": "app", "android": "app"}

_ORDER_MARKERS = ("Lineitem name", "Financial Status")
_CUSTOMER_MARKERS = ("Customer ID", "Accepts Email Marketing", "Total Spent", "Total Orders", "First Name")


def load(session: ImportSession, files: Sequence[Path]) -> None:
    """Add the canonical rows of every Shopify Orders or Customers export in ``files``."""
    customers: list[ExportFile] = []
    orders: list[ExportFile] = []
    for path in files:
        f = session.read_csv(path, platform=PLATFORM, export="export", how=HOW)
        kind = _kind(f)
        f.export, f.how = (EXPORT_ORDERS, HOW_ORDERS) if kind == "orders" else (EXPORT_CUSTOMERS, HOW_CUSTOMERS)
        (orders if kind == "orders" else customers).append(f)
    if customers:
        _load_customers(session, customers)
    if orders:
        _load_orders(session, orders)


def _kind(f: ExportFile) -> str:
    """``"orders"`` or ``"customers"`` from the file's header; a clear error for anything else."""
    if any(f.has(m) for m in _ORDER_MARKERS):
        return "orders"
    if f.has("Email") and any(f.has(m) for m in _CUSTOMER_MARKERS):
        return "customers"
    raise DataError(
        f"{f.path.name} is neither a Shopify Orders export (columns Name, Email, Financial Status, Lineitem name, "
        f"...) nor a Customers export (columns Customer ID, Email, Accepts Email Marketing, ...); its columns are "
        f"{', '.join(f.columns[:8])}{', ...' if len(f.columns) > 8 else ''}. {HOW}")


def _strip_quote(col_sql: str) -> str:
    """SQL: trimmed text without the leading apostrophe spreadsheet-safe exports put before ids and
    phone numbers (``'7203384672`` -> ``7203384672``); empty -> NULL."""
    return f"NULLIF(LTRIM(TRIM(CAST({col_sql} AS VARCHAR)), ''''), '')"


def _opt(cols: dict[str, str], key: str, expr: Callable[[str], str], default: str = "CAST(NULL AS VARCHAR)") -> str:
    """SQL ``expr(column name)`` for the file's column ``key`` when the file has it, else ``default``."""
    return expr(cols[key]) if key in cols else default


def _id(col: str) -> str:
    return _strip_quote(q(col))


def _code(col: str) -> str:
    return _country(q(col))


def _country(col_sql: str) -> str:
    """SQL: an ISO 3166-1 alpha-2 code (upper case) or NULL for anything else (country names)."""
    s = f"UPPER(TRIM(CAST({col_sql} AS VARCHAR)))"
    return f"CASE WHEN regexp_matches({s}, '^[A-Z]{{2}}$') THEN {s} END"


# --------------------------------------------------------------------------------------------
# customers export


def _customers_rows(session: ImportSession, f: ExportFile) -> str:
    """Normalise one Customers export into a temp table; returns its name."""
    cols = f.require(CUSTOMERS_REQUIRED)
    cols.update(f.optional(CUSTOMERS_OPTIONAL))
    if "consent" not in cols:
        session.note(f"{f.path.name}: no 'Accepts Email Marketing' column; email consent is taken as not given.")
    phone = f"COALESCE({_opt(cols, 'phone', _id)}, {_opt(cols, 'address_phone', _id)})"
    name = f"{f.view}_customers"
    session.con.execute(f"""
        CREATE TEMP TABLE {name} AS
        SELECT {_opt(cols, 'customer_id', _id)} AS shop_id, {text(cols['email'])} AS email,
               {email_norm(q(cols['email']))} AS email_n,
               {_opt(cols, 'first_name', text)} AS first_name,
               {_opt(cols, 'country', _code)} AS country, {phone} AS phone,
               {_opt(cols, 'consent', boolean, 'FALSE')} AS consent_email
        FROM {f.view}""")
    return name


def _load_customers(session: ImportSession, files: list[ExportFile]) -> None:
    """Add ``customers`` from Customers exports (one row per customer) and remember them."""
    parts = [_customers_rows(session, f) for f in files]
    union = " UNION ALL ".join(f"SELECT * FROM {p}" for p in parts)
    known = f"(SELECT email_norm, MIN(customer_id) AS customer_id FROM {KNOWN} GROUP BY email_norm)"
    session.con.execute(f"""
        CREATE TEMP TABLE shopify_customers AS
        SELECT COALESCE(CASE WHEN k.customer_id LIKE 'shopify-%' THEN k.customer_id END, c.shop_id,
                        k.customer_id, CASE WHEN c.email_n IS NOT NULL
                        THEN {email_customer_id('shopify', 'c.email_n')} END) AS customer_id,
               c.email, c.email_n, c.first_name, c.country, c.phone, c.consent_email
        FROM ({union}) c LEFT JOIN {known} k ON k.email_norm = c.email_n""")
    dropped = session.count("SELECT COUNT(*) FROM shopify_customers WHERE customer_id IS NULL")
    if dropped:
        session.note(f"Customers export: {dropped:,} row(s) with neither a Customer ID nor an email skipped.")
    rows = session.add("customers", """
        SELECT customer_id, email, phone, first_name, country, consent_email, FALSE AS consent_ads
        FROM shopify_customers WHERE customer_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY customer_id
                                   ORDER BY consent_email DESC, email, phone, first_name, country) = 1""",
                       priority=1)
    session.remember_customers("SELECT DISTINCT customer_id, email_n FROM shopify_customers "
                               "WHERE customer_id IS NOT NULL")
    session.note(f"Customers export: {rows:,} customers; consent_ads is false for all (Shopify records no consent "
                 "for ad-platform audiences); SMS consent and tags are not imported.")


# --------------------------------------------------------------------------------------------
# orders export


def _order_lines(session: ImportSession, f: ExportFile) -> str:
    """Normalise one Orders export (typed columns, UTC times) into a temp table; returns its name."""
    cols = f.require(ORDERS_REQUIRED)
    cols.update(f.optional(ORDERS_OPTIONAL))
    session.check_currency(f, cols.get("currency"))
    dc, tz = f.decimal_comma, session.options.timezone

    def num(key: str) -> str:
        return number(cols[key], dc) if key in cols else "CAST(NULL AS DOUBLE)"

    ts = "CAST(NULL AS TIMESTAMPTZ)"
    phone = f"COALESCE({_opt(cols, 'phone', _id)}, {_opt(cols, 'billing_phone', _id)})"
    accepts = f"LOWER(TRIM({q(cols['accepts'])}))" if "accepts" in cols else "CAST(NULL AS VARCHAR)"
    name = f"{f.view}_lines"
    session.con.execute(f"""
        CREATE TEMP TABLE {name} AS
        SELECT {text(cols['name'])} AS name, {text(cols['email'])} AS email,
               REPLACE(LOWER({text(cols['status'])}), ' ', '_') AS status,
               {timestamp(q(cols['created']), tz)} AS created_ts,
               {_opt(cols, 'cancelled', lambda c: timestamp(q(c), tz), ts)} AS cancelled_ts,
               {num('subtotal')} AS subtotal, {num('total')} AS total, {num('discount')} AS discount,
               {num('refunded')} AS refunded, {_opt(cols, 'code', text)} AS code,
               {_opt(cols, 'country', _code)} AS country,
               {_opt(cols, 'source', lambda c: f"LOWER({text(c)})")} AS source, {accepts} AS accepts,
               {_opt(cols, 'id', _id)} AS shop_id, {phone} AS phone,
               {num('qty')} AS qty, {text(cols['li_name'])} AS li_name, {num('li_price')} AS li_price,
               {_opt(cols, 'sku', text)} AS sku,
               {_opt(cols, 'vendor', text)} AS vendor
        FROM {f.view} WHERE {text(cols['name'])} IS NOT NULL""")
    return name


def _channel_sql(col: str) -> str:
    cases = " ".join(f"WHEN {lit(s)} THEN {lit(ch)}" for s, ch in SOURCE_CHANNELS.items())
    return f"CASE {col} {cases} ELSE 'unknown' END"


def _build_orders(session: ImportSession, union: str) -> None:
    """Temp table ``shopify_orders``: one row per order (order-level fields of its first row) with
    its customer resolved, and ``shopify_lines`` with the line items of the orders that count."""
    counted = ", ".join(lit(s) for s in COUNTED_STATUSES)
    known = f"(SELECT email_norm, MIN(customer_id) AS customer_id FROM {KNOWN} GROUP BY email_norm)"
    session.con.execute(f"CREATE TEMP TABLE shopify_all_lines AS {union}")
    session.con.execute(f"""
        CREATE TEMP TABLE shopify_orders AS
        WITH o AS (
            SELECT name, MAX(email) AS email, MAX(status) AS status, MAX(created_ts) AS created_ts,
                   MAX(cancelled_ts) AS cancelled_ts, MAX(subtotal) AS subtotal, MAX(total) AS total,
                   MAX(discount) AS discount, MAX(refunded) AS refunded, MAX(code) AS code,
                   MAX(country) AS country, MAX(source) AS source, MAX(accepts) AS accepts,
                   MAX(shop_id) AS shop_id, MAX(phone) AS phone
            FROM shopify_all_lines GROUP BY name)
        SELECT o.*, {email_norm('o.email')} AS email_n,
               COALESCE(k.customer_id,
                        CASE WHEN {email_norm('o.email')} IS NOT NULL THEN {email_customer_id('shopify', 'o.email')} END,
                        'shopify-guest-' || COALESCE(o.shop_id, LTRIM(o.name, '#'))) AS customer_id,
               o.status IN ({counted}) AS counts, {_channel_sql('o.source')} AS channel
        FROM o LEFT JOIN {known} k ON k.email_norm = {email_norm('o.email')}""")
    session.con.execute("""
        CREATE TEMP TABLE shopify_lines AS
        SELECT l.name AS order_id, COALESCE(l.sku, 'shopify-' || LEFT(sha256(l.li_name), 16)) AS product_id,
               l.li_name, l.li_price, l.qty, l.vendor, o.created_ts
        FROM shopify_all_lines l JOIN shopify_orders o ON o.name = l.name
        WHERE o.counts AND o.created_ts IS NOT NULL AND l.li_name IS NOT NULL AND COALESCE(l.qty, 0) > 0""")


def _note_orders(session: ImportSession) -> None:
    skipped = session.con.execute(
        "SELECT COALESCE(status, '(blank)') AS s, COUNT(*) FROM shopify_orders WHERE NOT counts "
        "GROUP BY s ORDER BY s").fetchall()
    if skipped:
        session.note("Orders export: orders that are not sales skipped, by Financial Status: "
                     + ", ".join(f"{s} {n:,}" for s, n in skipped) + ".")
    bad = session.count("SELECT COUNT(*) FROM shopify_orders WHERE counts AND created_ts IS NULL")
    if bad:
        session.note(f"Orders export: {bad:,} order(s) without a readable 'Created at' skipped.")
    guests = session.count("SELECT COUNT(*) FROM shopify_orders WHERE counts AND email_n IS NULL")
    if guests:
        session.note(f"Orders export: {guests:,} order(s) without an email (point of sale, phone orders) each get "
                     "their own customer shopify-guest-<order Id>.")
    unknown = session.con.execute(
        "SELECT COALESCE(source, '(blank)') AS s, COUNT(*) FROM shopify_orders WHERE counts AND channel = 'unknown' "
        "GROUP BY s ORDER BY s").fetchall()
    if unknown:
        session.note("Orders export: channel unknown for Source " + ", ".join(f"{s} ({n:,})" for s, n in unknown)
                     + " (web -> web, pos -> store, iphone/android -> app).")
    if session.count("SELECT COUNT(*) FROM shopify_orders WHERE counts AND subtotal IS NULL AND total IS NOT NULL"):
        session.note("Orders export: no Subtotal for some orders; their revenue is Total (includes shipping and taxes).")


def _add_orders(session: ImportSession) -> None:
    """Add sales and refund rows to ``orders``."""
    sales = session.add("orders", """
        SELECT name AS order_id, customer_id, created_ts AS order_ts, channel,
               ROUND(COALESCE(subtotal, total), 2) AS revenue, ROUND(ABS(COALESCE(discount, 0)), 2) AS discount,
               code AS promo_code
        FROM shopify_orders WHERE counts AND created_ts IS NOT NULL AND COALESCE(subtotal, total) IS NOT NULL""")
    refunds = session.add("orders", """
        SELECT name || '-refund' AS order_id, customer_id, COALESCE(cancelled_ts, created_ts) AS order_ts, channel,
               -ROUND(LEAST(refunded * CASE WHEN subtotal IS NOT NULL AND total > 0 THEN subtotal / total ELSE 1 END,
                            COALESCE(subtotal, total)), 2) AS revenue,
               0.0 AS discount, CAST(NULL AS VARCHAR) AS promo_code
        FROM shopify_orders
        WHERE counts AND created_ts IS NOT NULL AND COALESCE(subtotal, total) IS NOT NULL AND refunded > 0""")
    session.note(f"Orders export: {sales:,} orders and {refunds:,} refunds (revenue = Subtotal: items after discounts, "
                 "before shipping and taxes).")
    if refunds:
        undated = session.count("SELECT COUNT(*) FROM shopify_orders WHERE counts AND refunded > 0 "
                                "AND cancelled_ts IS NULL")
        session.note(f"Orders export: the export has no refund dates; {undated:,} refund(s) of orders that were not "
                     "cancelled are dated at the order's own time, the others at 'Cancelled at'.")


def _add_customers_from_orders(session: ImportSession) -> None:
    """Customers of the imported orders that the folder and the Customers export do not know."""
    rows = session.add("customers", f"""
        SELECT customer_id, email, phone, CAST(NULL AS VARCHAR) AS first_name, country,
               COALESCE(accepts IN ('yes', 'true', '1'), FALSE) AS consent_email, FALSE AS consent_ads
        FROM shopify_orders
        WHERE counts AND created_ts IS NOT NULL AND customer_id NOT IN (SELECT customer_id FROM {KNOWN}
                                                                        WHERE customer_id IS NOT NULL)
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY created_ts DESC, name DESC) = 1""")
    session.remember_customers("SELECT DISTINCT customer_id, email_n FROM shopify_orders WHERE counts")
    if rows:
        session.note(f"Orders export: {rows:,} customer(s) not in a Customers export taken from their latest order "
                     "(consent from Accepts Marketing, country from Billing Country); import the Customers export "
                     "too for names and email consent.")


def _add_items_and_products(session: ImportSession) -> None:
    session.add("order_items", """
        SELECT order_id, product_id, CAST(ROUND(SUM(qty)) AS BIGINT) AS quantity,
               ROUND(SUM(qty * COALESCE(li_price, 0)) / SUM(qty), 2) AS unit_price
        FROM shopify_lines GROUP BY order_id, product_id""")
    session.add("products", """
        SELECT product_id, li_name AS name, COALESCE(vendor, 'unknown') AS category,
               GREATEST(COALESCE(li_price, 0), 0) AS price
        FROM shopify_lines
        QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY created_ts DESC, order_id DESC, li_name) = 1""")


def _load_orders(session: ImportSession, files: list[ExportFile]) -> None:
    """Add ``orders`` (sales and refunds), ``order_items``, ``products`` and the customers they need."""
    parts = [_order_lines(session, f) for f in files]
    union = " UNION ".join(f"SELECT * FROM {p}" for p in parts)  # UNION: a file given twice counts once
    _build_orders(session, union)
    _note_orders(session)
    _add_orders(session)
    _add_customers_from_orders(session)
    _add_items_and_products(session)
