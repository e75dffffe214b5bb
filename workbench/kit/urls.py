"""URLs as the workbench records them: never with the ``user:password@`` part.

A base URL may carry credentials (``https://user:pass@host/v1``); requests use them, but every
place a URL is written down (a run's config, its tables, an error message) gets the URL without
them, so a password cannot reach a shared run folder.

>>> without_userinfo("https://user:pass@api.example.com:8443/v1")
'https://api.example.com:8443/v1'
>>> redact_urls("Cannot connect to http://me:secret@127.0.0.1:9/v1/chat/completions (refused)")
'Cannot connect to http://127.0.0.1:9/v1/chat/completions (refused)'
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# scheme://userinfo@ : the userinfo runs up to the last @ before the host's first /, ? or #.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s@]*(?:@[^/?#\s@]*)*@")


def has_userinfo(url: str) -> bool:
    """Whether ``url`` holds a ``user[:password]@`` part."""
    try:
        return bool(urlsplit(url).username is not None or "@" in urlsplit(url).netloc)
    except ValueError:
        return "@" in url


def without_userinfo(url: str) -> str:
    """``url`` with its ``user[:password]@`` part removed (unchanged when it has none)."""
    if not isinstance(url, str) or not has_userinfo(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_urls(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def redact_urls(text: str) -> str:
    """``text`` with the ``user[:password]@`` part of every URL in it removed."""
    if not isinstance(text, str) or "@" not in text:
        return text
    return _USERINFO.sub(lambda match: match.group("scheme"), text)


__all__ = ["has_userinfo", "redact_urls", "without_userinfo"]
