# The Python reader's tests (tier: suite), run by ctest (tests/python/CMakeLists.txt) with the
# build's package on PYTHONPATH and its programs in the environment.
import os
import subprocess

import pytest


def program(name):
    path = os.environ.get(name)
    if not path:
        pytest.skip(f"{name} is not set: run these tests through ctest")
    return path


@pytest.fixture
def ringlog_program():
    """The ringlog program: its demo writes market-data journals with their schema."""
    return program("RINGLOG_PROGRAM")


@pytest.fixture
def append_events():
    """Appends events of the test's own making to a journal: [(type, timestamp, bytes)]."""
    path = program("RINGLOG_APPEND_EVENTS")

    def append(directory, events):
        lines = "".join(f"{t} {ts} {payload.hex()}\n" for t, ts, payload in events)
        subprocess.run([path, str(directory)], input=lines, text=True, check=True,
                       capture_output=True)
    return append


@pytest.fixture
def demo_journal(ringlog_program, tmp_path):
    """A demo journal of `count` events in 1 MiB segments (sized by count, never by time)."""
    def make(count, directory=None):
        directory = directory or tmp_path / "journal"
        subprocess.run([ringlog_program, "--count", str(count), "--rate", "0",
                        "--segment-bytes", "1048576", "--dir", str(directory)],
                       check=True, capture_output=True)
        return directory
    return make
