"""Round trip through the testbed's S3 store (moto) using presigned URLs only.

Creates a bucket, uploads an object with a presigned PUT, downloads it with a presigned GET,
compares, and removes object and bucket. Run it with the testbed's S3 venv python (it needs
boto3), e.g. `$F7T_TESTBED_DIR/venv-s3/bin/python tests/testbed/s3_selftest.py`.
Settings come from F7T_S3_URL, F7T_S3_ACCESS_KEY, F7T_S3_SECRET_KEY, F7T_S3_REGION.
Exit status 0 and one "ok" line on success.
"""

import os
import sys
import urllib.request
import uuid

import boto3
from botocore.config import Config

URL = os.environ.get("F7T_S3_URL", "http://127.0.0.1:9000")
TIMEOUT = 10  # seconds, for every request: a stuck request must not hang `up`


def main() -> int:
    # Never send testbed traffic through a proxy from the environment.
    for var in ("no_proxy", "NO_PROXY"):
        os.environ[var] = ",".join(filter(None, [os.environ.get(var), "127.0.0.1", "localhost"]))
    s3 = boto3.client(
        "s3",
        endpoint_url=URL,
        aws_access_key_id=os.environ.get("F7T_S3_ACCESS_KEY", "testbed-access"),
        aws_secret_access_key=os.environ.get("F7T_S3_SECRET_KEY", "testbed-secret"),
        region_name=os.environ.get("F7T_S3_REGION", "us-east-1"),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
            retries={"max_attempts": 1},
        ),
    )
    http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    bucket = f"testbed-selftest-{uuid.uuid4().hex[:12]}"
    key = "dir/hello.bin"
    body = os.urandom(64 * 1024) + b"f7tproxy testbed\n"

    s3.create_bucket(Bucket=bucket)
    try:
        put_url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
        )
        # moto blocks reading the body of a PUT sent with urllib's default form type:
        # always give an explicit binary content type.
        req = urllib.request.Request(
            put_url,
            data=body,
            method="PUT",
            headers={"Content-Type": "application/octet-stream"},
        )
        with http.open(req, timeout=TIMEOUT) as resp:
            if resp.status != 200:
                print(f"presigned PUT answered {resp.status}", file=sys.stderr)
                return 1
        get_url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
        )
        with http.open(get_url, timeout=TIMEOUT) as resp:
            got = resp.read()
        if got != body:
            print(f"presigned GET returned {len(got)} bytes that differ from the {len(body)} uploaded",
                  file=sys.stderr)
            return 1
    finally:
        try:
            s3.delete_object(Bucket=bucket, Key=key)
        finally:
            s3.delete_bucket(Bucket=bucket)
    print(f"ok: {len(body)} bytes through presigned PUT/GET, bucket {bucket}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
