"""Drives a clamd-protocol daemon with the Python `clamd` package (PyPI clamd 1.0.2), as Python integrations
do, and prints what each call returned as one JSON object. Used by scanner/tests/daemon_clients.rs.

Usage: python3 python_clamd.py SOCKET FILES_DIR BIG_FILE
FILES_DIR holds clean.txt, eicar.com and mail.eml (EICAR in a zip attached to a mail); BIG_FILE is over the
daemon's stream_max_length.
"""

import io
import json
import os
import sys

import clamd

socket_path, files, big = sys.argv[1], sys.argv[2], sys.argv[3]
daemon = clamd.ClamdUnixSocket(path=socket_path)


def content(name):
    with open(os.path.join(files, name) if name != "big.bin" else big, "rb") as handle:
        return handle.read()


def outcome(call):
    try:
        return call()
    except Exception as error:  # the exception's class is the result
        return "raised " + type(error).__name__


results = {
    "ping": outcome(daemon.ping),
    "version": outcome(daemon.version),
    "instream_clean": outcome(lambda: daemon.instream(io.BytesIO(content("clean.txt")))),
    "instream_eicar": outcome(lambda: daemon.instream(io.BytesIO(content("eicar.com")))),
    "instream_mail": outcome(lambda: daemon.instream(io.BytesIO(content("mail.eml")))),
    "instream_too_long": outcome(lambda: daemon.instream(io.BytesIO(content("big.bin")))),
    "scan_eicar": outcome(lambda: daemon.scan(os.path.join(files, "eicar.com"))),
    "scan_clean": outcome(lambda: daemon.scan(os.path.join(files, "clean.txt"))),
    "contscan": outcome(lambda: daemon.contscan(files)),
    "multiscan": outcome(lambda: daemon.multiscan(files)),
    "stats_first_line": outcome(lambda: daemon.stats().splitlines()[0]),
    "reload": outcome(daemon.reload),
    "ping_after_reload": outcome(daemon.ping),
}
print(json.dumps(results, sort_keys=True))
