"""Segmentation: data-quality audit first (cleaning, RFM, clusters, rules and suppression: issue #4)."""

from __future__ import annotations

#: Soft findings and how the segment step handles them, in plain language.
SOFT_HANDLING: dict[str, str] = {
    "duplicate_email": "merged into one profile by identity resolution",
    "duplicate_phone": "merged into one profile by identity resolution",
    "invalid_email": "kept, but never exported to email audiences",
    "missing_email": "reachable on other channels only",
    "erased": "excluded from every analysis output and export",
    "events_before_signup": "kept (anonymous browsing linked at signup)",
    "refunds": "netted against revenue; counted separately",
}


def describe_audit(report) -> str:
    """Plain-language summary of a :class:`playbook.validate.ValidationReport` (Markdown)."""
    errors, warnings = report.errors, report.warnings
    if not errors and not warnings:
        return "The data meets the contract: no errors and no soft problems were found."
    parts = []
    if errors:
        parts.append(f"**{len(errors)} error(s)** must be fixed in the source before the results can be "
                     "trusted: " + "; ".join(f"{f.table}.{f.column or '*'} {f.check} ({f.count:,})"
                                             for f in errors[:5]) + ".")
    else:
        parts.append("No errors: the data meets the contract.")
    soft = [f for f in report.findings if f.severity != "error" and f.count]
    if soft:
        items = []
        for f in soft:
            how = SOFT_HANDLING.get(f.check)
            items.append(f"{f.check.replace('_', ' ')} {f.count:,}" + (f" ({how})" if how else ""))
        parts.append("Soft problems, handled by cleaning: " + "; ".join(items) + ".")
    return " ".join(parts)


def audit_headline(report) -> dict[str, str]:
    """Headline numbers of the data-quality audit for the index page."""
    out = {"data errors": str(len(report.errors)),
           "soft problems": f"{sum(f.count for f in report.findings if f.severity != 'error'):,}"}
    for check in ("duplicate_email", "duplicate_phone", "invalid_email"):
        out[check.replace("_", " ")] = f"{report.count(check):,}"
    return out
