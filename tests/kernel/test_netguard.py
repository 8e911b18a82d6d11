"""Outbound requests never reach inside the network: every form of an inside address, by name,
at connection time; hosts named in the setting are let through (the suite's loopback receiver)."""

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.kernel import netguard

INSIDE = {
    "127.0.0.1": netguard.LOOPBACK,
    "127.255.255.254": netguard.LOOPBACK,
    "::1": netguard.LOOPBACK,
    "::ffff:127.0.0.1": netguard.LOOPBACK,
    "10.0.0.1": netguard.PRIVATE,
    "172.16.5.4": netguard.PRIVATE,
    "192.168.1.1": netguard.PRIVATE,
    "100.64.0.1": netguard.PRIVATE,
    "fd00::1": netguard.PRIVATE,
    "::ffff:10.0.0.1": netguard.PRIVATE,
    "::ffff:192.168.1.1": netguard.PRIVATE,
    "2002:c0a8:101::1": netguard.PRIVATE,  # 6to4 around 192.168.1.1
    "64:ff9b::a00:1": netguard.PRIVATE,  # NAT64 around 10.0.0.1
    "169.254.169.254": netguard.LINK_LOCAL,
    "fe80::1": netguard.LINK_LOCAL,
    "::ffff:169.254.169.254": netguard.LINK_LOCAL,
    "224.0.0.1": netguard.RESERVED,
    "239.255.255.250": netguard.RESERVED,
    "ff02::1": netguard.RESERVED,
    "0.0.0.0": netguard.RESERVED,  # noqa: S104 - an address checked, not bound
    "::": netguard.RESERVED,
    "240.0.0.1": netguard.RESERVED,
    "255.255.255.255": netguard.RESERVED,
    "192.0.2.1": netguard.PRIVATE,  # documentation range
}
OUTSIDE = ["8.8.8.8", "93.184.216.34", "2a00:1450:4001:82a::200e", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "reason"), INSIDE.items())
def test_every_inside_address_is_refused_with_its_reason(address, reason):
    assert netguard.address_problem(ipaddress.ip_address(address)) == reason
    assert netguard.host_problem(address) == reason
    assert netguard.host_problem(f"[{address}]") == reason


@pytest.mark.parametrize("address", OUTSIDE)
def test_internet_addresses_pass(address):
    assert netguard.address_problem(ipaddress.ip_address(address)) is None
    assert netguard.host_problem(address) is None


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "0X7F000001", "0177.0.0.1", "127.1", "0x7f.1", "017700000001"],
)
def test_numeric_forms_of_loopback_are_loopback(host):
    # The C library reads each of these as 127.0.0.1; so does the check.
    assert socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0] == "127.0.0.1"
    assert netguard.literal_address(host) == ipaddress.IPv4Address("127.0.0.1")
    assert netguard.host_problem(host) == netguard.LOOPBACK


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost", "ip6-localhost"])
def test_names_of_this_machine_are_refused_without_dns(host):
    assert netguard.host_problem(host) == netguard.LOOPBACK


def test_ordinary_names_are_left_to_the_delivery_time_check():
    assert netguard.host_problem("example.no") is None
    assert netguard.host_problem("deadbeef") is None
    assert netguard.literal_address("0xdeadbeef.no") is None


def test_the_setting_lets_only_the_named_hosts_through():
    assert netguard.host_problem("127.0.0.1", {"127.0.0.1"}) is None
    assert netguard.host_problem("[::1]", {"::1"}) is None
    assert netguard.host_problem("127.0.0.2", {"127.0.0.1"}) == netguard.LOOPBACK
    assert netguard.host_problem("localhost", {"127.0.0.1"}) == netguard.LOOPBACK


@pytest.fixture
def server() -> Iterator[dict[str, object]]:
    seen: dict[str, object] = {"hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["hits"] = int(str(seen["hits"])) + 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen["port"] = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield seen
    httpd.shutdown()
    httpd.server_close()
    thread.join()


async def _get(url: str, allowed: set[str]) -> httpx.Response:
    async with netguard.guarded_client(allowed, timeout=2) as client:
        return await client.get(url)


def test_a_name_that_resolves_inside_is_refused_at_connection_time(server):
    port = server["port"]
    for url in (f"http://localhost:{port}/", f"http://2130706433:{port}/"):
        with pytest.raises(netguard.Refused) as exc:
            asyncio.run(_get(url, set()))
        assert exc.value.reason == netguard.LOOPBACK and exc.value.address == "127.0.0.1"
        assert "loopback" in str(exc.value)
    assert server["hits"] == 0
    # The same server, let through by the setting, answers.
    assert asyncio.run(_get(f"http://127.0.0.1:{port}/", {"127.0.0.1"})).text == "ok"
    assert server["hits"] == 1


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, server):
    """A name that resolves to a public and a private address is refused as a whole (no
    choosing); one that resolves only inside never gets a socket."""
    port = server["port"]
    answers = {"twofaced.example": ["8.8.8.8", "10.0.0.1"], "inside.example": ["127.0.0.1"]}

    async def fake_getaddrinfo(host, port, **kw):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(netguard.anyio, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(netguard.Refused) as exc:
        asyncio.run(_get(f"http://twofaced.example:{port}/", set()))
    assert (exc.value.address, exc.value.reason) == ("10.0.0.1", netguard.PRIVATE)
    with pytest.raises(netguard.Refused):
        asyncio.run(_get(f"http://inside.example:{port}/", set()))
    assert server["hits"] == 0
    # Allowed by name: connects to the address the name resolved to.
    assert asyncio.run(_get(f"http://inside.example:{port}/", {"inside.example"})).text == "ok"


def test_no_proxy_from_the_environment_and_no_redirects(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    client = netguard.guarded_client()
    assert client.follow_redirects is False and client._mounts == {}
    asyncio.run(client.aclose())
