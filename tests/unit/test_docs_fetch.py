"""Fetching a URL for /docs add: SSRF refusals, redirects, timeouts and the size cap."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from bot.exts.docs._fetch import Fetcher, FetchError, is_public

PAGE = (
    b"<html><head><title>Tea</title></head><body><p>Green tea is steeped briefly.</p></body></html>"
)
NAMES = {
    "docs.test": ["127.0.0.1"],
    "internal.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "rebind.test": ["93.184.216.34", "192.168.1.10"],
}
LOCAL = (ipaddress.ip_network("127.0.0.1/32"),)


async def resolver(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise OSError("no such host")
    return NAMES[host]


@pytest_asyncio.fixture
async def server() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="late")

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        while True:
            await response.write(b"tea " * 16384)

    app = web.Application()
    for path, handler in [
        ("/page", page),
        ("/redirect", redirect),
        ("/loop", loop),
        ("/hang", hang),
        ("/endless", endless),
    ]:
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://docs.test:{port}"
    await runner.cleanup()


def fetcher(**kwargs: object) -> Fetcher:
    return Fetcher(resolver=resolver, allowed=LOCAL, **kwargs)  # type: ignore[arg-type]


async def test_a_page_is_fetched_through_the_vetted_address(server: str) -> None:
    fetched = await fetcher().fetch(f"{server}/page")
    assert fetched.data == PAGE and fetched.content_type.startswith("text/html")


async def test_a_redirect_within_the_limit_is_followed(server: str) -> None:
    fetched = await fetcher().fetch(f"{server}/redirect?to={server}/page")
    assert fetched.url == f"{server}/page"


REFUSED = {
    "loopback literal": "http://127.0.0.1:9/",
    "ipv6 loopback": "http://[::1]:9/",
    "mapped loopback": "http://[::ffff:127.0.0.1]:9/",
    "metadata address": "http://169.254.169.254/latest/meta-data/",
    "private by dns": "http://internal.test/",
    "metadata by dns": "http://metadata.test/",
    "one private address among public ones": "http://rebind.test/",
    "file scheme": "file:///etc/passwd",
    "ftp scheme": "ftp://docs.test/file",
    "unknown host": "http://nowhere.test/",
}


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
async def test_private_and_odd_urls_are_refused_before_connecting(url: str) -> None:
    # Only 127.0.0.1 is trusted here, and only for tests; nothing listens on port 9 anyway.
    strict = Fetcher(resolver=resolver)
    with pytest.raises(FetchError, match=r"private|internal|http|found"):
        await strict.fetch(url)


async def test_a_redirect_to_a_private_address_is_refused(server: str) -> None:
    for target in ("http://internal.test/admin", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(FetchError, match="private or internal"):
            await fetcher().fetch(f"{server}/redirect?to={target}")


async def test_the_redirect_limit_holds(server: str) -> None:
    with pytest.raises(FetchError, match="redirects more than 3"):
        await fetcher(max_redirects=3).fetch(f"{server}/loop")


async def test_a_hanging_site_times_out(server: str) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(FetchError, match="did not answer"):
        await fetcher(timeout=0.5).fetch(f"{server}/hang")
    assert asyncio.get_running_loop().time() - started < 5


async def test_an_endless_body_stops_at_the_cap(server: str) -> None:
    with pytest.raises(FetchError, match="larger than 1 MB"):
        await fetcher(max_bytes=1024 * 1024).fetch(f"{server}/endless")


def test_public_addresses_are_told_from_internal_ones() -> None:
    public = ["93.184.216.34", "2606:4700::1111"]
    internal = ["10.1.2.3", "172.16.0.1", "192.168.0.1", "127.0.0.1", "169.254.169.254", "0.0.0.0"]
    internal += ["100.64.0.1", "::1", "fe80::1", "fd00:ec2::254", "::ffff:10.0.0.1", "224.0.0.1"]
    assert all(is_public(ipaddress.ip_address(a)) for a in public)
    assert not any(is_public(ipaddress.ip_address(a)) for a in internal)
