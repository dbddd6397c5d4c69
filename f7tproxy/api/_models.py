"""FirecREST's request and response bodies, under FirecREST's schema names, for /openapi.json.

The routes declare these with `@operation(body=..., response=...)`; the document's
`components/schemas` is generated from them, so a client generated from f7tproxy's
document has FirecREST's types. A class whose Python name differs from FirecREST's
schema name says so in `__schema_name__`. Where f7tproxy accepts more than
FirecREST (aliases such as `path` for `sourcePath`), the field's description says
so; the answers themselves are built by the routes and checked against FirecREST's
own document by the contract tests.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs

from ..filesystem import Compression
from ..scheduler import Account, Job, JobMetadata, Node, Partition, Reservation, UserInfo

# --------------------------------------------------------------------------- status

ServiceType = Literal["s3", "filesystem", "ssh", "scheduler", "exception"]


@attrs.frozen
class SSHClientPool:
    """How the cluster is reached over SSH."""

    host: str
    port: int


@attrs.frozen
class Scheduler:
    """The cluster's batch scheduler."""

    type: Literal["slurm", "pbs"]
    version: str
    """Configured version text (empty when not configured)."""
    connection_mode: Literal["ssh"] = "ssh"


@attrs.frozen
class ProbingService:
    """One service's health probe."""

    timeout: int | None = 10
    """Deadline of the probe, in seconds."""


@attrs.frozen
class ProbingServices:
    """The cluster's health probes."""

    interval_check: int = 120
    """Seconds between probe runs."""
    services: dict[str, ProbingService] | None = None
    """The probes, by service type (ssh, scheduler, filesystem, s3)."""


@attrs.frozen
class ServiceHealth:
    """The last health check of one service (FirecREST's `*ServiceHealth`)."""

    service_type: ServiceType
    healthy: bool = False
    last_checked: str | None = None
    latency: float | None = None
    message: str | None = None
    path: str | None = None
    """The file system's path (filesystem checks only)."""


@attrs.frozen
class FileSystem:
    """A file system of the cluster."""

    path: str
    data_type: Literal["users", "store", "archive", "apps", "scratch", "project"]
    default_work_dir: bool = False


@attrs.frozen
class HPCCluster:
    """A configured system: what clients use of FirecREST's `HPCCluster`, never a credential or secret."""

    name: str
    ssh: SSHClientPool
    scheduler: Scheduler
    probing: ProbingServices
    services_health: list[ServiceHealth] | None = None
    last_health_check: str | None = None
    """When the oldest of the latest health checks ran (ISO 8601)."""
    file_systems: list[FileSystem] = attrs.Factory(list)


@attrs.frozen
class GetSystemsResponse:
    """The configured systems."""

    systems: list[HPCCluster]


# --------------------------------------------------------------------------- filesystem ops


@attrs.frozen
class File:
    """An entry of a directory listing."""

    name: str
    type: str
    """`-` file, `d` directory, `l` symbolic link, ..."""
    user: str
    group: str
    permissions: str
    last_modified: str
    size: str
    link_target: str | None = None


@attrs.frozen
class FileContent:
    """Part of a file."""

    content: str
    content_type: Literal["lines", "bytes"]
    start_position: int
    end_position: int


@attrs.frozen
class FileChecksum:
    """A file's checksum."""

    checksum: str
    algorithm: str = "SHA-256"


@attrs.frozen
class FileStat:
    """stat(2) of a file."""

    mode: int
    ino: int
    dev: int
    nlink: int
    uid: int
    gid: int
    size: int
    atime: int
    ctime: int
    mtime: int


@attrs.frozen
class GetDirectoryLsResponse:
    output: list[File] | None = None


@attrs.frozen
class GetFileHeadResponse:
    output: FileContent | None = None


@attrs.frozen
class GetFileTailResponse:
    output: FileContent | None = None


@attrs.frozen
class GetViewFileResponse:
    output: str | None = None


@attrs.frozen
class GetFileChecksumResponse:
    output: FileChecksum | None = None


@attrs.frozen
class GetFileTypeResponse:
    output: str | None = None


@attrs.frozen
class GetFileStatResponse:
    output: FileStat | None = None


@attrs.frozen
class PostMkdirResponse:
    output: File | None = None


@attrs.frozen
class PostFileSymlinkResponse:
    output: File | None = None


@attrs.frozen
class PutFileChmodResponse:
    output: File | None = None


@attrs.frozen
class PutFileChownResponse:
    output: File | None = None


@attrs.frozen
class PostMakeDirRequest:
    source_path: str
    """The directory to create (also accepted as `source_path` or `path`)."""
    parent: bool = False
    """Create missing parents too (also accepted as `parents`)."""


@attrs.frozen
class PostFileSymlinkRequest:
    source_path: str
    """What the link points to (also accepted as `source_path` or `path`)."""
    link_path: str
    """The link to create."""


@attrs.frozen
class PutFileChmodRequest:
    source_path: str
    """The file (also accepted as `source_path` or `path`)."""
    mode: str
    """Octal (`755`) or symbolic (`u+x`) mode."""


@attrs.frozen
class PutFileChownRequest:
    source_path: str
    """The file (also accepted as `source_path` or `path`)."""
    owner: str = ""
    group: str = ""


@attrs.frozen
class PostCompressRequest:
    source_path: str
    """What to archive (also accepted as `source_path` or `path`)."""
    target_path: str
    """The archive to create."""
    match_pattern: str | None = None
    """Only names matching this regular expression."""
    dereference: bool = False
    compression: Compression = "gzip"


@attrs.frozen
class PostExtractRequest:
    source_path: str
    """The archive (also accepted as `source_path` or `path`)."""
    target_path: str
    """The directory to extract into."""
    compression: Compression = "gzip"


@attrs.frozen
class UploadForm:
    """A small file sent as multipart form data."""

    __schema_name__: ClassVar[str] = "Body_post_upload_filesystem__system_name__ops_upload_post"
    file: bytes


# --------------------------------------------------------------------------- transfers


@attrs.frozen
class TransferJobLogs:
    output_log: str
    error_log: str


@attrs.frozen
class TransferJob:
    """The scheduler job that does a transfer, and its logs."""

    job_id: str
    system: str
    working_directory: str
    logs: TransferJobLogs


@attrs.frozen
class TransferJobResponse:
    """A transfer's job (FirecREST has one such class per transfer)."""

    transfer_job: TransferJob


@attrs.frozen
class CopyResponse(TransferJobResponse):
    pass


@attrs.frozen
class MoveResponse(TransferJobResponse):
    pass


@attrs.frozen
class DeleteResponse(TransferJobResponse):
    pass


@attrs.frozen
class CompressResponse(TransferJobResponse):
    pass


@attrs.frozen
class ExtractResponse(TransferJobResponse):
    pass


@attrs.frozen
class S3TransferRequest:
    """How to stage a large file: through the S3 store."""

    transfer_method: Literal["s3"]
    file_size: int | None = None
    """The file's size in bytes (upload only; required there)."""


@attrs.frozen
class S3TransferResponse:
    """Where the client sends or fetches the staged file."""

    transfer_method: Literal["s3"]
    parts_upload_urls: list[str] | None = None
    complete_upload_url: str | None = None
    max_part_size: int | None = None
    download_url: str | None = None


@attrs.frozen
class UploadFileResponse:
    transfer_job: TransferJob
    transfer_directives: S3TransferResponse


@attrs.frozen
class DownloadFileResponse:
    transfer_job: TransferJob
    transfer_directives: S3TransferResponse


@attrs.frozen
class CopyRequest:
    source_path: str
    """Also accepted as `source_path` or `path`."""
    target_path: str
    account: str | None = None
    dereference: bool = False


@attrs.frozen
class MoveRequest:
    source_path: str
    """Also accepted as `source_path` or `path`."""
    target_path: str
    account: str | None = None


@attrs.frozen
class CompressRequest(PostCompressRequest):
    account: str | None = None


@attrs.frozen
class ExtractRequest(PostExtractRequest):
    account: str | None = None


@attrs.frozen
class PostFileUploadRequest:
    source_path: str
    """The file to create on the system (also accepted as `source_path` or `path`)."""
    transfer_directives: S3TransferRequest
    account: str | None = None


@attrs.frozen
class PostFileDownloadRequest:
    source_path: str
    """The file to fetch (also accepted as `source_path` or `path`)."""
    transfer_directives: S3TransferRequest
    account: str | None = None


FIRECREST_NAMES: dict[type, str] = {
    Job: "JobModel", JobMetadata: "JobMetadataModel", Node: "NodeModel", Partition: "PartitionModel",
    Reservation: "ReservationModel", Account: "AccountsModel", UserInfo: "UserInfoResponse",
}  # fmt: skip
"""FirecREST's schema names of classes defined elsewhere under names of their own."""


def schema_name(cls: type) -> str:
    """The name of `cls` in /openapi.json (FirecREST's, where it differs from the class's)."""
    name: Any = FIRECREST_NAMES.get(cls) or cls.__dict__.get("__schema_name__", cls.__name__)
    return str(name)
