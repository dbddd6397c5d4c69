"""Transfers as scheduler jobs on the cluster, and large files through an S3 staging store.

    _scripts.py   the job scripts, built from quoted argument lists
    _s3.py        Staging: presigned multipart URLs, the user's bucket
    _waiting.py   WaitingUploads: staged uploads waiting for their client (the per-user cap)
    _jobs.py      where transfer jobs run and log; their submission
"""

from ._jobs import TransferJob, check_account, submit_transfer, working_directory
from ._s3 import MAX_PARTS, Staging, StagingFailed
from ._waiting import WaitingUpload, WaitingUploads
from ._scripts import (
    compress_script,
    copy_script,
    delete_script,
    egress_script,
    extract_script,
    ingress_script,
    move_script,
)

__all__ = [
    "MAX_PARTS",
    "Staging",
    "StagingFailed",
    "TransferJob",
    "WaitingUpload",
    "WaitingUploads",
    "check_account",
    "compress_script",
    "copy_script",
    "delete_script",
    "egress_script",
    "extract_script",
    "ingress_script",
    "move_script",
    "submit_transfer",
    "working_directory",
]
