"""The SSH cipher f7tproxy negotiates with the testbed's sshd (which offers AES-GCM)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .conftest import fireuser_connection

if TYPE_CHECKING:
    from ..conftest import Testbed

pytestmark = pytest.mark.testbed


async def test_aes_gcm_is_negotiated_where_the_server_offers_it(testbed: Testbed, aio: None) -> None:
    # asyncssh's own first choice is chacha20-poly1305, which the testbed's sshd also offers.
    async with fireuser_connection(testbed) as conn:
        assert conn.cipher == "aes128-gcm@openssh.com"
