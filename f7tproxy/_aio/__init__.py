"""The asyncio boundary: the only package that imports asyncio, asyncssh, trio-asyncio and openfga-sdk.

asyncssh and openfga-sdk are asyncio libraries. They run on one trio-asyncio loop
opened around the root nursery (`asyncio_loop`); the rest of f7tproxy calls them
through the trio-native APIs here, as trio code, with trio's cancellation and deadlines.

    _loop.py     the trio-asyncio loop and `call_aio`, the bridge the others use
    _ssh.py      asyncssh: keys, certificates, connections, processes
    _openfga.py  openfga-sdk's client (imported only when a client is opened)
"""

from ._loop import asyncio_loop, call_aio
from ._openfga import OpenFgaChecks, open_openfga
from ._ssh import (
    Certificate,
    ChannelRefused,
    Completed,
    Connection,
    OutputLimitExceeded,
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
