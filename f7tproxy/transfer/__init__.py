"""Transfers as scheduler jobs on the cluster, and large files through an S3 staging store.

    _scripts.py   the job scripts, built from quoted argument lists
    _s3.py        Staging: presigned multipart URLs, the user's bucket
    _jobs.py      where transfer jobs run and log; their submission
"""

from ._jobs import TransferJob, check_account, submit_transfer, working_directory
from ._s3 import Staging, StagingFailed
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
    "Staging",
    "StagingFailed",
    "TransferJob",
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
