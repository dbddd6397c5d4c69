"""S3-compatible object storage (the staging store): requests signed with botocore, sent with httpx.

    _client.py   S3Client: SigV4 signing and presigning (botocore), requests on an
                 httpx.AsyncClient (trio-native, cancellable)

The one place that signs and sends S3 requests: the health checker's S3 probe
uses `S3Client.list_buckets`; the staging store (`f7tproxy.transfer.Staging`)
its `presign` and `send`.
"""

from ._client import NS, S3Client, S3Error

__all__ = ["NS", "S3Client", "S3Error"]
