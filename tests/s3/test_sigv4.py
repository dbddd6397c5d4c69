"""SigV4 against the examples AWS publishes for S3 (Authenticating Requests, AWS Signature Version 4).

Credentials, bucket and time are the documents' own: AKIAIOSFODNN7EXAMPLE, examplebucket,
2013-05-24T00:00:00Z, us-east-1. Each expected signature is copied from the example.
"""

from __future__ import annotations

import datetime
import urllib.parse

import pytest

from f7tproxy.config import S3StagingConfig, Secret
from f7tproxy.s3 import S3Client
from f7tproxy.s3._sigv4 import Signer

SIGNER = Signer("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
WHEN = datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC)
BUCKET = "https://examplebucket.s3.amazonaws.com"
SCOPE = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"


def signature(headers: dict[str, str]) -> str:
    return headers["Authorization"].rpartition("Signature=")[2]


def test_presigned_get_matches_the_query_parameter_example() -> None:
    url = SIGNER.presign("GET", BUCKET, "/test.txt", expires=86400, now=WHEN)
    assert url == (
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def test_get_object_with_range_matches_the_header_example() -> None:
    url, headers = SIGNER.sign("GET", BUCKET, "/test.txt", headers={"Range": "bytes=0-9"}, now=WHEN)
    assert url == BUCKET + "/test.txt"
    assert headers["X-Amz-Content-SHA256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert headers["Authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={SCOPE},SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_put_object_signs_the_payload_and_encodes_the_path() -> None:
    url, headers = SIGNER.sign(
        "PUT", BUCKET, "/test$file.text", payload=b"Welcome to Amazon S3.",
        headers={"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"}, now=WHEN,
    )  # fmt: skip
    assert url == BUCKET + "/test%24file.text"
    assert signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_subresource_and_sorted_query_match_the_examples() -> None:
    url, headers = SIGNER.sign("GET", BUCKET, "/", query=[("lifecycle", "")], now=WHEN)
    assert url == BUCKET + "/?lifecycle="
    assert signature(headers) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    # Given out of order: the canonical query is sorted, the URL keeps the order given.
    url, headers = SIGNER.sign("GET", BUCKET, "/", query=[("prefix", "J"), ("max-keys", "2")], now=WHEN)
    assert url == BUCKET + "/?prefix=J&max-keys=2"
    assert signature(headers) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_host_carries_a_non_default_port_and_keys_are_encoded_once() -> None:
    url, headers = SIGNER.sign("GET", "http://127.0.0.1:9000/", "/b/a b+c/ü~.txt", now=WHEN)
    assert headers["Host"] == "127.0.0.1:9000"
    assert url == "http://127.0.0.1:9000/b/a%20b%2Bc/%C3%BC~.txt"
    assert SIGNER.sign("GET", "https://h.example:443", "/", now=WHEN)[1]["Host"] == "h.example"
    assert SIGNER.sign("GET", "http://[::1]:9000", "/", now=WHEN)[1]["Host"] == "[::1]:9000"


def test_presigned_query_keeps_the_operation_parameters_first() -> None:
    url = SIGNER.presign("PUT", BUCKET, "/k", query=[("partNumber", "2"), ("uploadId", "a/b=")], expires=60, now=WHEN)
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    assert query[:2] == [("partNumber", "2"), ("uploadId", "a/b=")]
    assert dict(query)["X-Amz-Expires"] == "60"
    # The signature covers the parameters: another upload id signs differently.
    other = SIGNER.presign("PUT", BUCKET, "/k", query=[("partNumber", "2"), ("uploadId", "a/c=")], expires=60, now=WHEN)
    assert url.rpartition("=")[2] != other.rpartition("=")[2]


def test_the_client_presigns_path_style_urls_and_refuses_unknown_operations() -> None:
    config = S3StagingConfig(
        private_url="http://10.0.0.1:9000", public_url="https://s3.example.org/store/",
        access_key_id=Secret("AKIAIOSFODNN7EXAMPLE"), secret_access_key=Secret("secret"), url_ttl=3600,
    )  # fmt: skip
    client = S3Client(config)
    url = client.presign("upload_part", "PUT", public=True, Bucket="b", Key="u/f x", UploadId="id", PartNumber=3)
    assert url.startswith("https://s3.example.org/store/b/u/f%20x?partNumber=3&uploadId=id&X-Amz-Algorithm=")
    assert "&X-Amz-Expires=3600&" in url
    url = client.presign("create_multipart_upload", "POST", Bucket="b", Key="k")
    assert url.startswith("http://10.0.0.1:9000/b/k?uploads=&X-Amz-")
    with pytest.raises(ValueError, match="unknown S3 operation"):
        client.presign("delete_bucket", "DELETE", Bucket="b")
    with pytest.raises(ValueError, match="upload_part is PUT with Bucket, Key, UploadId, PartNumber, not PUT with"):
        client.presign("upload_part", "PUT", Bucket="b", Key="k")
