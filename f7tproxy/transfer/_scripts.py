"""Batch scripts of the transfer jobs, built from argument lists (no template engine).

A script is: `#!/bin/bash`, the site's transfer directives, a first
executable line (so the scheduler reads no directive from what follows), a
constant prologue of shell functions, the job's data as variable assignments
or command words each quoted with `shlex.quote`, and a constant body. So a
path or URL is only ever data to bash, whatever characters it holds.

The last log line of a successful job is the text pyfirecrest looks for in
the output log: "Files were successfully <done>.", "File was successfully
downloaded (size: N MB)", or "[INFO] Multipart file upload successfully completed".
Nothing the user chose (a path, an error message naming it) is written to the
output log, so no file name can fake one of those lines; failures go to the
error log only.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..filesystem import Compression
from ..filesystem import _commands as cmd

_PROLOGUE = r"""set -u
say() { printf '%s %s\n' "$(date -u)" "$*"; }
fail() { local rc=$1; shift; printf '%s %s\n' "$(date -u)" "$*" >&2; exit "$rc"; }
step() {
    local past=$1 what=$2 out rc
    shift 2
    if out=$("$@" 2>&1); then
        say "Files were successfully $past."
    else
        rc=$?
        fail "$rc" "Unable to $what files (exit code $rc): $out"
    fi
}
"""


def _head(directives: Sequence[str], title: str) -> str:
    lines = ["#!/bin/bash", *directives, _PROLOGUE.rstrip("\n")]
    lines.append(f'say {shlex.quote(title)}" (id:${{SLURM_JOB_ID:-${{PBS_JOBID:-unknown}}}})"')
    return "\n".join(lines) + "\n"


def _assign(**values: str | int) -> str:
    return "".join(f"{name}={shlex.quote(str(value))}\n" for name, value in values.items())


def _step(directives: Sequence[str], title: str, done: str, what: str, argv: Sequence[str]) -> str:
    return _head(directives, title) + f"step {done} {what} {shlex.join(argv)}\n"


def copy_script(directives: Sequence[str], source: str, target: str, *, dereference: bool) -> str:
    return _step(directives, "Copy Files Job", "copied", "copy",
                 cmd.cp_argv(source, target, dereference=dereference))  # fmt: skip


def move_script(directives: Sequence[str], source: str, target: str) -> str:
    return _step(directives, "Move Files Job", "moved", "move", cmd.mv_argv(source, target))


def delete_script(directives: Sequence[str], path: str) -> str:
    return _step(directives, "Delete Files Job", "deleted", "delete", cmd.rm_argv(path))


def compress_script(
    directives: Sequence[str],
    source: str,
    target: str,
    *,
    compression: Compression,
    dereference: bool,
    match_pattern: str | None,
) -> str:
    argv = cmd.compress_argv(
        source, target, compression=compression, dereference=dereference, match_pattern=match_pattern
    )
    return _step(directives, "Compress Files Job", "compressed", "compress", argv)


def extract_script(directives: Sequence[str], source: str, target: str, *, compression: Compression) -> str:
    return _step(directives, "Extract Files Job", "extracted", "extract",
                 cmd.extract_argv(source, target, compression=compression))  # fmt: skip


_INGRESS = r"""
complete=0
tmp=""
cleanup() {
    [ -n "$tmp" ] && rm -f -- "$tmp"
    # Not complete: give the multipart upload up, so that its parts are dropped and f7tproxy
    # stops counting it as waiting.
    [ "$complete" = 1 ] || curl --silent --max-time 30 --output /dev/null --request DELETE "$abort_url" || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
[ -d "$target" ] && fail 21 "$target is a directory"
arrived() { [ "$(curl --silent --head --max-time 30 --output /dev/null --write-out '%{http_code}' "$head_url")" = 200 ]; }
say "Waiting till file to transfer is available..."
first_deadline=$((SECONDS + first_wait))
deadline=$((SECONDS + wait_limit))
started=0
pause=1
until arrived; do
    if [ "$started" = 0 ]; then
        if curl --silent --max-time 30 "$list_url" | grep -q '<PartNumber>'; then
            started=1
            pause=1
            say "The upload has started; waiting for it to complete..."
        elif [ "$SECONDS" -ge "$first_deadline" ] && ! arrived; then
            fail 62 "no part of the file reached the staging area within $first_wait s; the upload was given up"
        fi
    fi
    [ "$SECONDS" -ge "$deadline" ] && ! arrived && fail 62 "the file did not reach the staging area within $wait_limit s"
    # Sleep between checks, backing off to 32 s: a waiting job costs the node nothing but its slot.
    sleep "$pause"
    [ "$pause" -lt 30 ] && pause=$((pause * 2))
done
complete=1
say "File to transfer found in the staging area; downloading it..."
tmp=$(mktemp -- "$target.f7t-XXXXXXXX") || fail 5 "cannot create a temporary file next to $target"
curl --fail --silent --show-error --retry 3 --output "$tmp" "$get_url" || fail 70 "download from the staging area failed"
got=$(stat -c %s -- "$tmp")
[ "$got" = "$size" ] || fail 5 "received $got bytes, expected $size"
chmod -- "$(printf '%o' $(( 0666 & ~$(umask) )))" "$tmp"
mv -f -- "$tmp" "$target" || fail 5 "cannot move the file to $target"
tmp=""
mb=$(awk -v b="$got" 'BEGIN { printf "%.3f", b / 1024 / 1024 }')
say "File was successfully downloaded (size: ${mb}MB)"
"""


def ingress_script(
    directives: Sequence[str], target: str, *, size: int, head_url: str, get_url: str, list_url: str,
    abort_url: str, first_wait: int, wait_limit: int,
) -> str:  # fmt: skip
    """Staging area -> cluster: wait until the client has completed its multipart upload, then fetch it.

    The job gives up (and aborts the multipart upload at `abort_url`) if no part has arrived
    (`list_url`, ListParts) within `first_wait` seconds, or the whole file within `wait_limit`.
    Between checks it sleeps, backing off from 1 to 32 s.
    """
    data = _assign(target=target, size=size, head_url=head_url, get_url=get_url, list_url=list_url,
                   abort_url=abort_url, first_wait=first_wait, wait_limit=wait_limit)  # fmt: skip
    return _head(directives, "Ingress File Transfer Job") + data + _INGRESS


_EGRESS = r"""
[ -f "$source" ] || fail 34 "$source: No such file or directory (or not a regular file)"
now=$(stat -L -c %s -- "$source") || fail 34 "cannot stat $source"
[ "$now" = "$size" ] || fail 27 "$source changed size ($size -> $now bytes) since the transfer was requested"
work=$(mktemp -d -- "$PWD/.f7t-upload-XXXXXXXX") || fail 5 "cannot create a temporary directory in $PWD"
trap 'rm -rf -- "$work"' EXIT
say "[INFO] Uploading $size bytes in ${#urls[@]} parts"
parts=""
for i in "${!urls[@]}"; do
    n=$((i + 1))
    dd if="$source" of="$work/part" iflag=skip_bytes,count_bytes skip=$((i * part_size)) count="$part_size" \
        bs=1M status=none || fail 5 "cannot read part $n of $source"
    etag=""
    for attempt in 1 2 3; do
        code=$(curl --silent --show-error --upload-file "$work/part" --header 'Content-Type: application/octet-stream' \
            --dump-header "$work/headers" --output /dev/null --write-out '%{http_code}' "${urls[$i]}")
        if [ "$code" = 200 ]; then
            etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]:[[:space:]]*//p' "$work/headers" | tr -d '\r')
            [ -n "$etag" ] && break
        fi
        sleep "$attempt"
    done
    [ -n "$etag" ] || fail 70 "upload of part $n failed (HTTP $code)"
    say "[INFO] Uploaded part $n"
    parts="$parts<Part><PartNumber>$n</PartNumber><ETag>$etag</ETag></Part>"
done
xml="<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">$parts</CompleteMultipartUpload>"
code=$(curl --silent --show-error --request POST --header 'Content-Type: application/xml' --data-binary "$xml" \
    --output "$work/complete" --write-out '%{http_code}' "$complete_url")
if [ "$code" = 200 ] && ! grep -q '<Error>' "$work/complete"; then
    say "[INFO] Multipart file upload successfully completed"
else
    fail 70 "completing the multipart upload failed (HTTP $code): $(head -c 500 "$work/complete")"
fi
"""


def egress_script(
    directives: Sequence[str], source: str, *, size: int, part_size: int, part_urls: Sequence[str], complete_url: str
) -> str:
    """Cluster -> staging area: upload `source` in parts to presigned URLs, then complete the upload."""
    data = _assign(source=source, size=size, part_size=part_size, complete_url=complete_url)
    data += "urls=(" + " ".join(shlex.quote(u) for u in part_urls) + ")\n"
    return _head(directives, "Egress File Transfer Job") + data + _EGRESS
