"""The checkpoint journal of ``aiopersonalize crawl``, on its own (no crawl, no network).

A real journal and output are made with the real :class:`Journal` API over a synthetic
sequence of pages, then damaged in every way a file can be (bytes flipped, cut short,
lines repeated, moved, dropped or brought in, the output replaced, an old format,
another crawl's journal). Recovery must then either refuse with a clear
:class:`CheckpointError`, or give exactly the state after some prefix of the real
entries, with the output's bytes up to there intact; resuming from it must then finish
the real output and journal.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiopersonalize import ChainKey
from aiopersonalize.cli._checkpoint import CheckpointError, Journal, Recovered, recover

PARAMS = {
    "kinds": ["inference", "segment"],
    "endpoint_url": "http://user:s3cret@127.0.0.1:1",
    "page_size": 5,
}
KINDS = ("inference", "segment")
V1 = ("us-east-1", "inference", "arn:aws:personalize:us-east-1:1:solution/a/1")
V2 = ("us-east-1", "inference", "arn:aws:personalize:us-east-1:1:solution/a/2")
S1 = ("us-east-1", "segment", "arn:aws:personalize:us-east-1:1:solution/a/1")
E1 = ("eu-west-1", "inference", "arn:aws:personalize:eu-west-1:1:solution/b/1")
A1 = ("eu-west-1", "segment", None)  # an account-wide chain: no solution version

Pages = Sequence[tuple[ChainKey, str | None, bytes]]


def jobs(name: str, count: int) -> bytes:
    return b"".join(b'{"job":"%s-%d"}\n' % (name.encode(), i) for i in range(count))


# A crawl's pages in the order they were written: empty pages (first ones included, at
# offset 0), a complete empty chain, several chains, kinds and regions, an account-wide
# chain, a long token.
PAGES: Pages = [
    (V1, "v1/t1", b""),
    (S1, None, b""),
    (V1, "v1/t2", jobs("v1", 3)),
    (V2, "v2+t1=" + "x" * 200, jobs("v2", 2)),
    (E1, "e1 t1", jobs("e1", 1)),
    (A1, "a1 t1", jobs("a1", 2)),
    (V1, "v1/t3", b""),
    (V2, None, jobs("v2b", 4)),
    (V1, None, jobs("v1b", 2)),
    (E1, "e1 t2", jobs("e1b", 3)),
    (E1, None, jobs("e1c", 1)),
    (A1, None, jobs("a1b", 1)),
]
# The same crawl run another time, when the jobs had other names: the same lengths.
OTHER_PAGES: Pages = [(key, token, data.upper()) for key, token, data in PAGES]

CLEAR_REFUSAL = (
    r"damaged at line \d+ \(.+\); delete the checkpoint and rerun"
    r"|not an aiopersonalize checkpoint"
    r"|does not match its checkpoint \(replaced, edited, or another crawl's\)"
    r"|format [12], written by aiopersonalize before 1\.0, which cannot be resumed; delete"
    r"|checkpoint format .+ is not supported"
    r"|made by a different crawl: its .+ differs? from this command's"
)


def write_journal(journal: Path, output: Path, pages: Pages, params: dict[str, Any]) -> None:
    """A journal and output holding these (chain, token, page bytes), as a crawl writes them."""
    with output.open("wb") as sink:
        log = Journal.create(journal, params, sink)
        for key, token, data in pages:
            sink.write(data)
            sink.flush()
            log.record(key, token, data)
        log.close()


def journal_with(
    tmp_path: Path, pages: Pages, params: dict[str, Any] = PARAMS
) -> tuple[Path, Path]:
    journal, output = tmp_path / "j", tmp_path / "o"
    write_journal(journal, output, pages, params)
    return journal, output


def recovered(journal: Path, output: Path, params: dict[str, Any] = PARAMS) -> Recovered:
    found = recover(journal, output, params, kinds=KINDS)
    assert found is not None
    return found


def canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def resealed(lines: Sequence[dict[str, Any]]) -> bytes:
    """Journal lines with their checksums made as the format says: the CRC-32 of the
    line's canonical JSON without ``crc``, continued from the previous line's."""
    crc, out = 0, []
    for obj in lines:
        body = {k: v for k, v in obj.items() if k != "crc"}
        crc = zlib.crc32(canonical(body), crc)
        out.append(canonical({**body, "crc": crc}) + b"\n")
    return b"".join(out)


def rewrite(journal: Path, number: int, **changes: Any) -> None:
    """Change members of the journal's line ``number`` (1-based) and reseal every line:
    damage that the checksums cannot see."""
    lines = [json.loads(line) for line in journal.read_bytes().splitlines()]
    lines[number - 1].update(changes)
    journal.write_bytes(resealed(lines))


def format_1(pages: Pages) -> bytes:
    """The journal aiopersonalize wrote before format 2: no checksums."""
    lines = [{"aiopersonalize-checkpoint": 1, "params": PARAMS}]
    offset = 0
    for (region, kind, version), token, data in pages:
        offset += len(data)
        entry = {"region": region, "kind": kind, "version": version}
        lines.append({**entry, "token": token, "offset": offset})
    return b"".join(canonical(line) + b"\n" for line in lines)


def states(pages: Pages) -> list[tuple[dict[ChainKey, str | None], int]]:
    """The state after each prefix of ``pages`` (the empty one first): positions, offset."""
    positions: dict[ChainKey, str | None] = {}
    offset = 0
    found = [(dict(positions), offset)]
    for key, token, data in pages:
        positions[key] = token
        offset += len(data)
        found.append((dict(positions), offset))
    return found


STATES = states(PAGES)


# -- what a journal says ----------------------------------------------------------------


def test_no_journal_means_a_fresh_crawl(tmp_path: Path) -> None:
    """Without a journal file there is nothing to recover."""
    assert recover(tmp_path / "j", tmp_path / "o", PARAMS, kinds=KINDS) is None


def test_last_entry_of_each_chain_wins(tmp_path: Path) -> None:
    """Recovery keeps each chain's last token (None: complete) and the last offset."""
    journal, output = journal_with(
        tmp_path, [(V1, "t1", b"a\n"), (V2, "u1", b"b\n"), (V1, None, b"c\n"), (V2, "u2", b"")]
    )
    found = recovered(journal, output)
    assert found.positions == {V1: None, V2: "u2"}
    assert found.offset == 6
    assert found.output_crc == zlib.crc32(b"a\nb\nc\n")
    assert found.journal_length == journal.stat().st_size


def test_journal_lines_are_sealed_as_documented(tmp_path: Path) -> None:
    """Every line is canonical JSON whose ``crc`` is the CRC-32 of the line without it,
    continued from the previous line's, and entries carry the output's running CRC-32."""
    journal, output = journal_with(tmp_path, PAGES)
    data = journal.read_bytes()
    lines = [json.loads(line) for line in data.splitlines()]
    assert resealed(lines) == data
    assert lines[0]["aiopersonalize-checkpoint"] == 4
    assert lines[0]["params"] == PARAMS
    written = output.read_bytes()
    for entry, (_, offset) in zip(lines[1:], STATES[1:], strict=True):
        assert entry["offset"] == offset
        assert entry["output_crc"] == zlib.crc32(written[:offset])


def test_torn_last_entry_is_ignored_and_cut_on_reopen(tmp_path: Path) -> None:
    """A half-written last entry is ignored, and reopening cuts it so the next entry
    starts a line of its own and continues the checksums."""
    journal, output = journal_with(tmp_path, [(V1, "t1", b"a\n"), (V1, "t2", b"b\n")])
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"kind":"infer')
    found = recovered(journal, output)
    assert found.positions == {V1: "t2"}
    assert found.journal_length == len(whole)
    with output.open("ab") as sink:
        log = Journal.reopen(journal, found, sink)
        sink.write(b"c\n")
        log.record(V2, None, b"c\n")
        log.close()
    assert [json.loads(line).get("token", "header") for line in journal.read_bytes().splitlines()] == [
        "header", "t1", "t2", None,
    ]  # fmt: skip
    assert recovered(journal, output).positions == {V1: "t2", V2: None}


def test_entries_past_the_outputs_end_are_dropped(tmp_path: Path) -> None:
    """Entries describing output the disk does not hold (a power cut) are dropped, with
    every entry after them, and the journal is cut back to the entries kept."""
    journal, output = journal_with(
        tmp_path, [(V1, "t1", b"aa\n"), (V2, "u1", b"bb\n"), (V1, None, b"cc\n")]
    )
    output.write_bytes(b"aa\nb")
    found = recovered(journal, output)
    assert found.positions == {V1: "t1"}
    assert found.offset == 3
    assert found.journal_length == len(b"".join(journal.read_bytes().splitlines(True)[:2]))


def test_output_that_came_back_as_other_bytes_is_cut_before_them(tmp_path: Path) -> None:
    """Output bytes that are not those journaled (zeros left by a power cut) drop the
    entries from the first one they reach: the crawl goes on from before them."""
    journal, output = journal_with(tmp_path, PAGES)
    written = output.read_bytes()
    start = STATES[4][1] + 2  # inside page 5, the first of E1
    output.write_bytes(written[:start] + bytes(len(written) - start))
    found = recovered(journal, output)
    assert (dict(found.positions), found.offset) == STATES[4]


# -- what is refused --------------------------------------------------------------------


def test_other_crawls_checkpoint_is_refused_by_parameter_name(tmp_path: Path) -> None:
    """A journal written with other parameters is refused, naming the command's options
    they come from but not their values (an endpoint URL may hold a secret)."""
    journal, output = journal_with(tmp_path, [])
    other = {**PARAMS, "endpoint_url": "http://127.0.0.1:2", "page_size": 6}
    with pytest.raises(
        CheckpointError, match=r"its --endpoint-url, --page-size differ from"
    ) as refused:
        recover(journal, output, other, kinds=KINDS)
    assert "s3cret" not in str(refused.value)


def test_a_differing_parameter_with_no_option_of_its_own_is_named_as_it_is(
    tmp_path: Path,
) -> None:
    """A journal whose parameters differ in one that no single option sets (the accounts
    of an organization crawl) is refused naming that parameter."""
    journal, output = journal_with(tmp_path, [], {**PARAMS, "accounts": "Organization"})
    with pytest.raises(CheckpointError) as refused:
        recover(journal, output, {**PARAMS, "accounts": None}, kinds=KINDS)
    assert str(refused.value) == (
        "the checkpoint was made by a different crawl: its accounts differs from this command's"
    )


def test_chains_of_other_accounts_are_recovered_under_their_account(tmp_path: Path) -> None:
    """In a crawl of several accounts, a member's chain is journaled and recovered under
    its account, apart from the same chain of the caller's own account."""
    own = ChainKey("us-east-1", "inference", None)
    member = ChainKey("us-east-1", "inference", None, "200000000001")
    pages = [(own, "o1", jobs("own", 1)), (member, "m1", jobs("member", 2)), (own, None, b"")]
    journal, output = journal_with(tmp_path, pages)
    assert [json.loads(line)["account"] for line in journal.read_bytes().splitlines()[1:]] == [
        None,
        "200000000001",
        None,
    ]
    assert recovered(journal, output).positions == {own: None, member: "m1"}


@pytest.mark.parametrize("content", [b"", b"hello", b"hello\n", b'{"a": 1}\n', b"[1]\n"])
def test_foreign_file_is_refused(tmp_path: Path, content: bytes) -> None:
    """A file that is not a checkpoint is never taken for one (nor overwritten)."""
    journal = tmp_path / "j"
    journal.write_bytes(content)
    (tmp_path / "o").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not an aiopersonalize checkpoint"):
        recover(journal, tmp_path / "o", PARAMS, kinds=KINDS)


def test_unreadable_checkpoint_is_refused(tmp_path: Path) -> None:
    """A checkpoint path that cannot be read (here a directory) is refused as such,
    not reported as a problem with the output."""
    (tmp_path / "j").mkdir()
    (tmp_path / "o").write_bytes(b"")
    with pytest.raises(CheckpointError, match="cannot read the checkpoint"):
        recover(tmp_path / "j", tmp_path / "o", PARAMS, kinds=KINDS)


def test_format_1_journal_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """A journal of format 1 (no checksums, before 1.0), 2 (no account-wide chains) or 3
    (no accounts) is refused, saying to delete it and rerun; so is a format this version
    does not know."""
    journal, output = journal_with(tmp_path, PAGES)
    journal.write_bytes(format_1(PAGES))
    with pytest.raises(
        CheckpointError, match=r"format 1, .* before 1\.0, .* delete the checkpoint"
    ):
        recover(journal, output, PARAMS, kinds=KINDS)
    journal, output = journal_with(tmp_path, PAGES)
    rewrite(journal, 1, **{"aiopersonalize-checkpoint": 2})
    with pytest.raises(
        CheckpointError, match=r"format 2, .* before 1\.0, .* delete the checkpoint"
    ):
        recover(journal, output, PARAMS, kinds=KINDS)
    rewrite(journal, 1, **{"aiopersonalize-checkpoint": 3})
    with pytest.raises(
        CheckpointError, match=r"format 3, .* before crawls of several accounts .* delete the"
    ):
        recover(journal, output, PARAMS, kinds=KINDS)
    rewrite(journal, 1, **{"aiopersonalize-checkpoint": 5})
    with pytest.raises(CheckpointError, match="format 5 is not supported"):
        recover(journal, output, PARAMS, kinds=KINDS)


def test_missing_output_is_refused(tmp_path: Path) -> None:
    """A journal whose output is gone cannot be resumed."""
    journal, output = journal_with(tmp_path, [(V1, None, b"a\n")])
    output.unlink()
    with pytest.raises(CheckpointError, match=r"output file .* is missing"):
        recover(journal, output, PARAMS, kinds=KINDS)


@pytest.mark.parametrize(
    "replace",
    [
        lambda _: b"".join(data for _, _, data in OTHER_PAGES),
        lambda written: b"#" + written[1:],
        lambda _: b"hello\n",
    ],
    ids=["another-run", "edited", "shorter-than-a-page"],
)
def test_replaced_output_is_refused(tmp_path: Path, replace: Callable[[bytes], bytes]) -> None:
    """An output that is not the one journaled (the same crawl's from another run, one
    edited at its start, another file shorter than the first page) is refused, and left
    as it is."""
    journal, output = journal_with(tmp_path, PAGES)
    other = replace(output.read_bytes())
    output.write_bytes(other)
    with pytest.raises(CheckpointError, match=r"output file .* does not match its checkpoint"):
        recover(journal, output, PARAMS, kinds=KINDS)
    assert output.read_bytes() == other


def test_damaged_entry_before_the_last_is_refused(tmp_path: Path) -> None:
    """A broken entry that is not the torn last line means damage, not a crash."""
    journal, output = journal_with(tmp_path, [(V1, "t1", b"a\n"), (V1, None, b"b\n")])
    header, _first, second = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(header + b"{}\n" + second)
    with pytest.raises(CheckpointError, match=r"damaged at line 2 \(no checksum\)"):
        recover(journal, output, PARAMS, kinds=KINDS)


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("offset", lambda entry: entry["offset"] + 10),  # a flipped digit, valid JSON
        ("token", lambda entry: entry["token"].replace("1", "7")),
        ("version", lambda entry: entry["version"].replace("/a/", "/c/")),
    ],
)
def test_changed_value_of_the_right_type_is_damage(tmp_path: Path, where: str, change: Any) -> None:
    """A value changed in place, still valid JSON of the right type, breaks the line's
    checksum: refused as damaged at that line, not resumed from the wrong place."""
    journal, output = journal_with(tmp_path, PAGES)
    lines = journal.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[3])
    changed = canonical({**entry, where: change(entry)}) + b"\n"
    journal.write_bytes(b"".join([*lines[:3], changed, *lines[4:]]))
    with pytest.raises(CheckpointError, match=r"damaged at line 4 \(checksum mismatch\)"):
        recover(journal, output, PARAMS, kinds=KINDS)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"kind": "bogus"}, "a job kind this crawl does not list: 'bogus'"),
        ({"region": "Not A Region"}, "is not a valid region name"),
        (
            {"version": "solution/a/1"},
            r"does not match the ARN pattern arn:([a-z\d-]+):personalize:.*:.*:.+",
        ),
        ({"token": "caf\u00e9"}, "token must be ASCII"),
        ({"token": "t" * 1501}, "the limit is 1500"),
        ({"token": 5}, "expected a str token, got int"),
        ({"offset": 2}, "the output offset goes back"),
        ({"offset": -1}, "offset or output_crc out of range"),
        ({"offset": True}, "offset or output_crc out of range"),
        ({"output_crc": 1 << 32}, "offset or output_crc out of range"),
        ({"output_crc": 7}, "another checksum for the same output"),
        ({"extra": 1}, "not an entry"),
    ],
)
def test_sealed_entry_that_makes_no_sense_is_damage(
    tmp_path: Path, changes: dict[str, Any], reason: str
) -> None:
    """An entry whose checksum holds but whose content cannot be (a kind this crawl does
    not list, a bad region, version or token, an offset going back, two checksums for
    one output length, unknown members) is refused as damage, naming the line."""
    journal, output = journal_with(
        tmp_path, [(V1, "t1", b"a" * 20), (V1, "t2", b"b" * 5), (V1, None, b"")]
    )
    rewrite(journal, 4, **changes)
    with pytest.raises(CheckpointError, match="damaged at line 4") as refused:
        recover(journal, output, PARAMS, kinds=KINDS)
    named = re.fullmatch(
        r"the checkpoint is damaged at line 4 \((.*)\); delete .*", str(refused.value)
    )
    assert named is not None
    assert named.group(1).endswith(reason)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # nested beyond the decoder
        (b"[1]", "not a JSON object"),
        (b'{"crc":4294967296}', "no checksum"),  # no CRC-32 is that large
    ],
)
def test_a_line_that_is_no_sealed_object_is_damage_saying_what_it_is(
    tmp_path: Path, line: bytes, reason: str
) -> None:
    """A whole line that is not a JSON object, or whose checksum no CRC-32 can be, is
    refused as damage in words naming the line and what is wrong with it."""
    journal, output = journal_with(tmp_path, [(V1, "t1", b"a\n"), (V1, None, b"b\n")])
    header, _first, second = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(header + line + b"\n" + second)
    with pytest.raises(CheckpointError) as refused:
        recover(journal, output, PARAMS, kinds=KINDS)
    assert str(refused.value) == (
        f"the checkpoint is damaged at line 2 ({reason}); "
        "delete the checkpoint and rerun the command to start over"
    )


def test_kinds_this_crawl_does_not_list_are_damage(tmp_path: Path) -> None:
    """An entry of a job kind outside the crawl's kinds is refused (no resume token for
    a listing the crawl will not make)."""
    journal, output = journal_with(tmp_path, [(S1, None, b"a\n")])
    with pytest.raises(CheckpointError, match=r"damaged at line 2 \(a job kind this crawl"):
        recover(journal, output, PARAMS, kinds=("inference",))


DAMAGED_1 = "the checkpoint is damaged at line 1 ({}); delete the checkpoint and rerun the command to start over"
FEWER_PARAMS = {k: v for k, v in PARAMS.items() if k != "page_size"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            canonical({"aiopersonalize-checkpoint": 4, "params": PARAMS, "crc": 1}),
            DAMAGED_1.format("the header: checksum mismatch"),
        ),
        (
            resealed([{"aiopersonalize-checkpoint": 4}]).rstrip(),
            DAMAGED_1.format("the header has no parameters"),
        ),
        (
            resealed([{"aiopersonalize-checkpoint": 4, "params": PARAMS, "extra": 1}]).rstrip(),
            DAMAGED_1.format("the header has no parameters"),
        ),
        (b'{"aiopersonalize-checkpoint":4,', DAMAGED_1.format("the header is not valid")),
        (b'{"hello":1}', "not an aiopersonalize checkpoint"),
        (
            resealed([{"aiopersonalize-checkpoint": 4, "params": FEWER_PARAMS}]).rstrip(),
            "the checkpoint was made by a different crawl: its --page-size differs from this command's",
        ),
    ],
)
def test_a_header_not_of_this_crawl_is_refused_saying_why(
    tmp_path: Path, header: bytes, message: str
) -> None:
    """A header whose checksum fails, whose members are not exactly the format and the
    parameters, that is not JSON, not a checkpoint's, or that lacks a parameter this
    crawl has, is refused with words saying which."""
    journal, output = journal_with(tmp_path, [(V1, None, b"a\n")])
    journal.write_bytes(header + b"\n" + journal.read_bytes().partition(b"\n")[2])
    with pytest.raises(CheckpointError) as refused:
        recover(journal, output, PARAMS, kinds=KINDS)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"aiopersonalize-checkpoint":3,"par', DAMAGED_1.format("the header is torn")),
        (b"hello", "not an aiopersonalize checkpoint"),
        (b"", "not an aiopersonalize checkpoint"),
    ],
)
def test_a_journal_without_a_whole_line_is_refused_saying_why(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """A journal without a single whole line is a torn header when it starts like one,
    and otherwise not a checkpoint at all, in those words."""
    (tmp_path / "o").write_bytes(b"")
    (tmp_path / "j").write_bytes(content)
    with pytest.raises(CheckpointError) as refused:
        recover(tmp_path / "j", tmp_path / "o", PARAMS, kinds=KINDS)
    assert str(refused.value) == message


def test_header_is_written_whole_without_leftovers(tmp_path: Path) -> None:
    """Creating a journal leaves just the journal (the header goes through a renamed
    temporary file), holding the format and the parameters."""
    journal, _ = journal_with(tmp_path, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j", "o"]
    header = json.loads(journal.read_bytes())
    assert header == {"aiopersonalize-checkpoint": 4, "params": PARAMS, "crc": header["crc"]}


# -- every damage: refused clearly, or a correct prefix ----------------------------------


def put(path: Path, data: bytes) -> None:
    """Write a new file (not one truncated and rewritten: ext4 then forces it to disk)."""
    path.unlink(missing_ok=True)
    path.write_bytes(data)


@dataclass(repr=False)
class Pair:
    """The real journal and output, and the files a case damages and recovers."""

    journal: bytes
    output: bytes
    other_journal: bytes  # the same crawl run another time
    other_output: bytes
    foreign_params: bytes  # a journal of another crawl's parameters
    journal_path: Path
    output_path: Path
    resumed: set[tuple[bytes, int, int, int]] = field(default_factory=set)

    def __repr__(self) -> str:
        return "Pair()"

    def check(self, journal: bytes, output: bytes) -> Recovered | None:
        """Recover from these bytes: a clear refusal, or the state after a prefix of the
        real entries with the real output's bytes up to it (the real pair being the
        other run's once both files were swapped for its); resuming from that state then
        finishes that real output and a journal that recovers to its end."""
        put(self.journal_path, journal)
        put(self.output_path, output)
        try:
            found = recover(self.journal_path, self.output_path, PARAMS, kinds=KINDS)
        except CheckpointError as refused:
            message = str(refused)
            assert re.search(CLEAR_REFUSAL, message), message
            assert "s3cret" not in message
            assert self.journal_path.read_bytes() == journal
            assert self.output_path.read_bytes() == output
            return None
        assert found is not None
        state = (dict(found.positions), found.offset)
        assert state in STATES, state
        runs = [(PAGES, self.output), (OTHER_PAGES, self.other_output)]
        pages, real = next(
            (pages, real) for pages, real in runs if output[: found.offset] == real[: found.offset]
        )
        # Resuming depends on nothing else: each distinct start is resumed once.
        start = (journal[: found.journal_length], found.offset, found.output_crc, found.journal_crc)
        if start not in self.resumed:
            self._resume(found, pages[STATES.index(state) :], real)
            self.resumed.add(start)
        return found

    def _resume(self, found: Recovered, rest: Pages, real: bytes) -> None:
        os.truncate(self.output_path, found.offset)
        with self.output_path.open("ab") as sink:
            log = Journal.reopen(self.journal_path, found, sink)
            for key, token, data in rest:
                sink.write(data)
                sink.flush()
                log.record(key, token, data)
            log.close()
        assert self.output_path.read_bytes() == real
        final = recovered(self.journal_path, self.output_path)
        assert (dict(final.positions), final.offset) == STATES[-1]
        assert final.journal_length == self.journal_path.stat().st_size


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    made = tmp_path_factory.mktemp("pair")
    write_journal(made / "j", made / "o", PAGES, PARAMS)
    write_journal(made / "j2", made / "o2", OTHER_PAGES, PARAMS)
    write_journal(made / "j3", made / "o3", PAGES, {**PARAMS, "page_size": 9})
    return Pair(
        journal=(made / "j").read_bytes(),
        output=(made / "o").read_bytes(),
        other_journal=(made / "j2").read_bytes(),
        other_output=(made / "o2").read_bytes(),
        foreign_params=(made / "j3").read_bytes(),
        journal_path=made / "case.checkpoint",
        output_path=made / "case.jsonl",
    )


def test_every_cut_of_either_file_is_refused_or_a_prefix(pair: Pair) -> None:
    """The journal cut at every byte (a crash while appending, or worse), and the output
    cut at every byte (a power cut): refused clearly, or resumed from a correct prefix."""
    outcomes = [pair.check(pair.journal[:cut], pair.output) for cut in range(len(pair.journal) + 1)]
    header_length = pair.journal.index(b"\n") + 1
    assert all(found is None for found in outcomes[:header_length])
    assert all(found is not None for found in outcomes[header_length:])
    first_page = min(offset for _, offset in STATES if offset)
    for cut in range(len(pair.output) + 1):
        found = pair.check(pair.journal, pair.output[:cut])
        if 0 < cut < first_page:  # not one page's bytes to tell it from another file
            assert found is None
        else:
            assert found is not None
            assert found.offset == max(offset for _, offset in STATES if offset <= cut)


@pytest.mark.parametrize("mask", [0x01, 0x20, 0x80])
def test_every_flipped_byte_of_the_journal_is_refused_or_a_prefix(pair: Pair, mask: int) -> None:
    """Each byte of the journal changed in turn: refused clearly, or (the last line's
    newline lost) resumed from a correct prefix."""
    for position in range(len(pair.journal)):
        damaged = bytearray(pair.journal)
        damaged[position] ^= mask
        found = pair.check(bytes(damaged), pair.output)
        assert found is None or position == len(pair.journal) - 1


@st.composite
def damage(draw: st.DrawFn) -> tuple[Any, ...]:
    """One change to the pair: its name and where (positions are taken modulo length)."""
    name = draw(
        st.sampled_from(
            [
                "flip", "cut", "duplicate", "move", "drop", "insert", "garbage",
                "other output", "other journal", "other params", "format 1", "empty output",
                "zeros",
            ]
        )
    )  # fmt: skip
    target = draw(st.sampled_from(["journal", "output"]))
    return (
        name,
        target,
        draw(st.integers(0, 10**6)),
        draw(st.integers(0, 10**6)),
        draw(st.integers(1, 255)),
    )


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def apply(
    pair: Pair, journal: bytes, output: bytes, change: tuple[Any, ...]
) -> tuple[bytes, bytes]:
    """The pair after one change."""
    name, target, a, b, mask = change
    data = journal if target == "journal" else output
    if name in ("flip", "cut", "zeros") and data:
        at = a % len(data)
        if name == "flip":
            data = data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]
        elif name == "cut":
            data = data[:at]
        else:
            data = data[:at] + bytes(len(data) - at)
        return (data, output) if target == "journal" else (journal, data)
    lines = lines_of(journal)
    if not lines:
        return journal, output
    i, j = a % len(lines), b % (len(lines) + 1)
    if name == "duplicate":
        lines.insert(j, lines[i])
    elif name == "move":
        lines.insert(j, lines.pop(i))
    elif name == "drop":
        del lines[i]
    elif name == "insert":
        borrowed = lines_of(pair.other_journal)
        lines.insert(j, borrowed[i % len(borrowed)])
    elif name == "garbage":
        lines.insert(j, bytes([mask]) * (a % 50) + b"\n")
    elif name == "other output":
        output = pair.other_output
    elif name == "other journal":
        lines = lines_of(pair.other_journal)
    elif name == "other params":
        lines = lines_of(pair.foreign_params)
    elif name == "format 1":
        lines = lines_of(format_1(PAGES))
    elif name == "empty output":
        output = b""
    return b"".join(lines), output


@settings(max_examples=60, deadline=None)
@given(changes=st.lists(damage(), min_size=1, max_size=3))
def test_any_damage_is_refused_or_a_correct_prefix(pair: Pair, changes: list[Any]) -> None:
    """Up to three changes at random (bytes flipped, files cut or zeroed, journal lines
    repeated, moved, dropped, borrowed from another run or made up, the output or the
    journal swapped for another run's, another crawl's or a format-1 journal): refused
    clearly, or resumed from a correct prefix to the real output."""
    journal, output = pair.journal, pair.output
    for change in changes:
        journal, output = apply(pair, journal, output, change)
    pair.check(journal, output)


@settings(max_examples=40, deadline=None)
@given(
    cut=st.integers(0, 10**6),
    how=st.sampled_from(["cut", "zeros", "flip"]),
    at=st.integers(0, 10**6),
    mask=st.integers(1, 255),
)
def test_power_cut_resumes_from_the_last_page_both_files_hold(
    pair: Pair, cut: int, how: str, at: int, mask: int
) -> None:
    """The journal cut after its header and the output cut, zeroed or changed from some
    byte on (what a power cut leaves): resumed from the last entry whole in the journal
    whose page bytes the output holds unchanged, refused only when the damage is inside
    the first page (nothing tells that output from another file)."""
    lines = lines_of(pair.journal)
    cut = len(lines[0]) + cut % (len(pair.journal) - len(lines[0]) + 1)
    ends = [sum(map(len, lines[: n + 1])) for n in range(len(lines))]
    whole = sum(end <= cut for end in ends[1:])  # entries the cut journal still holds
    if how == "cut":
        at %= len(pair.output) + 1
        output = pair.output[:at]
    else:  # from byte ``at`` on, the output is not what was written
        at %= len(pair.output)
        changed = bytes(len(pair.output) - at) if how == "zeros" else [pair.output[at] ^ mask]
        output = pair.output[:at] + bytes(changed) + pair.output[at + len(changed) :]
    offsets = [offset for _, offset in STATES[: whole + 1]]
    expected = max(offset for offset in offsets if offset <= at)
    found = pair.check(pair.journal[:cut], output)
    if expected == 0 and any(offsets) and output:
        assert found is None
    else:
        assert found is not None
        assert found.offset == expected


def test_chains_listed_again_from_the_start_are_recovered_as_such(tmp_path: Path) -> None:
    """Entries recorded as of a restarted chain (its resume token expired) carry
    ``"restarted": true`` under the line checksum, and a recovery names those chains,
    so that a later resume still skips the jobs the output holds from before."""
    journal, output = tmp_path / "j", tmp_path / "o"
    with output.open("wb") as sink:
        log = Journal.create(journal, PARAMS, sink)
        for (key, token, data), restarted in zip(
            PAGES[:4], (False, False, True, False), strict=True
        ):
            sink.write(data)
            sink.flush()
            log.record(key, token, data, restarted=restarted)
        log.close()
    lines = [json.loads(line) for line in journal.read_bytes().splitlines()]
    assert [line.get("restarted") for line in lines[1:]] == [None, None, True, None]
    assert resealed(lines) == journal.read_bytes()
    assert recovered(journal, output).restarted == {PAGES[2][0]}


@pytest.mark.parametrize("value", [False, 1, "true", None])
def test_a_restarted_member_other_than_true_is_damage(tmp_path: Path, value: Any) -> None:
    """``restarted`` is written only as ``true``: any other value, resealed, is refused
    as damage naming the line."""
    journal, output = journal_with(tmp_path, PAGES)
    rewrite(journal, 3, restarted=value)
    with pytest.raises(CheckpointError, match="damaged at line 3"):
        recover(journal, output, PARAMS, kinds=KINDS)
