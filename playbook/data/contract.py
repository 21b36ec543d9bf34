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

ORDER_CHANNELS: tuple[str, ...] = ("web", "app", "store")
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
    """

    name: str
    dtype: str
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    pii: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"Unknown dtype {self.dtype!r} for column {self.name!r}. Choose from {list(DTYPES)}")


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
    such rows are flagged as soft problems, not rejected.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    description: str = ""
    not_before_signup: tuple[str, ...] = field(default=())

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
       description: str = "") -> Column:
    return Column(name, dtype, required=required, nullable=nullable, allowed=allowed,
                  min_value=min_value, pii=pii, description=description)


CUSTOMERS = Table(
    name="customers",
    description="One row per customer account (people may have several accounts: see cleaning).",
    key=("customer_id",),
    columns=(
        _c("customer_id", "string", description="Customer id"),
        _c("email", "string", nullable=True, pii=True, description="Email address as entered"),
        _c("phone", "string", nullable=True, pii=True, description="Phone number as entered"),
        _c("first_name", "string", nullable=True, pii=True, description="First name"),
        _c("country", "string", description="ISO 3166-1 alpha-2 country code"),
        _c("signup_ts", "timestamp", description="Account creation time (UTC)"),
        _c("birth_year", "int", nullable=True, required=False, description="Year of birth"),
        _c("gender", "string", nullable=True, required=False, allowed=GENDERS),
        _c("acquisition_channel", "string", nullable=True, required=False, allowed=TOUCH_CHANNELS),
        _c("consent_email", "bool", description="Opted in to marketing email"),
        _c("consent_ads", "bool", description="Consented to ad-platform audiences"),
        _c("erased_at", "timestamp", nullable=True, description="Right-to-erasure time; never export"),
    ),
)

PRODUCTS = Table(
    name="products",
    key=("product_id",),
    columns=(
        _c("product_id", "string"),
        _c("name", "string"),
        _c("category", "string"),
        _c("price", "float", min_value=0.0, description="List price, campaign currency"),
    ),
)

ORDERS = Table(
    name="orders",
    description="One row per order; refunds are rows with negative revenue.",
    key=("order_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("order_id", "string"),
        _c("customer_id", "string"),
        _c("order_ts", "timestamp"),
        _c("channel", "string", allowed=ORDER_CHANNELS),
        _c("revenue", "float", description="Net revenue, campaign currency; negative only for refunds"),
        _c("discount", "float", min_value=0.0, description="Discount granted, campaign currency"),
        _c("promo_code", "string", nullable=True),
    ),
)

ORDER_ITEMS = Table(
    name="order_items",
    key=("order_id", "product_id"),
    foreign_keys=(
        ForeignKey("order_id", "orders", "order_id"),
        ForeignKey("product_id", "products", "product_id"),
    ),
    columns=(
        _c("order_id", "string"),
        _c("product_id", "string"),
        _c("quantity", "int", min_value=0.0),
        _c("unit_price", "float", min_value=0.0, description="Price paid per unit, campaign currency"),
    ),
)

EVENTS = Table(
    name="events",
    description="Web/app behaviour events.",
    key=("event_id",),
    foreign_keys=(
        ForeignKey("customer_id", "customers", "customer_id"),
        ForeignKey("product_id", "products", "product_id"),
    ),
    not_before_signup=("event_ts",),
    columns=(
        _c("event_id", "string"),
        _c("customer_id", "string"),
        _c("session_id", "string"),
        _c("event_ts", "timestamp"),
        _c("event_type", "string", allowed=EVENT_TYPES),
        _c("product_id", "string", nullable=True),
    ),
)

MESSAGES = Table(
    name="messages",
    description="Outbound CRM messages and their engagement.",
    key=("message_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("message_id", "string"),
        _c("customer_id", "string"),
        _c("campaign_id", "string"),
        _c("channel", "string", allowed=MESSAGE_CHANNELS),
        _c("variant", "string", nullable=True),
        _c("sent_ts", "timestamp"),
        _c("opened_ts", "timestamp", nullable=True),
        _c("clicked_ts", "timestamp", nullable=True),
        _c("unsubscribed_ts", "timestamp", nullable=True),
        # Beyond the original contract: hard bounces are needed for suppression (issue 4).
        _c("bounced_ts", "timestamp", nullable=True, required=False),
    ),
)

TOUCHES = Table(
    name="touches",
    description="Marketing touchpoints (clicks/visits attributed to a channel).",
    key=("touch_id",),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("touch_id", "string"),
        _c("customer_id", "string"),
        _c("touch_ts", "timestamp"),
        _c("channel", "string", allowed=TOUCH_CHANNELS),
        _c("campaign_id", "string", nullable=True),
        _c("utm_source", "string", nullable=True),
        _c("utm_medium", "string", nullable=True),
        _c("utm_campaign", "string", nullable=True),
    ),
)

SPEND = Table(
    name="spend",
    description="Daily media spend per channel and campaign.",
    key=("date", "channel", "campaign_id"),
    columns=(
        _c("date", "date"),
        _c("channel", "string", allowed=TOUCH_CHANNELS),
        _c("campaign_id", "string"),
        _c("spend", "float", min_value=0.0, description="Spend, campaign currency"),
        _c("impressions", "int", min_value=0.0),
        _c("clicks", "int", min_value=0.0),
    ),
)

ASSIGNMENTS = Table(
    name="assignments",
    description="Experiment arm assignments.",
    key=("experiment_id", "customer_id"),
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    columns=(
        _c("experiment_id", "string"),
        _c("customer_id", "string"),
        _c("variant", "string"),
        _c("assigned_ts", "timestamp"),
    ),
)

#: All canonical tables by name, in dependency order (referenced tables first).
TABLES: dict[str, Table] = {
    t.name: t
    for t in (CUSTOMERS, PRODUCTS, ORDERS, ORDER_ITEMS, EVENTS, MESSAGES, TOUCHES, SPEND, ASSIGNMENTS)
}

#: ``{table: (pii columns...)}`` — columns that must never appear in reports.
PII_COLUMNS: dict[str, tuple[str, ...]] = {
    t.name: tuple(c.name for c in t.columns if c.pii) for t in TABLES.values() if any(c.pii for c in t.columns)
}


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
