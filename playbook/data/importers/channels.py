"""What the web-analytics importers (GA4, Segment) share: the source/medium -> touch channel mapping,
visits (sessions) by inactivity, and reading values out of nested JSON records.

Channel mapping
---------------
A touch's ``channel`` (one of the contract's :data:`~playbook.data.contract.TOUCH_CHANNELS`) is
derived from its traffic source and medium (``utm_source`` / ``utm_medium``) by a condensed form of
GA4's default channel grouping (https://support.google.com/analytics/answer/9756891). GA4 has about
twenty groups; the contract has seven, so several GA4 groups share one channel. Rules are tried in
order, case-insensitively, on the trimmed values; the first that matches wins:

=====  ============  =====================================================================
order  channel       rule (GA4 group it condenses)
=====  ============  =====================================================================
1      direct        no source, or source ``(direct)``/``direct``, and medium empty,
                     ``(none)`` or ``(not set)`` (Direct)
2      email         source or medium ``email``, ``e-mail``, ``e_mail``, ``e mail`` (Email)
3      email         medium ``sms``, ``push``, ``mobile``, ``notification`` (SMS, Mobile Push
                     Notifications: owned messages; ``email`` is the contract's only owned
                     message channel among touch channels)
4      affiliate     medium ``affiliate`` / ``affiliates`` / ``partner`` (Affiliates)
5      display       medium ``display``, ``banner``, ``expandable``, ``interstitial``, ``cpm``,
                     ``programmatic`` (Display)
6      paid_social   a social source (facebook, instagram, tiktok, ...) with a paid medium
                     (``.*cp.*``, ``ppc``, ``retargeting``, ``paid.*``), or medium
                     ``paid_social``/``paidsocial``/``social_paid`` (Paid Social)
7      paid_search   a search source (google, bing, ...) with a paid medium, or medium
                     ``cpc``, ``ppc``, ``paidsearch``, ``paid_search`` (Paid Search, Paid Shopping)
8      display       any other paid medium (``.*cp.*``, ``retargeting``, ``paid.*``, ``video``)
                     from a source that is neither search nor social (Cross-network, Paid
                     Video, Paid Other: bought media that is not search or social)
9      organic       everything else with a source or medium: ``organic``, ``referral``,
                     ``social``, unknown values (Organic Search/Social/Video/Shopping,
                     Referral, Unassigned). Unknown tags are never credited to a paid channel.
=====  ============  =====================================================================

A user's ``--channel PATTERN=CHANNEL`` rules (``ImportOptions.channel_rules``) come first: a touch
whose campaign (``utm_campaign``) matches ``PATTERN`` gets ``CHANNEL``.

:func:`channel_of` applies the same rules in Python (used by the tests and the export writers);
:func:`channel_sql` writes them as one DuckDB ``CASE`` expression for the importers.

Sessions by inactivity
----------------------
When an export carries no session id (Segment; GA4 rows without ``ga_session_id``), a visit is
derived the way GA4 and Segment's destinations define one: a new session starts when a user has
been inactive for more than 30 minutes (GA4's default session timeout,
https://support.google.com/analytics/answer/12131703). See :func:`inactivity_sessions_sql`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from playbook.data.importers.base import check_rules, lit

#: Minutes of inactivity after which a new session starts (GA4's default session timeout).
SESSION_TIMEOUT_MINUTES = 30

#: Values GA4 writes when there is no source or medium; they count as absent.
NO_VALUE: tuple[str, ...] = ("(direct)", "direct", "(none)", "(not set)", "none", "not set", "(organic)",
                             "(referral)", "")

_EMAIL = r"^(email|e-mail|e_mail|e mail)$"
_MESSAGES = r"^(sms|push|mobile|notification|notifications|mobile[_ -]?push)$"
_AFFILIATE = r"^(affiliate|affiliates|partner|partners)$"
_DISPLAY = r"^(display|banner|expandable|interstitial|cpm|programmatic)$"
_PAID = r"^(.*cp.*|ppc|retargeting|paid.*|video)$"
_PAID_SOCIAL_MEDIUM = r"^(paid[_ -]?social|social[_ -]?paid)$"
_PAID_SEARCH_MEDIUM = r"^(cpc|ppc|paidsearch|paid[_ -]?search)$"
#: Social sites (GA4 keeps an internal list; these are the common ones, with subdomains such as
#: ``m.facebook.com`` and short names such as ``fb``, ``ig``).
SOCIAL_SOURCE = (r"^(.*\.)?(facebook|fb|instagram|ig|meta|linkedin|lnkd|twitter|x|tiktok|pinterest|snapchat|"
                 r"reddit|youtube|threads|whatsapp|messenger)(\.[a-z.]+)?$|^t\.co$")
#: Search engines (GA4 keeps an internal list; these are the common ones).
SEARCH_SOURCE = (r"^(.*\.)?(google|bing|yahoo|duckduckgo|baidu|yandex|ecosia|naver|seznam|msn|qwant|"
                 r"startpage|brave)(\.[a-z.]+)?$")


@dataclass(frozen=True)
class Rule:
    """One row of the mapping: ``channel`` when the source matches ``source`` and the medium
    matches ``medium`` (``None`` = any value); ``either``: source OR medium matches ``medium``."""

    channel: str
    source: str | None = None
    medium: str | None = None
    either: bool = False


#: The mapping, in order (the first matching rule wins); direct is handled before these.
RULES: tuple[Rule, ...] = (
    Rule("email", medium=_EMAIL, either=True),
    Rule("email", medium=_MESSAGES),
    Rule("affiliate", medium=_AFFILIATE),
    Rule("display", medium=_DISPLAY),
    Rule("paid_social", medium=_PAID_SOCIAL_MEDIUM),
    Rule("paid_social", source=SOCIAL_SOURCE, medium=_PAID),
    Rule("paid_search", medium=_PAID_SEARCH_MEDIUM),
    Rule("paid_search", source=SEARCH_SOURCE, medium=_PAID),
    Rule("display", medium=_PAID),
)
#: Channel of a touch with a source or medium that no rule matches.
FALLBACK = "organic"


def _clean(value: str | None) -> str:
    v = (value or "").strip().lower()
    return "" if v in NO_VALUE else v


def channel_of(source: str | None, medium: str | None) -> str:
    """The touch channel of a traffic source and medium (rules in the module docstring).

    Examples
    --------
    >>> channel_of("google", "cpc"), channel_of("facebook", "paid_social"), channel_of(None, None)
    ('paid_search', 'paid_social', 'direct')
    """
    s, m = _clean(source), _clean(medium)
    if not s and not m:
        return "direct"
    for rule in RULES:
        if rule.either:
            if rule.medium and (re.search(rule.medium, s) or re.search(rule.medium, m)):
                return rule.channel
            continue
        if rule.source is not None and not re.search(rule.source, s):
            continue
        if rule.medium is not None and not re.search(rule.medium, m):
            continue
        return rule.channel
    return FALLBACK


def clean_sql(expr: str) -> str:
    """SQL: trimmed lower-case text of ``expr`` with GA4's placeholders (``(direct)``, ``(none)``,
    ``(not set)``) and blanks turned into NULL."""
    values = ", ".join(lit(v) for v in NO_VALUE)
    s = f"LOWER(TRIM(CAST({expr} AS VARCHAR)))"
    return f"CASE WHEN {s} IN ({values}) THEN NULL ELSE {s} END"


def tag_sql(expr: str) -> str:
    """SQL: trimmed text of a UTM tag as written (case kept), GA4's placeholders (:data:`NO_VALUE`)
    and blanks -> NULL."""
    s = f"TRIM(CAST({expr} AS VARCHAR))"
    values = ", ".join(lit(v) for v in NO_VALUE)
    return f"CASE WHEN LOWER({s}) IN ({values}) THEN NULL ELSE {s} END"


def _rx(expr: str, pattern: str) -> str:
    return f"regexp_matches(COALESCE({expr}, ''), {lit(pattern)})"


def channel_sql(source: str, medium: str, campaign: str | None = None,
                rules: Sequence[tuple[str, str]] = ()) -> str:
    """SQL: the touch channel of SQL expressions ``source`` and ``medium`` (raw values; they are
    cleaned here). ``rules`` (``--channel PATTERN=CHANNEL``) match ``campaign`` first.
    """
    check_rules(rules)
    s, m = clean_sql(source), clean_sql(medium)
    cases = []
    if campaign is not None:
        cases += [f"WHEN regexp_matches(COALESCE(CAST({campaign} AS VARCHAR), ''), {lit(p)}, 'i') THEN {lit(ch)}"
                  for p, ch in rules]
    cases.append(f"WHEN {s} IS NULL AND {m} IS NULL THEN 'direct'")
    for rule in RULES:
        if rule.either:
            cond = f"({_rx(s, rule.medium or '')} OR {_rx(m, rule.medium or '')})"
        else:
            parts = [_rx(s, rule.source)] if rule.source is not None else []
            parts += [_rx(m, rule.medium)] if rule.medium is not None else []
            cond = " AND ".join(parts)
        cases.append(f"WHEN {cond} THEN {lit(rule.channel)}")
    return f"(CASE {' '.join(cases)} ELSE {lit(FALLBACK)} END)"


def inactivity_sessions_sql(relation: str, user: str, ts: str, explicit: str | None = None) -> str:
    """SQL: ``relation`` with a column ``_session`` naming each row's visit.

    A row's visit is ``explicit`` when that expression is not NULL (a session id the export
    carries); otherwise the rows of each ``user`` are ordered by ``ts`` (a TIMESTAMPTZ column)
    and a new visit starts after more than :data:`SESSION_TIMEOUT_MINUTES` minutes without
    activity. Such a visit is named ``<user>-<epoch seconds of its first row>``.
    """
    gap = f"INTERVAL {SESSION_TIMEOUT_MINUTES} MINUTE"
    exp = explicit or "CAST(NULL AS VARCHAR)"
    return f"""
        SELECT * EXCLUDE (_new, _n, _explicit),
               COALESCE(_explicit, CAST({user} AS VARCHAR) || '-' ||
                        CAST(CAST(epoch(first_value({ts}) OVER (PARTITION BY {user}, _explicit IS NULL, _n
                                                        ORDER BY {ts})) AS BIGINT) AS VARCHAR)) AS _session
        FROM (SELECT *, SUM(_new) OVER (PARTITION BY {user}, _explicit IS NULL ORDER BY {ts}
                                        ROWS UNBOUNDED PRECEDING) AS _n
              FROM (SELECT *, {exp} AS _explicit,
                           CASE WHEN lag({ts}) OVER (PARTITION BY {user}, {exp} IS NULL ORDER BY {ts}) IS NULL
                                  OR {ts} - lag({ts}) OVER (PARTITION BY {user}, {exp} IS NULL ORDER BY {ts})
                                     > {gap}
                                THEN 1 ELSE 0 END AS _new
                    FROM {relation}))"""


def as_text(expr: str) -> str:
    """SQL: any value (text, number, JSON, struct member) as trimmed text; blank -> NULL.

    JSON exports write integers as numbers or as strings (``bq extract`` writes INT64 as
    strings), so every value is read through its JSON text.
    """
    return f"NULLIF(TRIM(json_extract_string(to_json({expr}), '$')), '')"


def json_path(expr: str, path: str) -> str:
    """SQL: the text at ``path`` (``$.a.b``) inside a nested record; NULL when any part is absent."""
    return f"NULLIF(TRIM(json_extract_string(to_json({expr}), {lit(path)})), '')"
