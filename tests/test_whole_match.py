"""Every check of client or operator input matches the whole value, in ASCII.

`re.match` with a pattern ending in `$` lets a trailing newline through, and `\\d`
takes any Unicode digit ("١٢" is 12 to `int`): such values would pass as another
user, job, account or name than the one they look like.
"""

from __future__ import annotations

import pytest
from quart import Quart

from f7tproxy import config
from f7tproxy.api._compute import _env
from f7tproxy.api._context import query_int
from f7tproxy.errors import BadRequest, ConfigError, ValidationFailed
from f7tproxy.filesystem import ops
from f7tproxy.observability._context import clean_id
from f7tproxy.scheduler._text import duration
from f7tproxy.scheduler.pbs._parsers import submitted_id as pbs_submitted_id
from f7tproxy.scheduler.slurm._parsers import submitted_id as slurm_submitted_id
from f7tproxy.transfer import check_account

ARABIC_12 = "\u0661\u0662"  # ١٢


@pytest.mark.parametrize("name", ["alice\n", "alice\r", f"alice{ARABIC_12}", "ALICE", ""])
def test_posix_user_names(name: str) -> None:
    assert config.is_posix_user_name("alice") and config.is_posix_user_name("svc$")
    assert not config.is_posix_user_name(name)


@pytest.mark.parametrize("name", ["tiny\n", f"tiny{ARABIC_12}"])
def test_cluster_names(name: str) -> None:
    cluster = {"name": name, "ssh": {"host": "h", "known_hosts": "/dev/null", "credentials": {"mode": "static_keys"}}}
    with pytest.raises(ConfigError, match="clusters\\[0\\].name: expected a lower-case name"):
        config.from_mapping({"auth": {"jwks_url": "https://idp.test/jwks"}, "clusters": [cluster]})


@pytest.mark.parametrize("store", ["01HVMMBCMGZNT3SED4Z17ECXCA\n"])
def test_openfga_ids(store: str) -> None:
    with pytest.raises(ConfigError, match="store_id: expected an OpenFGA id"):
        config.from_mapping({"auth": {"jwks_url": "https://idp.test/jwks",
                                      "openfga": {"url": "http://127.0.0.1:8080", "store_id": store}}})


def test_urls() -> None:
    with pytest.raises(ConfigError, match="jwks_url: expected an http"):
        config.from_mapping({"auth": {"jwks_url": "https://idp.test/jwks\nx"}})


@pytest.mark.parametrize("value", ["req-1\n", f"req-{ARABIC_12}"])
def test_request_ids(value: str) -> None:
    assert clean_id("req-1") == "req-1"
    assert clean_id(value) is None


@pytest.mark.parametrize("account", ["proj1\n", f"proj{ARABIC_12}"])
def test_accounts(account: str) -> None:
    assert check_account("proj1") == "proj1"
    with pytest.raises(BadRequest):
        check_account(account)


@pytest.mark.parametrize("name", ["PATH\n", f"X{ARABIC_12}"])
def test_environment_names(name: str) -> None:
    assert _env({"OK_1": "v"}) == {"OK_1": "v"}
    with pytest.raises(ValidationFailed):
        _env({name: "v"})


@pytest.mark.parametrize("mode", ["755\n", "u+x\n", ARABIC_12 + "5"])
async def test_chmod_modes(mode: str) -> None:
    with pytest.raises(BadRequest):
        await ops.chmod(None, "/home/u/a", mode)  # type: ignore[arg-type]  # refused before any command


@pytest.mark.parametrize("owner", ["alice\n", "1000\n", ARABIC_12])
async def test_chown_owners(owner: str) -> None:
    with pytest.raises(BadRequest):
        await ops.chown(None, "/home/u/a", owner, "")  # type: ignore[arg-type]  # refused before any command


@pytest.mark.parametrize("raw", ["12\n", " 12", ARABIC_12, "1_000"])
async def test_integer_query_parameters(raw: str) -> None:
    app = Quart(__name__)
    async with app.test_request_context("/", query_string={"size": "12"}):
        assert query_int("size") == 12
    async with app.test_request_context("/", query_string={"size": raw}):
        with pytest.raises(ValidationFailed):
            query_int("size")


def test_scheduler_output_in_ascii_digits() -> None:
    assert slurm_submitted_id("123\n") == "123" and slurm_submitted_id(ARABIC_12) is None
    assert pbs_submitted_id("123.pbs\n") == "123" and pbs_submitted_id(ARABIC_12 + ".pbs") is None
    assert duration("1-00:00:10") == 86410 and duration(ARABIC_12) is None
