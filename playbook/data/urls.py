"""Connection URLs shown to people: credentials masked, in one place.

Every message, page and log that shows a data source's URL goes through :func:`mask_url`
(:meth:`playbook.data.source.DataSource.display` and the engines' error messages), so a password
in ``postgres://user:pw@host`` or a secret in a Spark URL's query never reaches a report.
"""

from __future__ import annotations

#: Query keys of a URL whose values are masked by :meth:`DataSource.display` (substring match,
#: case-insensitive): ``password=...``, ``spark.hadoop.fs.s3a.secret.key=...``, ``token=...``.
SECRET_KEYS: tuple[str, ...] = ("password", "passwd", "pwd", "secret", "token", "key", "credential")

MASK = "***"


def mask_url(url: str) -> str:
    """``url`` with its user info (all before the last ``@``) and the values of secret query keys masked.

    Examples
    --------
    >>> mask_url("postgres://user:pw@db.example.com:5432/shop")
    'postgres://***@db.example.com:5432/shop'
    >>> mask_url("spark+s3a://bucket/sales?master=yarn&spark.hadoop.fs.s3a.secret.key=abc")
    'spark+s3a://bucket/sales?master=yarn&spark.hadoop.fs.s3a.secret.key=***'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if "@" in rest:  # everything before the last "@": also safe for unencoded '/', '?', '#' in passwords
        rest = f"{MASK}@{rest.rsplit('@', 1)[1]}"
    head, query_sep, query = rest.partition("?")
    if query:
        parts = []
        for part in query.split("&"):
            key, eq, _ = part.partition("=")
            secret = bool(eq) and any(word in key.lower() for word in SECRET_KEYS)
            parts.append(f"{key}={MASK}" if secret else part)
        query = "&".join(parts)
    return f"{scheme}://{head}{query_sep}{query}"
