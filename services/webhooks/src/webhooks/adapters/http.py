"""Outbound HTTP for deliveries: resolve, check (SSRF), connect to the checked address, never follow redirects."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from webhooks.domain.targets import (
    IPNetwork,
    TargetRefused,
    check_addresses,
    literal_address,
    parse_target,
    scrub_url,
)

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), de-duplicated, in resolver order."""
    literal = literal_address(host)
    if literal is not None:
        return [str(literal)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


@dataclass(frozen=True)
class TargetPolicy:
    allow_private: bool
    allowed_networks: Sequence[IPNetwork]


async def check_target(url: str, policy: TargetPolicy, resolver: Resolver = system_resolver) -> list[str]:
    """Validate a URL and the addresses it resolves to now; raise ``TargetRefused`` when it may not be called."""
    target = parse_target(url)
    addresses = await resolver(target.host, target.port)
    checked = check_addresses(addresses, allow_private=policy.allow_private, allowed_networks=policy.allowed_networks)
    return [str(a) for a in checked]


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    latency_ms: int
    body: bytes
    retry_after: str | None
    error: str | None


class WebhookSender:
    """POSTs one signed body; redirects are never followed (a 3xx is a failed attempt).

    ``SendResult.error`` never quotes the URL's path or query string (they may carry a receiver's token)."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        timeout_s: float = 15.0,
        body_limit: int = 2048,
        resolver: Resolver = system_resolver,
        user_agent: str = "renovation-webhooks/1.0",
    ) -> None:
        self.policy = policy
        self.timeout_s = timeout_s
        self.body_limit = body_limit
        self.resolver = resolver
        self.user_agent = user_agent
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            trust_env=False,  # never route through an environment proxy (it would bypass the address check)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        started = time.perf_counter()

        def elapsed() -> int:
            return max(0, int((time.perf_counter() - started) * 1000))

        try:
            target = parse_target(url)
            addresses = await self.resolver(target.host, target.port)
            checked = check_addresses(
                addresses, allow_private=self.policy.allow_private, allowed_networks=self.policy.allowed_networks
            )
        except TargetRefused as exc:
            return SendResult(None, elapsed(), b"", None, f"{exc.code}: {exc}")
        address = checked[0]
        host_in_url = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host and not target.host.startswith("["):
            host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
        pinned = f"{target.scheme}://{host_in_url}:{target.port}{target.path_and_query}"
        extensions = {}
        if target.scheme == "https" and literal_address(target.host) is None:
            extensions["sni_hostname"] = target.host  # TLS and certificate checks use the real host name
        request_headers = {
            **headers,
            "host": host_header,
            "content-type": "application/json",
            "user-agent": self.user_agent,
        }
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._client.stream(
                    "POST", pinned, content=body, headers=request_headers, extensions=extensions
                ) as response:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_raw():
                        if size >= self.body_limit:
                            break
                        chunks.append(chunk)
                        size += len(chunk)
                    return SendResult(
                        response.status_code,
                        elapsed(),
                        b"".join(chunks)[: self.body_limit],
                        response.headers.get("retry-after"),
                        None,
                    )
        except TimeoutError:
            return SendResult(None, elapsed(), b"", None, f"timeout after {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            message = scrub_url(scrub_url(str(exc), pinned), url)
            return SendResult(None, elapsed(), b"", None, f"{type(exc).__name__}: {message[:200]}")
