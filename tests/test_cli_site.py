"""`upkeep site serve`'s own input: an address mkdocs could not serve on is refused with exit 2
before mkdocs starts, one line naming what was expected and no traceback."""

from __future__ import annotations

import pytest
from helpers.project import Project

from upkeep.cli.site import dev_address


@pytest.mark.parametrize(
    "address", ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1", "x:80", ""]
)
def test_a_dev_addr_mkdocs_cannot_bind_is_refused_before_mkdocs_starts(
    project: Project, address: str
) -> None:
    # 127.0.0.1:99999 reached mkdocs, whose OverflowError traceback was printed.
    result = project.upkeep("site", "serve", "--dev-addr", address, timeout=60)
    assert result.code == 2, result.text
    assert "Invalid value for --dev-addr: expected IP:PORT, such as 127.0.0.1:8000" in result.err
    assert f"got {address!r}" in result.err
    assert "Traceback" not in result.text


@pytest.mark.parametrize("address", ["127.0.0.1:8000", "localhost:1", "[::1]:65535", "0.0.0.0:80"])
def test_an_ip_or_localhost_with_a_port_is_served_as_given(address: str) -> None:
    assert dev_address(address) == address
