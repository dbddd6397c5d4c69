"""The pieces of the event streams that need no cluster: wire format, lines, a followed file's buffer."""

from __future__ import annotations

from f7tproxy.events import comment, event, last_event_id
from f7tproxy.events._lines import cut_lines
from f7tproxy.events._watched import FollowedFile, JobRecord, job_from_text, job_text
from f7tproxy.scheduler import Job, JobStatus, JobTime


def job(state: str, **fields: object) -> Job:
    base: dict[str, object] = dict(job_id="7", name="j", status=JobStatus(state=state), time=JobTime(),
                                   allocation_nodes=1, cluster="c", nodes="", partition="p", user="u",
                                   working_directory="/home/u")  # fmt: skip
    base.update(fields)
    return Job(**base)  # type: ignore[arg-type]


def test_event_format() -> None:
    assert event("job", {"a": "x\ny"}, 3) == b'event: job\nid: 3\ndata: {"a":"x\\ny"}\n\n'
    assert event("line", "caf\u00e9\r") == 'event: line\ndata: "caf\u00e9\\r"\n\n'.encode()
    assert comment("keep-alive") == b": keep-alive\n\n"
    assert [last_event_id(v) for v in (None, "12", " 5 ", "x", "-1", "1" * 19)] == [None, 12, 5, None, None, None]


def test_cut_lines() -> None:
    assert cut_lines(b"a\nbb\ncc", 10, 80, final=False) == [("a", 12), ("bb", 15)]
    assert cut_lines(b"a\nbb\ncc", 10, 80, final=True) == [("a", 12), ("bb", 15), ("cc", 17)]
    # a line longer than the limit comes in pieces; exactly the limit waits for its newline
    assert cut_lines(b"abcdefg\n", 0, 3, final=False) == [("abc", 3), ("def", 6), ("g", 8)]
    assert cut_lines(b"abc", 0, 3, final=False) == []
    assert cut_lines(b"abc\n", 0, 3, final=False) == [("abc", 4)]
    # never inside a UTF-8 character; bad bytes replaced
    assert cut_lines("aé\n".encode(), 0, 2, final=False) == [("a", 1), ("é", 4)]
    assert cut_lines(b"\xff\n", 0, 8, final=False) == [("\ufffd", 2)]


def test_job_record_numbers_only_changes_clients_act_on() -> None:
    record = JobRecord("7")
    assert record.update(job("PENDING")) and record.seq == 1
    assert not record.update(job("PENDING", time=JobTime(elapsed=5), priority=9))
    assert record.update(job("RUNNING", nodes="n1")) and record.seq == 2
    assert not record.finished
    assert record.update(job("COMPLETED", nodes="n1", status=JobStatus("COMPLETED", exit_code=0))) and record.finished
    assert record.seq == 3


def test_a_finished_job_waits_a_little_for_its_exit_code() -> None:
    record = JobRecord("7")
    record.update(job("RUNNING"))
    assert record.update(job("COMPLETED")) and not record.finished  # squeue: no exit code
    assert record.update(job("COMPLETED", status=JobStatus("COMPLETED", exit_code=2))) and record.finished
    lagging = JobRecord("8")
    for _ in range(2):
        lagging.update(job("FAILED"))
    assert not lagging.finished
    waiting = lagging.changed
    lagging.update(job("FAILED"))  # no accounting: the stream ends without it
    assert lagging.finished and waiting.is_set() and lagging.seq == 1


def test_a_job_numbered_by_an_earlier_watcher_wakes_its_first_listeners() -> None:
    earlier = JobRecord("7")
    earlier.update(job("PENDING"))
    record = JobRecord("7", seq=earlier.seq, last=earlier.last)  # as JobWatchers seeds it
    waiting = record.changed
    assert not record.update(job("PENDING")) and record.seq == 1  # no change: the same number
    assert waiting.is_set() and record.answered


def test_followed_file_serves_readers_at_their_own_places() -> None:
    followed = FollowedFile("/f", JobRecord("7"), max_buffer=100)
    first = followed.add_reader(0)
    followed.add(b"one\ntwo\nthr", requested=64, job_was_finished=False)
    assert followed.lines(first, 80) == [("one", 4), ("two", 8)]
    assert followed.base == 8  # what every reader has is dropped
    late = followed.add_reader(4)  # resumes from an earlier place: the buffer restarts there
    assert followed.base == 4 and followed.end == 4 and not followed.data
    followed.add(b"two\nthree\n", requested=64, job_was_finished=False)
    assert followed.lines(late, 80) == [("two", 8), ("three", 14)]
    assert followed.lines(first, 80) == [("three", 14)]
    assert not followed.done_for(first)
    followed.add(b"", requested=64, job_was_finished=True)  # the job had ended before this read
    assert followed.complete and followed.done_for(first) and followed.done_for(late)


def test_followed_file_stops_reading_for_a_slow_reader() -> None:
    followed = FollowedFile("/f", JobRecord("7"), max_buffer=8)
    slow, fast = followed.add_reader(0), followed.add_reader(0)
    followed.add(b"12345\n6789\n", requested=64, job_was_finished=False)
    assert followed.lines(fast, 80) == [("12345", 6), ("6789", 11)]
    assert not followed.wants_read()  # the slow reader holds 11 bytes, past the buffer's 8
    followed.lines(slow, 80)
    assert followed.wants_read() and not followed.data


def test_a_change_takes_the_replicas_number_but_never_goes_back() -> None:
    record = JobRecord("7")
    assert record.changes(job("PENDING"))
    assert record.update(job("PENDING"), (4, 5)) and (record.seq, record.known) == (4, 5)  # another replica's
    assert not record.changes(job("PENDING", priority=9))
    assert record.update(job("RUNNING"), (2, 5)) and record.seq == 5  # never back: the next one
    assert record.update(job("COMPLETED")) and (record.seq, record.known) == (6, 5)  # none given: the next one


def test_a_job_kept_as_text_for_other_replicas_reads_back() -> None:
    running = job("RUNNING", nodes="n[1-2]", status=JobStatus("RUNNING", exit_code=None), priority=7)
    assert job_from_text(job_text(running)) == running
    assert job_from_text('{"job_id": "7"}') is None and job_from_text("not json") is None
