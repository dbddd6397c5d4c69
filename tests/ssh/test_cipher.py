"""The SSH cipher f7tproxy negotiates with the testbed's sshd (which offers AES-GCM)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from f7tproxy._aio import connect, import_private_key

if TYPE_CHECKING:
    from ..conftest import Testbed

pytestmark = pytest.mark.testbed


async def test_aes_gcm_is_negotiated_where_the_server_offers_it(testbed: Testbed, aio: None) -> None:
    # asyncssh's own first choice is chacha20-poly1305, which the testbed's sshd also offers.
    conn = await connect(
        testbed.env.get("F7T_SSH_HOST", "127.0.0.1"), int(testbed.env.get("F7T_SSH_PORT", "2222")),
        username="fireuser", key=import_private_key(testbed.key("fireuser").read_text()), certificate=None,
        known_hosts=testbed.known_hosts, connect_timeout=30, login_timeout=30,
        keepalive_interval=30, keepalive_count_max=3,
    )  # fmt: skip
    try:
        assert conn.cipher == "aes128-gcm@openssh.com"
    finally:
        await conn.aclose()
