"""Webhook targets and server-side request forgery (SSRF) rules.

Only ``http``/``https`` URLs without credentials are accepted. Every address the host resolves to must be a public
(globally routable) unicast address, unless it falls into a network the operator explicitly allowed, or private
targets are allowed altogether. The check runs when a subscription is created or changed AND before every delivery
(the sender then connects to the very address it checked, so DNS rebinding cannot slip in between).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ValueError):
    """The URL or one of its addresses may not be called. ``code`` is a stable error code."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path_and_query: str


def parse_target(url: str) -> Target:
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused("URL is too long", "invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("URL is not valid", "invalid_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs are allowed", "url_scheme_not_allowed")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials in the URL are not allowed", "invalid_url")
    host = parts.hostname or ""
    if not host:
        raise TargetRefused("URL has no host", "invalid_url")
    if any(c.isspace() for c in url):
        raise TargetRefused("URL contains whitespace", "invalid_url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default_port = 443 if scheme == "https" else 80
    return Target(url=url, scheme=scheme, host=host, port=port or default_port, path_and_query=path)


def receiver_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: all that a log line may show of a receiver.

    The path and the query string are left out: a government endpoint often carries an access token in them.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "invalid-url"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


def without_query(url: str) -> str:
    """The URL without its query string and fragment (what an attempt record keeps of the URL it called)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "invalid-url"
    return parts._replace(query="", fragment="").geturl()


def scrub_url(text: str, url: str) -> str:
    """``text`` (an error message) with every trace of ``url`` beyond its receiver replaced by ``[url]``.

    Library errors sometimes quote the request URL; the path and query string of a webhook URL may carry a token.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    fragments = [url, parts.path + ("?" + parts.query if parts.query else ""), parts.query, parts.path]
    for fragment in sorted({f for f in fragments if len(f) > 1}, key=len, reverse=True):
        text = text.replace(fragment, "[url]")
    return text


def parse_networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip()]


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_problem(address: IPAddress) -> str | None:
    """Why an address is not a public unicast target, or ``None`` when it is."""
    a = _unmapped(address)
    if a.is_loopback:
        return "loopback"
    if a.is_link_local:
        return "link_local"
    if a.is_multicast:
        return "multicast"
    if a.is_unspecified:
        return "unspecified"
    if a.is_reserved:
        return "reserved"
    if a.is_private:
        return "private"
    if not a.is_global:
        return "not_global"
    return None


def check_addresses(
    addresses: Sequence[str],
    *,
    allow_private: bool,
    allowed_networks: Sequence[IPNetwork],
) -> list[IPAddress]:
    """Return the parsed addresses when all may be called; raise :class:`TargetRefused` otherwise."""
    if not addresses:
        raise TargetRefused("the host does not resolve", "target_unresolvable")
    parsed: list[IPAddress] = []
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        problem = address_problem(address)
        if problem is not None and not allow_private:
            candidates = {address, _unmapped(address)}
            if not any(c in net for c in candidates for net in allowed_networks if c.version == net.version):
                kind = problem.replace("_", "-")
                raise TargetRefused(f"the target resolves to a {kind} address", "target_not_allowed")
        parsed.append(address)
    return parsed


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
