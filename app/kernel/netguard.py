"""Outbound HTTP to addresses that people type in: never into the server's own network (SSRF).

An admin registers a webhook URL; the server later POSTs to it. Without a check that URL could
be `https://169.254.169.254/latest/meta-data/` (a cloud server's credentials), `http://10.0.0.1/`
or `https://2130706433/` (127.0.0.1 written as one number). The rule, in one place:

- an address is *refused* when it is loopback, private, link-local, shared (CGNAT), multicast,
  reserved or unspecified, also when it hides inside an IPv6 address (v4-mapped, 6to4, NAT64);
- a host name is resolved *when the request is made* and every address it resolves to must pass;
  the connection then goes to the address that was checked, so a name cannot resolve to a public
  address for the check and to a private one for the connection (DNS rebinding);
- redirects are never followed by the callers (a redirect to a private address is just an
  answer);
- hosts named in `TOD_WEBHOOK_ALLOW_HOSTS` skip the check: for tests and development, whose
  receivers run on loopback.

`host_problem` is the check without DNS, for the moment the URL is typed (the admin sees why at
once); `guarded_client` is the check at delivery time.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK = "loopback"
PRIVATE = "private"
LINK_LOCAL = "link_local"
RESERVED = "reserved"

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not on the internet
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class Refused(Exception):
    """The host resolves to an address that outbound requests may not reach."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host, self.address, self.reason = host, address, reason
        shown = host if host == address else f"{host} ({address})"
        super().__init__(f"Refused: {shown} is a {reason.replace('_', '-')} address")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why outbound requests may not reach `ip` (LOOPBACK, PRIVATE, ...), or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return address_problem(inner)
        if ip.scope_id:
            return LINK_LOCAL
    if ip.is_loopback:
        return LOOPBACK
    if ip.is_link_local:
        return LINK_LOCAL
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return RESERVED
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
        return PRIVATE
    if not ip.is_global:
        return RESERVED
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host *is* when written as one, in every form the C library accepts:
    dotted, IPv6 (with or without brackets), and the old numeric forms that `getaddrinfo`
    reads as IPv4 (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`)."""
    host = host.strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(ch in "0123456789abcdefxABCDEFX." for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _allowed(host: str, allowed: Iterable[str]) -> bool:
    name = host.strip().strip("[]").rstrip(".").lower()
    return name in {a.strip().strip("[]").rstrip(".").lower() for a in allowed if a.strip()}


def host_problem(host: str, allowed: Iterable[str] = ()) -> str | None:
    """The check that needs no DNS: a literal address or a name for this machine."""
    if _allowed(host, allowed):
        return None
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return LOOPBACK
    ip = literal_address(name)
    return address_problem(ip) if ip is not None else None


async def resolve_public(host: str, port: int, allowed: Iterable[str] = ()) -> list[str]:
    """Every address `host` resolves to, checked; Refused if any may not be reached."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    if _allowed(host, allowed):
        return addresses
    for address in addresses:
        problem = address_problem(ipaddress.ip_address(address))
        if problem is not None:
            raise Refused(host, address, problem)
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to checked addresses: the name is resolved here, once, then the checked
    address is what the socket connects to (TLS still checks the certificate for the name)."""

    def __init__(self, allowed: frozenset[str]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_public(host, port, self._allowed)
        return await self._inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise Refused("unix socket", "unix socket", RESERVED)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(allowed: Iterable[str] = (), **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client that refuses (raises Refused) to connect inside the network.

    No proxy from the environment (it would be the one doing the connecting, unchecked) and no
    redirects: a caller that wants them must check each target itself.
    """
    transport = httpx.AsyncHTTPTransport(retries=0)
    # httpx has no public way to hand httpcore a network backend; the pool reads this attribute
    # on every new connection (tests/kernel/test_netguard.py fails if an upgrade renames it).
    pool: Any = transport._pool
    assert hasattr(pool, "_network_backend")
    pool._network_backend = _GuardedBackend(frozenset(a for a in allowed if a.strip()))
    return httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False, **kwargs)
