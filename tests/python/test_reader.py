# ringlog's Python reader against the tools: counts, time windows, decoded values, named
# readers across a restart of the writer, damage (tier: suite).
import json
import pathlib
import shutil
import struct
import subprocess
import sys

import numpy
import pytest

import ringlog


def run(*args):
    return subprocess.run(list(map(str, args)), capture_output=True, text=True)


def dumped(ringlog_program, *args):
    out = run(ringlog_program, "dump", "--json", *args)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def sequences(arrays):
    return numpy.sort(numpy.concatenate([a["sequence"] for a in arrays.values()]))


def test_counts_equal_verify_and_fields_equal_dump(ringlog_program, demo_journal):
    directory = demo_journal(30000)
    verify = run(ringlog_program, "verify", directory)
    assert verify.returncode == 0, verify.stdout
    intact = int(verify.stdout.split(" intact events")[0].rsplit(" ", 1)[1])
    journal = ringlog.Journal(directory)
    arrays = journal.read()
    assert set(arrays) == {"quote", "trade"}
    assert sum(len(a) for a in arrays.values()) == intact == 30000
    assert (journal.first_sequence, journal.next_sequence, journal.durable_sequence) == (0, 30000, 30000)
    assert list(sequences(arrays)) == list(range(30000))
    quotes = arrays["quote"]
    assert quotes.dtype.names == ("sequence", "timestamp", "publisher_sequence", "instrument",
                                  "quantity", "price_ticks", "side")
    assert quotes.dtype["timestamp"] == numpy.dtype("datetime64[ns]")
    by_sequence = {event["sequence"]: event for event in dumped(ringlog_program, directory)}
    for row in quotes[::997]:
        event = by_sequence[int(row["sequence"])]
        assert event["type"] == "quote"
        assert int(row["timestamp"].astype(numpy.int64)) == event["timestamp"]
        for field in ("publisher_sequence", "instrument", "quantity", "price_ticks", "side"):
            assert int(row[field]) == event[field], field


def test_time_windows_equal_dump_since_until(ringlog_program, demo_journal):
    directory = demo_journal(30000)
    events = dumped(ringlog_program, directory)
    since, until = events[10000]["timestamp"], events[20000]["timestamp"]
    window = dumped(ringlog_program, "--since", since, "--until", until, directory)
    journal = ringlog.Journal(directory)
    read = sequences(journal.read(since=since, until=until))
    assert list(read) == [event["sequence"] for event in window]
    assert read[0] == 10000
    # As UTC text and as numpy's datetime64, the same window.
    utc = run(ringlog_program, "dump", "--utc", "--since", since, directory).stdout.split()[2]
    assert list(sequences(journal.read(since=utc, until=until))) == list(read)
    stamp = numpy.datetime64(since, "ns")
    assert list(sequences(journal.read(since=stamp, until=until))) == list(read)
    with pytest.raises(ValueError, match="is no time"):
        journal.read(since="yesterday")


def test_follow_with_a_named_reader_across_a_restart_of_the_writer(demo_journal):
    directory = demo_journal(5000)
    journal = ringlog.Journal(directory)
    seen = []
    restarted = False
    for batch in journal.follow(reader="research", timeout=2.0, batch=1000):
        assert len(batch["quote"]) + len(batch["trade"]) <= 1000
        seen.extend(sequences(batch))
        if len(seen) == 5000 and not restarted:
            demo_journal(3000, directory)  # the writer again: it continues the journal
            restarted = True
    assert restarted and seen == list(range(8000))
    # Each batch was committed once the loop went on: a new follower goes on after them.
    again = ringlog.Journal(directory)
    assert [b for b in again.follow(reader="research", timeout=0.2)] == []
    demo_journal(10, directory)
    resumed = next(again.follow(reader="research", timeout=2.0))
    assert list(sequences(resumed)) == list(range(8000, 8010))
    # A batch the loop did not finish is not committed: it comes again.
    assert list(sequences(next(again.follow(reader="research", timeout=2.0)))) == list(range(8000, 8010))


def test_a_damaged_journal_raises_what_verify_says(ringlog_program, demo_journal):
    directory = demo_journal(60000)
    first = directory / "00000000000000000000.evtl"
    with open(first, "r+b") as segment:  # every bit of one byte flipped, whatever it held
        segment.seek(5000)
        flipped = segment.read(1)[0] ^ 0xFF
        segment.seek(5000)
        segment.write(bytes([flipped]))
    verify = run(ringlog_program, "verify", directory)
    assert verify.returncode == 1
    said = [line for line in verify.stdout.splitlines() if line.startswith("DAMAGED: ")]
    with pytest.raises(ringlog.JournalError) as raised:
        ringlog.Journal(directory).read()
    assert [str(raised.value)] == said


def test_a_foreign_segment_raises_what_verify_says(ringlog_program, demo_journal, tmp_path):
    mixed = demo_journal(100000, tmp_path / "mixed")
    other = demo_journal(100000, tmp_path / "other")
    shutil.copy(other / "00000000000000000000.evtl", mixed)
    verify = run(ringlog_program, "verify", mixed)
    said = [line for line in verify.stdout.splitlines() if line.startswith("FOREIGN: ")]
    assert said, verify.stdout
    with pytest.raises(ringlog.JournalError) as raised:
        ringlog.Journal(mixed).read()
    assert [str(raised.value)] == said


def test_what_is_no_journal_raises(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ringlog.JournalError, match="NOT A READABLE JOURNAL"):
        ringlog.Journal(tmp_path)


# Every field type, at odd offsets, in one payload; then one too short for its schema.
# Every field type at odd offsets, shared with tests/schema_test.cpp.
SCHEMA = pathlib.Path(__file__).parents[1] / "every_type.schema.toml"


def sample_payload(n):
    payload = bytearray(b"\xee" * 64)
    struct.pack_into("<B", payload, 1, 200)
    struct.pack_into("<H", payload, 3, 60000)
    struct.pack_into("<I", payload, 5, 4000000000 + n)
    struct.pack_into("<Q", payload, 9, 18000000000000000000)
    struct.pack_into("<b", payload, 17, -100)
    struct.pack_into("<h", payload, 19, -30000)
    struct.pack_into("<i", payload, 21, -2000000000)
    struct.pack_into("<q", payload, 25, -9000000000000000000 - n)
    struct.pack_into("<f", payload, 33, 1.5)
    struct.pack_into("<d", payload, 37, -0.1 * n)
    payload[45:53] = b"ab\0zzzzz"  # as ringlog dump shows it: the text before the zero
    payload[53:56] = bytes([1, 0xab, 0xff])
    struct.pack_into("<Q", payload, 56, 1796601600000000001 + n)
    return bytes(payload)


def test_every_field_type_arrives_in_numpy(append_events, tmp_path):
    directory = tmp_path / "journal"
    append_events(directory, [(7, 1000 + n, sample_payload(n)) for n in range(3)] +
                  [(7, 2000, sample_payload(9)[:40]), (9, 3000, b"\x01\x02")])
    journal = ringlog.Journal(directory, schema=SCHEMA)
    arrays = journal.read()
    sample = arrays["sample"]
    assert len(sample) == 3
    assert list(sample["u8v"]) == [200] * 3 and sample["u16v"][0] == 60000
    assert list(sample["u32v"]) == [4000000000, 4000000001, 4000000002]
    assert sample["u64v"][2] == 18000000000000000000
    assert (sample["i8v"][0], sample["i16v"][0], sample["i32v"][0]) == (-100, -30000, -2000000000)
    assert sample["i64v"][2] == -9000000000000000002
    assert sample["f32v"][1] == 1.5 and sample["f64v"][2] == -0.2
    assert sample["text"][0] == b"ab" and bytes(sample["raw"][0]) == bytes([1, 0xab, 0xff])
    assert sample["at"][1] == numpy.datetime64(1796601600000000002, "ns")
    assert sample["timestamp"][2] == numpy.datetime64(1002, "ns")
    # The short payload and the type the schema does not name: undecoded, never read past.
    undecoded = arrays["_undecoded"]
    assert list(undecoded["event_type"]) == [7, 9] and list(undecoded["payload_len"]) == [40, 2]
    assert list(undecoded["sequence"]) == [3, 4]
    assert journal.fields["sample"][12] == ("at", "timestamp_ns", 56, "ns")


def test_to_pandas_or_an_error_saying_pandas_is_missing(demo_journal, monkeypatch):
    journal = ringlog.Journal(demo_journal(2000))
    pandas = pytest.importorskip("pandas")
    frame = journal.to_pandas("trade")
    assert len(frame) == len(journal.read()["trade"]) and "price_ticks" in frame.columns
    assert frame["timestamp"].dtype == numpy.dtype("datetime64[ns]")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="python3-pandas"):
        journal.to_pandas("trade")
    assert pandas is not None


def test_plot_journal_draws_rate_and_gaps_into_a_png(ringlog_program, demo_journal, tmp_path):
    pytest.importorskip("matplotlib")
    directory = demo_journal(20000)
    events = dumped(ringlog_program, directory)
    out = tmp_path / "journal.png"
    script = pathlib.Path(__file__).parents[2] / "scripts" / "plot-journal"
    drawn = run(script, directory, "--since", events[5000]["timestamp"], "--until",
                events[15000]["timestamp"], "--bins", 50, "--out", out)
    assert drawn.returncode == 0, drawn.stderr
    assert "10000 events" in drawn.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10000
    refused = run(script, tmp_path, "--out", tmp_path / "none.png")
    assert refused.returncode != 0 and "NOT A READABLE JOURNAL" in refused.stderr


def test_the_documented_example_runs(demo_journal, capsys):
    """src/README.md's Python example, as it stands, against a demo journal."""
    readme = (pathlib.Path(__file__).parents[2] / "src" / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    directory = demo_journal(20000)
    exec(example.replace('"build/ringlog-journal"', repr(str(directory))), {})
    printed = capsys.readouterr().out.splitlines()
    assert float(printed[0]) > 0  # the mean price of instrument 42's quotes
    assert printed[1] == str({"quote": len(ringlog.Journal(directory).read()["quote"]),
                              "trade": len(ringlog.Journal(directory).read()["trade"])})


def test_arrays_stay_whole_when_their_memory_is_used_again(demo_journal):
    """Memory numpy gives back is kept for the next read: never while an array still holds it."""
    journal = ringlog.Journal(demo_journal(50000))
    first = journal.read()
    expected = {name: array.copy() for name, array in first.items()}
    held = journal.read()  # while `first` is alive: other memory
    for name in first:
        assert not numpy.shares_memory(first[name], held[name])
    del first
    again = journal.read()  # into what `first` gave back
    for name, array in expected.items():
        assert numpy.array_equal(again[name], array) and numpy.array_equal(held[name], array)
