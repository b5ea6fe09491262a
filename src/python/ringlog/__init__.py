"""Read a ringlog journal into numpy: one structured array per event type.

    import ringlog
    j = ringlog.Journal("build/ringlog-journal")   # its schema.toml, or schema="file.toml"
    j.first_sequence, j.next_sequence, j.durable_sequence
    arrays = j.read(since="2026-12-07T13:00:00Z")  # {type name: numpy structured array}
    quotes = arrays["quote"]                      # sequence, timestamp, then the schema's fields
    df = j.to_pandas("quote", since=..., until=...)
    for batch in j.follow(reader="research", timeout=1.0):
        ...                                       # each batch is such a dict

The C++ JournalReader reads the journal (the same code as `ringlog dump`), and C++ builds the
arrays, one pass and no Python code per event. Only intact events are handed out; a journal
that is damaged or holds a segment of another journal raises JournalError with the words of
`ringlog verify`. Besides the schema's types, a read may hold "_undecoded" (events of a type
the schema does not name, or shorter than it says) and "_dropped" (the drop markers of
publishers that dropped events on a full ring).
"""

import datetime
import os

import numpy

from ._ringlog import JournalError
from . import _ringlog

__all__ = ["Journal", "JournalError"]


def _nanoseconds(time):
    """A time as nanoseconds since the epoch: an int as it is, a str as `ringlog dump --since`
    reads it ("2026-12-07T13:00:00Z"), a numpy.datetime64, a datetime (naive ones as UTC), or
    a pandas.Timestamp."""
    if time is None:
        return None
    if isinstance(time, (int, numpy.integer)):
        return int(time)
    if isinstance(time, str):
        return _ringlog.parse_time(time)
    if isinstance(time, numpy.datetime64):
        return int(time.astype("datetime64[ns]").astype(numpy.int64))
    if hasattr(time, "value") and hasattr(time, "tz_localize"):  # pandas.Timestamp
        return int(time.value)
    if isinstance(time, datetime.datetime):
        if time.tzinfo is None:
            time = time.replace(tzinfo=datetime.timezone.utc)
        delta = time - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    raise TypeError(f"{time!r} is no time: give nanoseconds, a UTC string, a datetime64 or a datetime")


class Journal:
    """A journal directory, read with its schema: `schema` (a TOML file) or its schema.toml."""

    def __init__(self, path, schema=None):
        self._journal = _ringlog.Journal(os.fspath(path), os.fspath(schema) if schema else "")

    @property
    def path(self):
        return self._journal.path

    @property
    def first_sequence(self):
        """The oldest event kept (retention removes older segments)."""
        return self._journal.first_sequence

    @property
    def next_sequence(self):
        """After the newest intact event: what a writer appends next."""
        return self._journal.next_sequence

    @property
    def durable_sequence(self):
        """After the newest durable event: everything below survives a crash."""
        return self._journal.durable_sequence

    @property
    def fields(self):
        """The schema: {type name: [(field, type, offset, unit), ...]}."""
        return self._journal.fields

    def read(self, since=None, until=None, *, durable=False):
        """Every intact event from the first at or after `since` up to the first at or after
        `until` (not included), as `ringlog dump --since/--until` selects them, as
        {type name: numpy structured array}. `durable`: only events already durable."""
        return self._journal.read(_nanoseconds(since), _nanoseconds(until), durable)

    def to_pandas(self, type, since=None, until=None, *, durable=False):
        """One type's events as a pandas DataFrame (pandas must be installed)."""
        try:
            import pandas
        except ImportError as missing:
            raise ImportError("Journal.to_pandas needs pandas, which is not installed "
                              "(Debian: apt install python3-pandas)") from missing
        arrays = self.read(since, until, durable=durable)
        if type not in arrays:
            raise KeyError(f"{type!r}: this read holds {sorted(arrays)}")
        return pandas.DataFrame.from_records(arrays[type])

    def follow(self, reader=None, timeout=None, *, batch=65536, durable=False):
        """Batches of new events as they are appended, each a dict as read() returns, of at most
        `batch` events. A named `reader` starts where it last committed, and commits each batch
        once the loop asks for the next: after a restart, of this program or of the writer, it
        goes on with the first batch it had not finished. Unnamed, it starts at the oldest event
        and keeps no place. Ends once no event came for `timeout` seconds (None: never).
        `durable`: only events a flush made durable. Without it, a reader can hand out events
        that a crash of the writer's machine then takes back; its next start raises
        JournalError saying which (its position lies past the journal's end)."""
        follower = _ringlog.Follower(self._journal, reader or "", durable)
        while True:
            arrays = follower.poll(batch, timeout)
            if arrays is None:
                return
            yield arrays
            if reader:
                follower.commit()
