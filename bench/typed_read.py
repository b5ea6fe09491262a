#!/usr/bin/python3
"""Typed reading, measured side by side in one run, round after round (medians of --rounds):

  plain read   the segment files' bytes (read(), page cache): the hardware's limit here
  C++ replay   JournalReader::replay over the journal (bench/replay_bench.cpp)
  fresh memory as many bytes of new memory as the arrays take, written once: their floor
  numpy read   ringlog.Journal(dir).read(): every event into numpy arrays, decoded, in a
               process that has read before (the reader keeps what numpy frees for the next
               read, its pages still backed); twice; and once in a process of its own, whose
               arrays all go into new memory
  dump hex     ringlog dump --json --raw (payloads as hex), into /dev/null
  dump decoded ringlog dump --json (fields by name, by the journal's schema), into /dev/null

Targets (issue 34): numpy read <= 2x C++ replay; dump decoded <= 1.5x dump hex. Journals are the
demo's market data, written first (--events for the reads, --dump-events for the dumps).
usage: PYTHONPATH=build/python bench/typed_read.py [--events N] [--dump-events N] [--rounds N]
       [--bin build] [--work DIR] [--out FILE.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import ringlog


def demo_journal(ringlog_program, directory, events):
    subprocess.run([ringlog_program, "--count", str(events), "--rate", "0", "--dir", directory],
                   check=True, stdout=subprocess.DEVNULL)


def timed_dump(ringlog_program, directory, *flags):
    start = time.perf_counter()
    subprocess.run([ringlog_program, "dump", "--json", *flags, directory], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def array_bytes(reads):
    """What the arrays of a read take: the fresh memory a read needs."""
    return sum(a.nbytes for a in ringlog.Journal(reads).read().values())


def one_round(args, reads, dumps, fresh_bytes):
    cxx = json.loads(subprocess.run([f"{args.bin}/bench/replay_bench", reads, str(fresh_bytes)],
                                    check=True, capture_output=True, text=True).stdout)
    # Twice, in this process, which has read before (the warm-up, earlier rounds): each read's
    # arrays land in memory an earlier one gave back. A new process's first read, below, has
    # none to take: its arrays are all new memory (the fresh memory above).
    numpy_s = []
    for _ in range(2):
        start = time.perf_counter()
        arrays = ringlog.Journal(reads).read()
        numpy_s.append(time.perf_counter() - start)
        read_events = sum(len(a) for a in arrays.values())
        if read_events != cxx["events"]:
            sys.exit(f"typed_read: numpy read {read_events} events, replay {cxx['events']}")
        del arrays
    # In a process of its own: the one read it makes has no memory given back to take.
    first_in_process = float(subprocess.run(
        [sys.executable, "-c", "import ringlog, sys, time; start = time.perf_counter(); "
         "ringlog.Journal(sys.argv[1]).read(); print(time.perf_counter() - start)", reads],
        check=True, capture_output=True, text=True).stdout)
    return {"plain_read_s": cxx["plain_read_s"], "replay_s": cxx["replay_s"],
            "numpy_read_new_process_s": first_in_process,
            "fresh_memory_s": cxx["fresh_memory_s"], "array_bytes": fresh_bytes,
            "numpy_read_s": numpy_s[0], "numpy_read_again_s": numpy_s[1], "bytes": cxx["bytes"], "events": cxx["events"],
            "dump_hex_s": timed_dump(f"{args.bin}/bin/ringlog", dumps, "--raw"),
            "dump_decoded_s": timed_dump(f"{args.bin}/bin/ringlog", dumps)}


def report(rounds, args):
    median = {key: statistics.median(r[key] for r in rounds)
              for key in ("plain_read_s", "replay_s", "fresh_memory_s", "numpy_read_s",
                          "numpy_read_again_s", "numpy_read_new_process_s", "dump_hex_s",
                          "dump_decoded_s")}
    size = rounds[0]["bytes"]
    numpy_ratio = median["numpy_read_s"] / median["replay_s"]
    again_ratio = median["numpy_read_again_s"] / median["replay_s"]
    floor = median["replay_s"] + median["fresh_memory_s"]
    dump_ratio = median["dump_decoded_s"] / median["dump_hex_s"]
    summary = {
        "events": rounds[0]["events"], "bytes": size, "dump_events": args.dump_events,
        "rounds": len(rounds), "median": median,
        "gb_per_s": {"plain_read": size / median["plain_read_s"] / 1e9,
                     "replay": size / median["replay_s"] / 1e9,
                     "numpy_read": size / median["numpy_read_s"] / 1e9,
                     "numpy_read_again": size / median["numpy_read_again_s"] / 1e9},
        "numpy_read_over_replay": numpy_ratio, "numpy_read_target_met": numpy_ratio <= 2.0,
        "numpy_read_again_over_replay": again_ratio,
        "numpy_read_new_process_over_replay": median["numpy_read_new_process_s"] / median["replay_s"],
        "numpy_read_over_replay_and_fresh_memory": median["numpy_read_s"] / floor,
        "dump_decoded_over_hex": dump_ratio, "dump_target_met": dump_ratio <= 1.5,
        "each_round": rounds,
    }
    g = summary["gb_per_s"]
    print(f"{summary['events']} events, {size / 1e9:.2f} GB of records; medians of {len(rounds)} rounds")
    print(f"  plain read   {median['plain_read_s']:8.3f} s  {g['plain_read']:6.2f} GB/s")
    print(f"  C++ replay   {median['replay_s']:8.3f} s  {g['replay']:6.2f} GB/s")
    print(f"  fresh memory {median['fresh_memory_s']:8.3f} s  for the arrays' "
          f"{rounds[0]['array_bytes'] / 1e9:.2f} GB")
    print(f"  numpy read   {median['numpy_read_s']:8.3f} s  {g['numpy_read']:6.2f} GB/s  "
          f"{numpy_ratio:.2f}x replay (target <= 2x: {'met' if numpy_ratio <= 2 else 'MISSED'}), "
          f"{median['numpy_read_s'] / floor:.2f}x replay + fresh memory")
    print(f"  numpy again  {median['numpy_read_again_s']:8.3f} s  {g['numpy_read_again']:6.2f} GB/s  "
          f"{again_ratio:.2f}x replay (into the memory the first read gave back)")
    new_process = median["numpy_read_new_process_s"]
    print(f"  numpy, a new process's first read {new_process:.3f} s: "
          f"{new_process / median['replay_s']:.2f}x replay, "
          f"{new_process / floor:.2f}x replay + fresh memory")
    print(f"  dump --json of {args.dump_events} events: hex {median['dump_hex_s']:.3f} s, decoded "
          f"{median['dump_decoded_s']:.3f} s: {dump_ratio:.2f}x (target <= 1.5x: "
          f"{'met' if dump_ratio <= 1.5 else 'MISSED'})")
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--dump-events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bin", default="build", help="the build directory")
    parser.add_argument("--work", help="where the journals go (default: a scratch directory)")
    parser.add_argument("--out", help="write the results here as JSON")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="typed-read-")
    reads, dumps = os.path.join(work, "reads"), os.path.join(work, "dumps")
    try:
        for directory in (reads, dumps):
            shutil.rmtree(directory, ignore_errors=True)
        demo_journal(f"{args.bin}/bin/ringlog", reads, args.events)
        demo_journal(f"{args.bin}/bin/ringlog", dumps, args.dump_events)
        fresh_bytes = array_bytes(reads)  # and the journal's pages are in the page cache
        summary = report([one_round(args, reads, dumps, fresh_bytes)
                          for _ in range(args.rounds)], args)
        if args.out:
            with open(args.out, "w") as out:
                json.dump(summary, out, indent=1)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
