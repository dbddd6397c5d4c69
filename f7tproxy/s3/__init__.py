"""S3-compatible object storage (the staging store): requests signed with SigV4, sent with httpx.

    _sigv4.py    Signer: AWS Signature Version 4 headers and presigned URLs (standard library)
    _client.py   S3Client: the S3 operations f7tproxy presigns, ListBuckets, requests on an
                 httpx.AsyncClient (trio-native, cancellable)

The one place that signs and sends S3 requests: the health checker's S3 probe
uses `S3Client.list_buckets`; the staging store (`f7tproxy.transfer.Staging`)
its `presign` and `send`.
"""

from ._client import NS, S3Client, S3Error

__all__ = ["NS", "S3Client", "S3Error"]
