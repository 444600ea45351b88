"""The address-range table behind datacenter recommendations (shipped, replaceable)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from lifecycle.datacenters import AddressRange, check_datacenter


def load_address_ranges(path: str | None = None) -> list[AddressRange]:
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        shipped = resources.files("infrastructure").joinpath("data/address_ranges.json")
        text = shipped.read_text("utf-8")
    rows = [(cidr, check_datacenter(dc)) for cidr, dc in json.loads(text)["ranges"]]
    return parse_address_ranges(rows)


def parse_address_ranges(rows: Sequence[tuple[str, str]]) -> list[AddressRange]:
    return [(ipaddress.ip_network(cidr, strict=False), datacenter) for cidr, datacenter in rows]
