#!/usr/bin/env python3
"""ringlog serve speaks systemd's notify protocol (Type=notify) to a real NOTIFY_SOCKET that this
test listens on, as systemd would: READY=1 comes once the control socket accepts (`ringlog
status` answers at that moment), STATUS= carries the status line, WATCHDOG=1 keeps coming at
half WATCHDOG_USEC, STOPPING=1 comes on SIGTERM, then a clean exit. With --log-format json,
every log line is a JSON object with time, level, event and message.

usage: systemd_notify.py <ringlog binary>"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

DEADLINE_S = 60  # for any one datagram: generous, as every wait in the suite


def fail(why, log=None):
    print("FAIL:", why)
    if log and os.path.exists(log):
        print(open(log).read())
    sys.exit(1)


def main():
    ringlog = sys.argv[1]
    scratch = tempfile.mkdtemp()
    config = os.path.join(scratch, "ringlog.toml")
    with open(config, "w") as f:
        f.write(f'[service]\nname = "notify-test"\nruntime_dir = "{scratch}/run"\n'
                f'[journal]\ndirectory = "{scratch}/journal"\n')
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_path = os.path.join(scratch, "notify.sock")
    listener.bind(notify_path)
    listener.settimeout(DEADLINE_S)
    log = os.path.join(scratch, "serve.log")
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="400000")
    service = subprocess.Popen([ringlog, "serve", "--config", config, "--log", log,
                                "--log-format", "json"], env=env)
    try:
        check(ringlog, scratch, listener, service, log)
    finally:
        if service.poll() is None:
            service.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def receive(listener, log):
    try:
        return listener.recv(4096).decode().splitlines()
    except socket.timeout:
        fail(f"nothing on NOTIFY_SOCKET for {DEADLINE_S} s", log)


def check(ringlog, scratch, listener, service, log):
    first = receive(listener, log)
    if "READY=1" not in first:
        fail(f"the first notification is not READY=1: {first}", log)
    # READY means publishers can attach: the control socket answers now, not eventually.
    status = subprocess.run([ringlog, "status", "--service", "notify-test", "--runtime-dir",
                             f"{scratch}/run"], capture_output=True, text=True)
    if status.returncode != 0:
        fail(f"READY=1 came before the socket accepted: {status.stderr}", log)
    if not any(line.startswith("STATUS=[status]") for line in first):
        fail(f"READY=1 without the status line: {first}", log)
    watchdogs, statuses = 0, 0
    while watchdogs < 5 or statuses < 1:
        for line in receive(listener, log):
            watchdogs += line == "WATCHDOG=1"
            statuses += line.startswith("STATUS=[status] 0 publisher(s)")
    service.send_signal(signal.SIGTERM)
    while True:
        lines = receive(listener, log)
        if "STOPPING=1" in lines:
            break
    if service.wait(timeout=DEADLINE_S) != 0:
        fail(f"exit status {service.returncode} after SIGTERM", log)
    events = []
    for number, line in enumerate(open(log), 1):
        entry = json.loads(line)  # raises, failing the test, on a line that is not JSON
        missing = {"time", "level", "event", "message"} - entry.keys()
        if missing:
            fail(f"log line {number} lacks {missing}: {line}", log)
        events.append(entry["event"])
    if events[0] != "started" or "status" not in events or events[-1] != "stopped":
        fail(f"the JSON log's events: {events}", log)
    print(f"OK: READY, {watchdogs} WATCHDOG, STATUS, STOPPING; {len(events)} JSON log lines")


main()
