"""The asyncio boundary: the only package that imports asyncio, asyncssh, trio-asyncio and openfga-sdk.

asyncssh and openfga-sdk are asyncio libraries. They run on one trio-asyncio loop
opened around the root nursery (`asyncio_loop`); the rest of f7tproxy calls them
through the trio-native APIs here, as trio code, with trio's cancellation and deadlines.

    _loop.py     the trio-asyncio loop and `call_aio`, the bridge the others use
    _channel.py  what commands on a channel share: Completed, ChannelRefused, opening a channel
    _ssh.py      asyncssh: keys, certificates, connections, processes
    _runner.py   a persistent remote runner per slot: commands without an sshd session each
    _runner_remote.py  the runner's own code, sent to the cluster when it starts (not imported)
    _coalesce.py one socket write per loop turn for a connection's packets
    _keepalive.py  one keepalive timer per interval, not one per packet received
    _openfga.py  openfga-sdk's client (imported only when a client is opened)
    _oqs.py      imports asyncssh first, without its slow search for an absent liboqs
"""

from ._oqs import import_asyncssh

import_asyncssh()  # before any module here imports asyncssh

from ._loop import asyncio_loop, call_aio
from ._openfga import OpenFgaChecks, open_openfga
from ._channel import ChannelRefused, Completed, OutputLimitExceeded
from ._runner import RemoteRunner, RunnerLost, RunnerUnavailable
from ._ssh import (
    Certificate,
    Connection,
    PrivateKey,
    Process,
    certificate_principals,
    certificate_validity,
    connect,
    generate_user_key,
    import_certificate,
    import_private_key,
    private_key_text,
    public_key_text,
    sign_user_certificate,
)

__all__ = [
    "Certificate",
    "ChannelRefused",
    "Completed",
    "Connection",
    "OpenFgaChecks",
    "OutputLimitExceeded",
    "PrivateKey",
    "Process",
    "RemoteRunner",
    "RunnerLost",
    "RunnerUnavailable",
    "asyncio_loop",
    "call_aio",
    "certificate_principals",
    "certificate_validity",
    "connect",
    "generate_user_key",
    "import_certificate",
    "import_private_key",
    "open_openfga",
    "private_key_text",
    "public_key_text",
    "sign_user_certificate",
]
