"""Datacenters and the recommendation for a buyer's IP address (R15)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from lifecycle.errors import UnknownDatacenter

DATACENTERS = ("us-1", "ca-1", "eu-1", "uk-1", "au-1", "jp-1", "sg-1")
DEFAULT_DATACENTER = "us-1"

AddressRange = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]


def check_datacenter(code: str) -> str:
    if code not in DATACENTERS:
        raise UnknownDatacenter(
            f"unknown datacenter {code!r}; choose one of {', '.join(DATACENTERS)}"
        )
    return code


def recommend_datacenter(ip: str | None, ranges: Iterable[AddressRange]) -> str:
    """The datacenter whose address range holds ``ip``; the default when none does."""
    if not ip:
        return DEFAULT_DATACENTER
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return DEFAULT_DATACENTER
    best: tuple[int, str] | None = None
    for network, datacenter in ranges:
        if address.version == network.version and address in network:
            if best is None or network.prefixlen > best[0]:
                best = (network.prefixlen, datacenter)
    return best[1] if best else DEFAULT_DATACENTER
