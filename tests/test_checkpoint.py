"""The checkpoint journal of ``aiopersonalize crawl``, on its own (no crawl, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiopersonalize._checkpoint import CheckpointError, Journal, recover

PARAMS = {"kinds": ["inference"], "endpoint_url": "http://user:s3cret@127.0.0.1:1", "page_size": 5}
V1 = ("us-east-1", "inference", "arn:aws:personalize:us-east-1:1:solution/a/1")
V2 = ("us-east-1", "inference", "arn:aws:personalize:us-east-1:1:solution/a/2")


def journal_with(
    tmp_path: Path, pages: list[tuple[tuple[str, str, str], str | None, bytes]]
) -> tuple[Path, Path]:
    """A journal and output holding these (chain, token, page bytes), as a crawl writes them."""
    journal, output = tmp_path / "j", tmp_path / "o"
    with output.open("wb") as sink:
        log = Journal.create(journal, PARAMS, sink)
        offset = 0
        for key, token, data in pages:
            sink.write(data)
            sink.flush()
            offset += len(data)
            log.record(key, token, offset)
        log.close()
    return journal, output


def test_no_journal_means_a_fresh_crawl(tmp_path: Path) -> None:
    """Without a journal file there is nothing to recover."""
    assert recover(tmp_path / "j", tmp_path / "o", PARAMS) is None


def test_last_entry_of_each_chain_wins(tmp_path: Path) -> None:
    """Recovery keeps each chain's last token (None: complete) and the last offset."""
    journal, output = journal_with(
        tmp_path, [(V1, "t1", b"a\n"), (V2, "u1", b"b\n"), (V1, None, b"c\n"), (V2, "u2", b"")]
    )
    recovered = recover(journal, output, PARAMS)
    assert recovered is not None
    assert recovered.positions == {V1: None, V2: "u2"}
    assert recovered.offset == 6
    assert recovered.journal_length == journal.stat().st_size


def test_torn_last_entry_is_ignored_and_cut_on_reopen(tmp_path: Path) -> None:
    """A half-written last entry is ignored, and reopening cuts it so the next entry
    starts a line of its own."""
    journal, output = journal_with(tmp_path, [(V1, "t1", b"a\n"), (V1, "t2", b"b\n")])
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"kind":"infer')
    recovered = recover(journal, output, PARAMS)
    assert recovered is not None
    assert recovered.positions == {V1: "t2"}
    assert recovered.journal_length == len(whole)
    with output.open("ab") as sink:
        log = Journal.reopen(journal, recovered, sink)
        log.record(V2, None, 4)
        log.close()
    lines = journal.read_bytes().splitlines()
    assert [json.loads(line).get("token", "header") for line in lines] == [
        "header", "t1", "t2", None,
    ]  # fmt: skip


def test_entries_past_the_outputs_end_are_dropped(tmp_path: Path) -> None:
    """Entries describing output the disk does not hold (a power cut) are dropped, with
    every entry after them."""
    journal, output = journal_with(
        tmp_path, [(V1, "t1", b"aa\n"), (V2, "u1", b"bb\n"), (V1, None, b"cc\n")]
    )
    output.write_bytes(b"aa\nb")
    recovered = recover(journal, output, PARAMS)
    assert recovered is not None
    assert recovered.positions == {V1: "t1"}
    assert recovered.offset == 3


def test_other_crawls_checkpoint_is_refused_by_parameter_name(tmp_path: Path) -> None:
    """A journal written with other parameters is refused, naming the parameters but not
    their values (an endpoint URL may hold a secret)."""
    journal, output = journal_with(tmp_path, [])
    other = {**PARAMS, "endpoint_url": "http://127.0.0.1:2", "page_size": 6}
    with pytest.raises(CheckpointError, match=r"\(endpoint_url, page_size differ\)") as refused:
        recover(journal, output, other)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("content", [b"", b"hello", b"hello\n", b'{"a": 1}\n'])
def test_foreign_file_is_refused(tmp_path: Path, content: bytes) -> None:
    """A file that is not a checkpoint is never taken for one (nor overwritten)."""
    journal = tmp_path / "j"
    journal.write_bytes(content)
    (tmp_path / "o").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not an aiopersonalize checkpoint"):
        recover(journal, tmp_path / "o", PARAMS)


def test_missing_output_is_refused(tmp_path: Path) -> None:
    """A journal whose output is gone cannot be resumed."""
    journal, output = journal_with(tmp_path, [(V1, None, b"a\n")])
    output.unlink()
    with pytest.raises(CheckpointError, match=r"output file .* is missing"):
        recover(journal, output, PARAMS)


def test_damaged_entry_before_the_last_is_refused(tmp_path: Path) -> None:
    """A broken entry that is not the torn last line means damage, not a crash."""
    journal, output = journal_with(tmp_path, [(V1, "t1", b"a\n"), (V1, None, b"b\n")])
    header, _first, second = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(header + b"{}\n" + second)
    with pytest.raises(CheckpointError, match="damaged at line 2"):
        recover(journal, output, PARAMS)


def test_header_is_written_whole_without_leftovers(tmp_path: Path) -> None:
    """Creating a journal leaves just the journal (the header goes through a renamed
    temporary file)."""
    journal, _ = journal_with(tmp_path, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j", "o"]
    header = json.loads(journal.read_bytes())
    assert header == {"aiopersonalize-checkpoint": 1, "params": PARAMS}
