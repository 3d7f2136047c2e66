"""Is a request a browser's cross-site one? (Sec-Fetch-Site, Origin, else Referer.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request


def own_hosts(request: Request) -> set[str]:
    """host[:port] under which the CRM is reached: the request's Host and WACRM_PUBLIC_URL's."""
    hosts = {urlsplit(request.app.state.settings.public_url).netloc.lower()}
    if host := request.headers.get("host"):
        hosts.add(host.lower())
    return hosts - {""}


def is_cross_site(request: Request) -> bool:
    """True when the browser says the request was made by another site's page.

    A request without Origin, Referer and Sec-Fetch-Site (curl, scripts, API clients) is not a
    browser's cross-site request and passes; a browser sends at least one of them on a cross-site
    POST (the form's and fetch's `Origin`, `null` from sandboxed frames and data: URLs).
    """
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return False
    if source.strip().lower() == "null":
        return True
    return urlsplit(source.strip()).netloc.lower() not in own_hosts(request)
