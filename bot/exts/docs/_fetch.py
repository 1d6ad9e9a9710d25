"""Fetch a page, PDF or Word file for /docs add, refusing private addresses at every hop."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "VerbatimBot/0.1 (+document fetch for /docs add)"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ACCEPT = f"text/html, application/pdf, {DOCX_TYPE}, text/*"


class FetchError(Exception):
    """The URL cannot be fetched; the message says why, for the person who asked."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that refused it, if the site answered


@dataclass(frozen=True)
class Fetched:
    """A fetched body, where it finally came from, and its validators for the next fetch."""

    url: str
    content_type: str
    data: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a 304: the copy fetched before is still the page


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve a host name with the operating system's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(address: Address) -> bool:
    """Return whether an address is on the public internet (not private, loopback, metadata…)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # is_global is False for private, loopback, link-local (169.254.169.254, the cloud
    # metadata address), shared (100.64/10), unique-local (fd00:ec2::254) and reserved ranges.
    return address.is_global and not address.is_multicast


class _PinnedResolver(AbstractResolver):
    """Hand aiohttp only the addresses already vetted, so DNS cannot change between the two."""

    def __init__(self, pins: dict[str, list[str]]) -> None:
        self.pins = pins

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the vetted addresses of a host; refuse one that was not vetted."""
        addresses = self.pins.get(host)
        if not addresses:
            raise OSError(f"{host} was not vetted")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Release nothing: the resolver holds no connections."""
        return None


@dataclass
class Fetcher:
    """Fetch http(s) URLs with timeouts, a size cap and a redirect limit, public hosts only."""

    resolver: Resolver = system_resolver
    allowed: tuple[Network, ...] = ()  # explicitly trusted despite being private (tests)
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5

    def _permitted(self, address: Address) -> bool:
        """Allow public addresses, and the private networks a test trusts explicitly."""
        return is_public(address) or any(address in network for network in self.allowed)

    async def _vet(self, url: yarl.URL, pins: dict[str, list[str]]) -> None:
        """Refuse a URL unless its scheme is http(s) and every address of its host is public."""
        if url.scheme not in ("http", "https") or not url.host:
            raise FetchError("only http:// and https:// links can be added")
        host = url.host
        try:
            addresses = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            try:
                addresses = await self.resolver(host, url.port or 443)
            except OSError:
                raise FetchError(f"the host {host} could not be found") from None
        if not addresses:
            raise FetchError(f"the host {host} could not be found")
        for address in addresses:
            if not self._permitted(ipaddress.ip_address(address)):
                raise FetchError(
                    "that link points to a private or internal address, which I won't fetch"
                )
        pins[host] = addresses

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """Download a URL, following up to `max_redirects` redirects, each one vetted."""
        # `etag` and `last_modified` come from an earlier fetch: the site may answer 304.
        try:
            current = yarl.URL(url.strip())
        except (ValueError, TypeError):
            raise FetchError("that is not a valid link") from None
        pins: dict[str, list[str]] = {}  # this fetch's vetted addresses, host by host
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(pins), use_dns_cache=False)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with (
                asyncio.timeout(self.timeout),
                aiohttp.ClientSession(
                    connector=connector, timeout=timeout, trust_env=False, headers=headers
                ) as session,
            ):
                for _ in range(self.max_redirects + 1):
                    await self._vet(current, pins)
                    async with session.get(current, allow_redirects=False) as response:
                        if response.status in REDIRECTS:
                            location = response.headers.get("Location")
                            if not location:
                                raise FetchError("the site redirected nowhere")
                            current = current.join(yarl.URL(location))
                            continue
                        return await self._body(current, response)
                raise FetchError(f"the link redirects more than {self.max_redirects} times")
        except TimeoutError:
            raise FetchError(f"the site did not answer within {self.timeout:.0f} s") from None
        except aiohttp.ClientError as error:
            raise FetchError(f"the site could not be reached ({type(error).__name__})") from None

    async def _body(self, url: yarl.URL, response: aiohttp.ClientResponse) -> Fetched:
        """Read a response body, stopping as soon as it passes the size cap."""
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        if response.status == 304:
            return Fetched(str(url), "", b"", etag, last_modified, not_modified=True)
        if response.status >= 400:
            raise FetchError(
                f"the site answered with HTTP {response.status}", status=response.status
            )
        too_big = FetchError(f"the page is larger than {self.max_bytes // (1024 * 1024)} MB")
        if (response.content_length or 0) > self.max_bytes:
            raise too_big
        data = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > self.max_bytes:
                raise too_big
        content_type = response.headers.get("Content-Type", "")
        return Fetched(str(url), content_type, bytes(data), etag, last_modified)


def fetcher_from(settings: Any) -> Fetcher:
    """Build the fetcher from the documents settings."""
    return Fetcher(
        timeout=settings.fetch_timeout_seconds,
        max_bytes=int(settings.max_file_mb * 1024 * 1024),
        max_redirects=settings.max_redirects,
    )
