"""S3Client and Staging against the testbed's S3 store (moto): every request f7tproxy makes or presigns.

moto does not check signatures (testbed-notes), so these tests check that the
requests are the right ones; test_sigv4.py checks the signatures.
"""

from __future__ import annotations

import httpx
import pytest

from f7tproxy.config import S3StagingConfig, Secret
from f7tproxy.s3 import NS, S3Client, S3Error
from f7tproxy.transfer import Staging, StagingFailed

from ..conftest import Testbed

pytestmark = pytest.mark.testbed
MiB = 1024 * 1024


def staging_config(testbed: Testbed, **changes: object) -> S3StagingConfig:
    env = testbed.env
    values: dict[str, object] = {
        "private_url": env["F7T_S3_URL"], "public_url": env["F7T_S3_URL"],
        "access_key_id": Secret(env["F7T_S3_ACCESS_KEY"]), "secret_access_key": Secret(env["F7T_S3_SECRET_KEY"]),
        "region": env.get("F7T_S3_REGION", "us-east-1"), "url_ttl": 300.0, "max_part_size": 5 * MiB,
    }  # fmt: skip
    values.update(changes)
    return S3StagingConfig(**values)  # type: ignore[arg-type]


async def test_multipart_upload_through_presigned_urls_then_get_head_and_abort(testbed: Testbed) -> None:
    staging = Staging(staging_config(testbed), timeout=10)
    bucket = Staging.bucket_for("s3 test user")
    await staging.ensure_bucket(bucket)
    await staging.ensure_bucket(bucket)  # remembered: no second request
    client = S3Client(staging.config)
    async with httpx.AsyncClient(timeout=30) as http:
        assert bucket in await client.list_buckets()
        key = Staging.new_key("a file+name ü.bin")
        upload_id = await staging.create_multipart(bucket, key)
        data = [bytes([n]) * (5 * MiB) for n in range(1, 3)] + [b"tail"]
        urls = await staging.part_urls(bucket, key, upload_id, len(data), public=True)
        etags = []
        for url, part in zip(urls, data, strict=True):
            response = await http.put(url, content=part, headers={"Content-Type": "application/octet-stream"})
            assert response.status_code == 200, response.text
            etags.append(response.headers["ETag"])
        parts = "".join(f"<Part><ETag>{e}</ETag><PartNumber>{n}</PartNumber></Part>" for n, e in enumerate(etags, 1))
        complete = await http.post(
            staging.complete_url(bucket, key, upload_id, public=True),
            content=f'<CompleteMultipartUpload xmlns="{NS[1:-1]}">{parts}</CompleteMultipartUpload>',
            headers={"Content-Type": "application/xml"},
        )  # fmt: skip
        assert complete.status_code == 200, complete.text
        got = await http.get(staging.get_url(bucket, key, public=True))
        assert got.status_code == 200 and got.content == b"".join(data)
        head = await http.head(staging.head_url(bucket, key, public=False))
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == 10 * MiB + 4

        # An aborted upload is gone: aborting it again finds no such upload.
        aborted = Staging.new_key("aborted")
        other = await staging.create_multipart(bucket, aborted)
        abort = client.presign("abort_multipart_upload", "DELETE", Bucket=bucket, Key=aborted, UploadId=other)
        assert (await client.send("DELETE", abort)).status_code == 204
        with pytest.raises(S3Error) as failed:
            await client.send("DELETE", abort)
        assert failed.value.status == 404 and "NoSuchUpload" in str(failed.value)


async def test_an_unreachable_store_fails_with_its_cause(testbed: Testbed) -> None:
    dead = staging_config(testbed, private_url="http://127.0.0.1:1", public_url="http://127.0.0.1:1")
    with pytest.raises(StagingFailed, match="did not answer: ConnectError"):
        await Staging(dead, timeout=5).ensure_bucket("f7t-nowhere")
    with pytest.raises(S3Error) as failed:
        await S3Client(dead).send("GET", "http://127.0.0.1:1/", timeout=5)
    assert failed.value.status is None and failed.value.cause == "ConnectError"


async def test_a_waiting_upload_with_no_part_by_its_first_part_deadline_is_aborted_and_forgotten(
    testbed: Testbed,
) -> None:
    # A staging job cancelled while still pending never runs, so never aborts its upload:
    # f7tproxy gives up an upload that got no part in time itself, and frees the user's slot.
    staging = Staging(staging_config(testbed), timeout=10)
    bucket = Staging.bucket_for("s3 waiting user")
    await staging.ensure_bucket(bucket)
    idle, sent = staging.new_key("idle.bin"), staging.new_key("sent.bin")
    idle_id, sent_id = await staging.create_multipart(bucket, idle), await staging.create_multipart(bucket, sent)
    async with httpx.AsyncClient(timeout=30) as http:
        [url] = await staging.part_urls(bucket, sent, sent_id, 1, public=True)
        assert (await http.put(url, content=b"x" * 1024)).status_code == 200
        for job_id, key, upload_id in (("1", idle, idle_id), ("2", sent, sent_id)):
            with staging.waiting.reserve("alice") as slot:
                slot.submitted(job_id, f"/tmp/{key}", bucket=bucket, key=key, upload_id=upload_id,
                               wait=300, first_part_wait=0)  # fmt: skip
        await staging.check_waiting()
        assert [w.job_id for w in staging.waiting.entries()] == ["2"]  # a part came: still waiting
        gone = await http.get(staging.list_parts_url(bucket, idle, idle_id, public=False))
        assert gone.status_code == 404  # aborted
        await http.delete(staging.abort_url(bucket, sent, sent_id, public=False))
