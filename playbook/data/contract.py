"""The data contract: the nine canonical tables, declared once.

Every source (the bundled sample, a retailer's Parquet/CSV export, a warehouse) is read as these
tables. Everything else (validation, synthetic data, warehouse access, cleaning) uses these
declarations instead of repeating column lists.

Conventions (docs/architecture.md, "Conventions the code relies on"): timestamps are timezone-aware UTC, money is a float
in the campaign's currency, IDs are strings.

Dtype vocabulary (``Column.dtype``):

``"string"``
    text (IDs, codes, free text).
``"float"`` / ``"int"``
    numbers; ``"int"`` columns may arrive as floats when they hold nulls.
``"bool"``
    true/false.
``"timestamp"``
    timezone-aware timestamp (UTC). Naive timestamps are rejected unless a timezone is configured.
``"date"``
    calendar date (spend is daily).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playbook.errors import DataError

#: Order channels; ``unknown`` for exports that do not say where an order was placed.
ORDER_CHANNELS: tuple[str, ...] = ("web", "app", "store", "unknown")
EVENT_TYPES: tuple[str, ...] = ("view", "add_to_cart", "checkout", "purchase")
MESSAGE_CHANNELS: tuple[str, ...] = ("email", "sms", "push")
TOUCH_CHANNELS: tuple[str, ...] = (
    "paid_search",
    "paid_social",
    "display",
    "email",
    "affiliate",
    "organic",
    "direct",
)
#: Channels that are bought (appear in the ``spend`` table).
PAID_CHANNELS: tuple[str, ...] = ("paid_search", "paid_social", "display", "affiliate", "email")
GENDERS: tuple[str, ...] = ("f", "m", "x")

DTYPES: tuple[str, ...] = ("string", "float", "int", "bool", "timestamp", "date")


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name : str
        Column name as it must appear in the source.
    dtype : str
        One of :data:`DTYPES`.
    required : bool
        The column must exist in every source. Optional columns may be absent.
    nullable : bool
        Null values are allowed. Nulls in a non-nullable column are an error.
    allowed : tuple of str, optional
        Allowed values for a categorical column (nulls are governed by ``nullable``).
    min_value : float, optional
        Smallest allowed value for numeric columns (``0`` for quantities, prices, spend).
    pii : bool
        Personal data: never shown in reports or notebook outputs.
    description : str
        What the column means, with units.
    enables : str
        What the playbook does with the column beyond the basics (empty for columns every use
        needs); shown in the data README (``playbook init-data``). Descriptive only.
    default : object
        Value an absent optional column takes (``None``: null); :data:`FIRST_ORDER` and
        :data:`CAMPAIGN_COUNTRY` are derived values (see :class:`playbook.data.warehouse.Warehouse`).
    default_note : str
        The default in words, for ``validate-data`` and the data README (empty: "empty").
    """

    name: str
    dtype: str
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    pii: bool = False
    description: str = ""
    enables: str = ""
    default: object = None
    default_note: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"Unknown dtype {self.dtype!r} for column {self.name!r}. Choose from {list(DTYPES)}")


#: ``Column.default`` of ``customers.signup_ts``: the customer's first order (else the data's first order).
FIRST_ORDER = "<first order>"
#: ``Column.default`` of ``customers.country``: the campaign's first country (set by the step).
CAMPAIGN_COUNTRY = "<campaign country>"


@dataclass(frozen=True)
class ForeignKey:
    """``table.column`` must reference an existing ``ref_table.ref_column`` (nulls allowed)."""

    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns, primary key and foreign keys.

    ``key`` lists the columns that together identify a row uniquely. ``not_before_signup`` names
    timestamp columns that should not precede the customer's ``signup_ts`` (events before signup);
    such rows are flagged as soft problems, not rejected. ``description`` says what a row is;
    ``enables`` what the playbook does with the table (shown in the data README written by
    ``playbook init-data``; descriptive only, validation ignores both). ``required``: the table
    must exist in every source (only ``customers`` and ``orders``); an absent optional table reads
    as an empty table, and the sections that need it explain what is missing. A column's
    ``required`` then means "required when the table is given".
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    description: str = ""
    not_before_signup: tuple[str, ...] = field(default=())
    enables: str = ""
    required: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def timestamp_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.dtype == "timestamp")

    def column(self, name: str) -> Column:
        """Return the column called ``name``; raise ``DataError`` listing the columns that exist."""
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(
            f"Table {self.name!r} has no column {name!r}. Columns: {list(self.column_names)}"
        )


def _c(name: str, dtype: str, *, required: bool = True, nullable: bool = False,
       allowed: tuple[str, ...] | None = None, min_value: float | None = None, pii: bool = False,
       description: str = "", enables: str = "", default: object = None, default_note: str = "") -> Column:
    return Column(name, dtype, required=required, nullable=nullable, allowed=allowed,
                  min_value=min_value, pii=pii, description=description, enables=enables,
                  default=default, default_note=default_note)


CUSTOMERS = Table(
    name="customers",
    description="One row per customer account (people may have several accounts: see cleaning).",
    enables="every step: who the customers are, segments, audiences and exports",
    key=("customer_id",),
    required=True,
    columns=(
        _c("customer_id", "string", description="Customer id (any text, unique per account)"),
        _c("email", "string", nullable=True, required=False, pii=True, description="Email address as entered",
           enables="merging duplicate accounts, email lists (plaintext, private folder) and ad audiences (hashed)"),
        _c("phone", "string", nullable=True, required=False, pii=True, description="Phone number as entered",
           enables="merging duplicate accounts, ad-platform audiences (hashed)"),
        _c("first_name", "string", nullable=True, required=False, pii=True, description="First name",
           enables="personalised greeting in the email lists (private folder)"),
        _c("country", "string", required=False, description="ISO 3166-1 alpha-2 country code, e.g. DE",
           enables="per-country forecasts and targets, local send times", default=CAMPAIGN_COUNTRY,
           default_note="every customer in the campaign's first country"),
        _c("signup_ts", "timestamp", required=False, description="Account creation time (UTC)",
           enables="tenure, lifecycle stages", default=FIRST_ORDER,
           default_note="the customer's first order (customers without orders: the data's first order)"),
        _c("birth_year", "int", nullable=True, required=False, description="Year of birth, e.g. 1984",
           enables="age-based segment rules"),
        _c("gender", "string", nullable=True, required=False, allowed=GENDERS,
           description="Gender as recorded", enables="gender-based segment rules"),
        _c("acquisition_channel", "string", nullable=True, required=False, allowed=TOUCH_CHANNELS,
           description="Channel that brought the customer", enables="funnel by acquisition channel"),
        _c("consent_email", "bool", required=False, description="Opted in to marketing email",
           enables="email exports (only consenting customers are exported)", default=False,
           default_note="false: consent unknown counts as not consented, so nobody is exported"),
        _c("consent_ads", "bool", required=False, description="Consented to ad-platform audiences",
           enables="ad-platform audience exports", default=False,
           default_note="false: consent unknown counts as not consented, so nobody is exported"),
        _c("erased_at", "timestamp", nullable=True, required=False,
           description="Right-to-erasure time (UTC); never export",
           enables="honouring erasure: erased customers leave exports and models"),
    ),
)

PRODUCTS = Table(
    name="products",
    description="Product catalogue.",
    enables="product names in exports, category features and segments",
    key=("product_id",),
    columns=(
        _c("product_id", "string", description="Product id (SKU)"),
        _c("name", "string", description="Product name shown in exports",
           enables="top products named in email exports"),
        _c("category", "string", description="Product category",
           enables="category-share features and segments"),
        _c("price", "float", min_value=0.0, description="List price, campaign currency"),
    ),
)

ORDERS = Table(
    name="orders",
    description="One row per order; refunds are rows with negative revenue.",
    enables="every step: history, forecasts, targets, CLV, segments, retrospective",
    key=("order_id",),
    required=True,
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("order_id", "string", description="Order id (unique)"),
        _c("customer_id", "string", description="Buyer, a customers.customer_id"),
        _c("order_ts", "timestamp",
           description="Order time (UTC); a date alone (2025-03-01) counts for that calendar day"),
        _c("channel", "string", required=False, allowed=ORDER_CHANNELS, description="Where the order was placed",
           enables="targets and history per order channel, attribution of web and app orders",
           default="unknown", default_note="unknown"),
        _c("revenue", "float", description="Net revenue, campaign currency; negative only for refunds"),
        _c("discount", "float", required=False, min_value=0.0, description="Discount granted, campaign currency",
           enables="promo share, discount-driven segments, offer targeting", default=0.0,
           default_note="0 (no discounts)"),
        _c("promo_code", "string", nullable=True, required=False, description="Promo code used, if any",
           enables="price sensitivity for offers, promo propensity"),
    ),
)

ORDER_ITEMS = Table(
    name="order_items",
    description="Order lines: what each order contained.",
    enables="product recommendations (co-purchase), category features",
    key=("order_id", "product_id"),
    foreign_keys=(
        ForeignKey("order_id", "orders", "order_id"),
        ForeignKey("product_id", "products", "product_id"),
    ),
    columns=(
        _c("order_id", "string", description="An orders.order_id"),
        _c("product_id", "string", description="A products.product_id"),
        _c("quantity", "int", min_value=0.0, description="Units bought"),
        _c("unit_price", "float", min_value=0.0, description="Price paid per unit, campaign currency"),
    ),
)

EVENTS = Table(
    name="events",
    description="Web/app behaviour events.",
    enables="funnel, browsing features, cart abandoners, recommendations from views",
    key=("event_id",),
    foreign_keys=(
        ForeignKey("customer_id", "customers", "customer_id"),
        ForeignKey("product_id", "products", "product_id"),
    ),
    not_before_signup=("event_ts",),
    columns=(
        _c("event_id", "string", description="Event id (unique)"),
        _c("customer_id", "string", description="A customers.customer_id"),
        _c("session_id", "string", description="Visit the event belongs to", enables="session funnel"),
        _c("event_ts", "timestamp", description="Event time (UTC)"),
        _c("event_type", "string", allowed=EVENT_TYPES, description="Funnel stage of the event"),
        _c("product_id", "string", nullable=True, description="Product viewed or added, if any",
           enables="recommendations from views, browse-abandonment offers"),
    ),
)

MESSAGES = Table(
    name="messages",
    description="Outbound CRM messages and their engagement.",
    enables="engagement features, send-time choice, suppression, message-test metrics",
    key=("message_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("message_id", "string", description="Message id (unique)"),
        _c("customer_id", "string", description="Recipient, a customers.customer_id"),
        _c("campaign_id", "string", description="CRM campaign that sent it"),
        _c("channel", "string", allowed=MESSAGE_CHANNELS, description="Message channel"),
        _c("variant", "string", nullable=True, description="Test variant of the message, if any",
           enables="message tests (subject lines, content)"),
        _c("sent_ts", "timestamp", description="Send time (UTC)"),
        _c("opened_ts", "timestamp", nullable=True, description="First open time (UTC), if opened",
           enables="open rates, best send time"),
        _c("clicked_ts", "timestamp", nullable=True, description="First click time (UTC), if clicked",
           enables="click rates, engagement features"),
        _c("unsubscribed_ts", "timestamp", nullable=True, description="Unsubscribe time (UTC), if any",
           enables="suppressing unsubscribed customers"),
        # Beyond the original contract: hard bounces are needed for suppression (issue 4).
        _c("bounced_ts", "timestamp", nullable=True, required=False,
           description="Hard-bounce time (UTC), if any", enables="suppressing bounced addresses"),
    ),
)

TOUCHES = Table(
    name="touches",
    description="Marketing touchpoints (clicks/visits attributed to a channel).",
    enables="multi-touch attribution, tracking audit",
    key=("touch_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("touch_id", "string", description="Touch id (unique)"),
        _c("customer_id", "string", description="A customers.customer_id"),
        _c("touch_ts", "timestamp", description="Touch time (UTC)"),
        _c("channel", "string", allowed=TOUCH_CHANNELS, description="Marketing channel of the touch"),
        _c("campaign_id", "string", nullable=True, description="Media campaign, if known"),
        _c("utm_source", "string", nullable=True, description="UTM source tag", enables="tracking audit"),
        _c("utm_medium", "string", nullable=True, description="UTM medium tag", enables="tracking audit"),
        _c("utm_campaign", "string", nullable=True, description="UTM campaign tag", enables="tracking audit"),
    ),
)

SPEND = Table(
    name="spend",
    description="Daily media spend per channel and campaign.",
    enables="budget allocation, ROAS and response curves, iROAS of holdout tests",
    key=("date", "channel", "campaign_id"),
    columns=(
        _c("date", "date", description="Day of the spend"),
        _c("channel", "string", allowed=TOUCH_CHANNELS, description="Paid channel"),
        _c("campaign_id", "string", description="Media campaign"),
        _c("spend", "float", min_value=0.0, description="Spend, campaign currency"),
        _c("impressions", "int", min_value=0.0, description="Ads shown", enables="summed with daily spend"),
        _c("clicks", "int", min_value=0.0, description="Ad clicks", enables="summed with daily spend"),
    ),
)

ASSIGNMENTS = Table(
    name="assignments",
    description="Experiment arm assignments.",
    enables="experiment analysis (step 04), channel incrementality",
    key=("experiment_id", "customer_id"),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("experiment_id", "string", description="Experiment id, as in the campaign file"),
        _c("customer_id", "string", description="A customers.customer_id"),
        _c("variant", "string", description="Arm the customer was assigned to"),
        _c("assigned_ts", "timestamp", description="Assignment time (UTC)"),
    ),
)

#: All canonical tables by name, in dependency order (referenced tables first).
TABLES: dict[str, Table] = {
    t.name: t
    for t in (CUSTOMERS, PRODUCTS, ORDERS, ORDER_ITEMS, EVENTS, MESSAGES, TOUCHES, SPEND, ASSIGNMENTS)
}

#: Tables every source must have; every other table is optional.
REQUIRED_TABLES: tuple[str, ...] = tuple(t.name for t in TABLES.values() if t.required)

#: ``{table: (pii columns...)}`` — columns that must never appear in reports.
PII_COLUMNS: dict[str, tuple[str, ...]] = {
    t.name: tuple(c.name for c in t.columns if c.pii) for t in TABLES.values() if any(c.pii for c in t.columns)
}


#: Where a user looks up the columns of each table (appended to data errors).
CONTRACT_HINT = ("the columns of every table are listed in README.md, 'Your own data'; "
                 "`playbook init-data DIR` writes empty templates")


def get_table(name: str) -> Table:
    """Return the declaration of table ``name``.

    Raises
    ------
    DataError
        If ``name`` is not a canonical table; the message lists the tables that exist.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise DataError(f"Unknown table {name!r}. Choose from {list(TABLES)}") from None
