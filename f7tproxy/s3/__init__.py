"""S3-compatible object storage (the staging store): requests signed with botocore, sent with httpx.

    _client.py   S3Client: SigV4-signed requests on an httpx.AsyncClient (trio-native, cancellable)

The health checker's S3 probe uses `S3Client.list_buckets`; large transfers
(presigned multipart URLs) build on the same client.
"""

from ._client import S3Client, S3Error

__all__ = ["S3Client", "S3Error"]
