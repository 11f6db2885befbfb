#!/usr/bin/env python3
"""Capture the real clamd's replies to a fixed list of requests -> replies.json.

Starts /usr/sbin/clamd in the foreground on a temporary Unix socket, with a
temporary configuration and a database directory holding only test.ndb (next
to this script), sends every request of CASES (each on a fresh connection,
except where a case says otherwise), records what comes back and whether the
server closed the connection, then sends SHUTDOWN and waits for clamd to exit.

Usage (from the repository root):  python3 scanner/tests/data/clamd/capture.py
Options: --clamd PATH (default /usr/sbin/clamd), --out PATH (default
replies.json next to this script).  Standard library only.

The format of replies.json is described in its "format" and "placeholders"
objects and in README.md.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
assert len(EICAR) == 68

STREAM_MAX = 1024 * 1024  # StreamMaxLength 1M in the generated clamd.conf

# Files created under {DIR} before clamd starts (relative path -> content).
FILES = {
    "clean.txt": b"hello, this file is clean\n",
    "eicar.com": EICAR,
    "twice.txt": EICAR + b"\n" + EICAR,
    "dir/clean.txt": b"hello, this file is clean\n",
    "dir/eicar.com": EICAR,
    "cleandir/clean.txt": b"hello, this file is clean\n",
}

IDLE_TIMEOUT = 2.0   # stop reading after this long without data (server did not close)
CONNECT_WAIT = 60.0  # how long to wait for clamd to answer PING at start-up


# ---------------------------------------------------------------- request steps
# A request is a list of steps; text is a Latin-1 string (one char = one byte)
# in which "{DIR}" is replaced by the directory holding FILES.
def send(text, fd=None):
    step = {"send": text}
    if fd is not None:
        step["fd"] = fd  # path template: open it read-only and pass it with SCM_RIGHTS
    return step


def fill(byte, count):
    return {"fill": {"byte": byte, "count": count}}


def repeat(n, steps):
    return {"repeat": n, "steps": steps}


def pause(seconds):
    return {"sleep": seconds}


def close():
    return {"close": True}


def b(x):
    return x.decode("latin-1")


def chunk(data):
    """One INSTREAM chunk: 4-byte big-endian length, then the data."""
    return b(struct.pack(">I", len(data)) + data)


def chunk_len(n):
    return b(struct.pack(">I", n))


END_CHUNK = b(struct.pack(">I", 0))
E = b(EICAR)

# name, request steps, note, flags
# flags: "unordered" -> session replies may arrive in any order (template is sorted by id)
CASES = [
    # --- basic commands, three framings
    ("ping_z", [send("zPING\0")], "z-form: reply terminated by NUL, then the server closes", {}),
    ("ping_n", [send("nPING\n")], "n-form: reply terminated by LF", {}),
    ("ping_legacy", [send("PING")], "unprefixed (legacy): one packet = one command, reply terminated by LF", {}),
    ("ping_legacy_lf", [send("PING\n")], "unprefixed with LF", {}),
    ("ping_legacy_crlf", [send("PING\r\n")], "unprefixed: trailing CR/LF stripped", {}),
    ("ping_n_crlf", [send("nPING\r\n")], "n-form: trailing CR/LF stripped", {}),
    ("ping_lowercase_z", [send("zping\0")], "commands are case-sensitive", {}),
    ("ping_lowercase_n", [send("nping\n")], "commands are case-sensitive", {}),
    ("ping_trailing_space_z", [send("zPING \0")], "no whitespace trimming: trailing space -> unknown", {}),
    ("ping_leading_space_n", [send("n PING\n")], "no whitespace trimming: leading space -> unknown", {}),
    ("ping_trailing_garbage_z", [send("zPINGX\0")], "extra characters after an argument-less command -> unknown", {}),
    ("version_z", [send("zVERSION\0")], "no daily database loaded, so no /dbversion/date part", {}),
    ("version_n", [send("nVERSION\n")], "", {}),
    ("version_legacy", [send("VERSION")], "", {}),
    ("versioncommands_z", [send("zVERSIONCOMMANDS\0")],
     "version, '|', ' COMMANDS:', then ' NAME' for every command", {}),
    ("versioncommands_n", [send("nVERSIONCOMMANDS\n")], "", {}),
    ("versioncommands_legacy", [send("VERSIONCOMMANDS")], "not accepted unprefixed", {}),
    ("unknown_z", [send("zFOO\0")], "", {}),
    ("unknown_n", [send("nFOO\n")], "", {}),
    ("unknown_legacy", [send("FOO")], "", {}),
    ("empty_z", [send("z\0")], "empty command", {}),
    ("empty_n", [send("n\n")], "empty command", {}),
    ("empty_legacy", [send("\n")], "empty command", {}),
    ("end_without_session_z", [send("zEND\0")], "END outside IDSESSION", {}),
    ("detstats_z", [send("zDETSTATS\0")], "removed command: no reply, connection closed", {}),
    ("detstatsclear_z", [send("zDETSTATSCLEAR\0")], "removed command: no reply, connection closed", {}),
    ("instream_legacy", [send("INSTREAM")], "INSTREAM is not accepted unprefixed", {}),
    ("idsession_legacy", [send("IDSESSION")], "IDSESSION is not accepted unprefixed", {}),
    ("stats_legacy", [send("STATS")], "STATS is not accepted unprefixed", {}),
    ("pipelined_z_outside_session", [send("zPING\0zPING\0")],
     "outside a session only the first command is executed, the rest is discarded and the connection closed", {}),
    ("pipelined_legacy", [send("PING\nPING\n")], "legacy: only the first line is executed", {}),
    ("stats_z", [send("zSTATS\0")], "figures templated; only the last line uses the command's terminator", {}),
    ("stats_n", [send("nSTATS\n")], "", {}),

    # --- INSTREAM
    ("instream_clean_z", [send("zINSTREAM\0" + chunk(b"hello, this file is clean\n") + END_CHUNK)], "", {}),
    ("instream_clean_n", [send("nINSTREAM\n" + chunk(b"hello, this file is clean\n") + END_CHUNK)], "", {}),
    ("instream_eicar_z", [send("zINSTREAM\0" + chunk(EICAR) + END_CHUNK)],
     "unsigned database: clamd appends .UNOFFICIAL to the signature name", {}),
    ("instream_eicar_n", [send("nINSTREAM\n" + chunk(EICAR) + END_CHUNK)], "", {}),
    ("instream_eicar_split", [send("zINSTREAM\0"), pause(0.05), send(chunk(EICAR[:10])), pause(0.05),
                              send(chunk(EICAR[10:40])), pause(0.05), send(chunk(EICAR[40:])), pause(0.05),
                              send(END_CHUNK)],
     "EICAR split over three chunks (10+30+28 bytes), sent in separate writes", {}),
    ("instream_eicar_split_header", [send("zINSTREAM\0" + chunk(EICAR)[:2]), pause(0.05),
                                     send(chunk(EICAR)[2:] + END_CHUNK)],
     "a chunk-length header split across two writes", {}),
    ("instream_empty_z", [send("zINSTREAM\0" + END_CHUNK)], "no data, immediate zero-length terminator", {}),
    ("instream_exactly_max", [send("zINSTREAM\0"), repeat(16, [send(chunk_len(65536)), fill(0x61, 65536)]),
                              send(END_CHUNK)],
     "exactly StreamMaxLength (1 MiB = 16 x 64 KiB) is accepted", {}),
    ("instream_over_max", [send("zINSTREAM\0"), repeat(24, [send(chunk_len(65536)), fill(0x61, 65536)]),
                           send(END_CHUNK)],
     "1.5 MiB in 64 KiB chunks with StreamMaxLength 1M: the reply is sent and the connection closed as soon as "
     "the 17th chunk header is read (16 x 64 KiB = 1 MiB fit); the client's later writes fail (EPIPE/ECONNRESET), "
     "the reply can still be read", {}),
    ("instream_chunk_ffffffff", [send("zINSTREAM\0" + b(b"\xff\xff\xff\xff"))],
     "chunk length 0xFFFFFFFF > StreamMaxLength: rejected at once, before any data", {}),
    ("instream_client_abort", [send("zINSTREAM\0" + chunk_len(1000) + "a" * 10), close()],
     "client closes mid-chunk: no reply (nothing can be read); the daemon must keep serving (next case)", {}),
    ("ping_after_abort", [pause(0.2), send("zPING\0")], "daemon still answers after the aborted stream", {}),

    # --- path scans
    ("scan_clean", [send("zSCAN {DIR}/clean.txt\0")], "", {}),
    ("scan_eicar", [send("zSCAN {DIR}/eicar.com\0")], "", {}),
    ("scan_missing", [send("zSCAN {DIR}/missing.txt\0")], "", {}),
    ("scan_dir", [send("zSCAN {DIR}/dir\0")],
     "directory with one clean and one EICAR file: SCAN stops at the first detection; no final OK line when "
     "something was found", {}),
    ("scan_clean_dir", [send("zSCAN {DIR}/cleandir\0")], "clean directory: one OK line for the directory", {}),
    ("scan_dir_trailing_slash", [send("zSCAN {DIR}/cleandir/\0")],
     "trailing slashes are removed from the reported path", {}),
    ("scan_relative", [send("zSCAN clean.txt\0")],
     "relative path: not rejected, resolved against clamd's working directory (/ here, as when daemonized)", {}),
    ("scan_empty_argument", [send("zSCAN \0")], "empty path after 'SCAN '", {}),
    ("scan_no_argument", [send("zSCAN\0")], "SCAN without argument -> unknown command", {}),
    ("scan_special_file", [send("zSCAN /dev/null\0")],
     "not a regular file or directory: an ERROR line and then an OK line (sic)", {}),
    ("scan_n", [send("nSCAN {DIR}/eicar.com\n")], "", {}),
    ("scan_legacy", [send("SCAN {DIR}/eicar.com")], "", {}),
    ("contscan_clean", [send("zCONTSCAN {DIR}/clean.txt\0")], "", {}),
    ("contscan_eicar", [send("zCONTSCAN {DIR}/eicar.com\0")], "", {}),
    ("contscan_missing", [send("zCONTSCAN {DIR}/missing.txt\0")], "", {}),
    ("contscan_dir", [send("zCONTSCAN {DIR}/dir\0")], "", {}),
    ("contscan_clean_dir", [send("zCONTSCAN {DIR}/cleandir\0")], "", {}),
    ("contscan_relative", [send("zCONTSCAN clean.txt\0")], "", {}),
    ("multiscan_clean", [send("zMULTISCAN {DIR}/clean.txt\0")], "", {}),
    ("multiscan_eicar", [send("zMULTISCAN {DIR}/eicar.com\0")], "", {}),
    ("multiscan_missing", [send("zMULTISCAN {DIR}/missing.txt\0")], "", {}),
    ("multiscan_dir", [send("zMULTISCAN {DIR}/dir\0")], "", {}),
    ("multiscan_clean_dir", [send("zMULTISCAN {DIR}/cleandir\0")], "", {}),
    ("multiscan_relative", [send("zMULTISCAN clean.txt\0")], "", {}),
    ("allmatchscan_clean", [send("zALLMATCHSCAN {DIR}/clean.txt\0")], "", {}),
    ("allmatchscan_eicar", [send("zALLMATCHSCAN {DIR}/eicar.com\0")], "", {}),
    ("allmatchscan_twice", [send("zALLMATCHSCAN {DIR}/twice.txt\0")],
     "file holding EICAR twice: one FOUND line per match, even for the same signature", {}),
    ("allmatchscan_missing", [send("zALLMATCHSCAN {DIR}/missing.txt\0")], "", {}),
    ("allmatchscan_dir", [send("zALLMATCHSCAN {DIR}/dir\0")], "", {}),
    ("allmatchscan_clean_dir", [send("zALLMATCHSCAN {DIR}/cleandir\0")], "", {}),
    ("allmatchscan_relative", [send("zALLMATCHSCAN clean.txt\0")], "", {}),
    ("allmatchscan_legacy", [send("ALLMATCHSCAN {DIR}/eicar.com")], "ALLMATCHSCAN is not accepted unprefixed", {}),

    # --- FILDES (file descriptor passed with SCM_RIGHTS on the byte after the command)
    ("fildes_clean", [send("zFILDES\0"), send("\0", fd="{DIR}/clean.txt")],
     "reply names the descriptor number in clamd's process: fd[N]", {}),
    ("fildes_eicar", [send("zFILDES\0"), send("\0", fd="{DIR}/eicar.com")], "", {}),
    ("fildes_no_fd", [send("zFILDES\0\0")], "the byte after the command arrived without a descriptor", {}),
    ("fildes_directory_fd", [send("zFILDES\0"), send("\0", fd="{DIR}/dir")], "descriptor of a directory", {}),

    # --- maximum command length (command buffer is PATH_MAX + 8 = 4104 bytes incl. prefix and terminator)
    ("max_length_4104", [send("zSCAN /"), fill(0x61, 4096), send("\0")],
     "4104 bytes including 'z' and NUL: still processed", {}),
    ("max_length_4105", [send("zSCAN /"), fill(0x61, 4097), send("\0")],
     "4105 bytes: the buffer fills without a terminator; connection closed, no reply", {}),

    # --- IDSESSION
    ("session_z", [send("zIDSESSION\0zPING\0zINSTREAM\0" + chunk(b"hello, this file is clean\n") + END_CHUNK
                        + "zINSTREAM\0" + chunk(EICAR) + END_CHUNK + "zVERSION\0zEND\0")],
     "replies prefixed 'N: ' (N = 1-based request number in the session); may arrive out of order; the server "
     "closes after END once every reply is sent", {"unordered": True}),
    ("session_z_stepwise", [send("zIDSESSION\0"), pause(0.05), send("zPING\0"), pause(0.05),
                            send("zINSTREAM\0" + chunk(b"hello, this file is clean\n") + END_CHUNK), pause(0.1),
                            send("zINSTREAM\0" + chunk(EICAR) + END_CHUNK), pause(0.1), send("zVERSION\0"),
                            pause(0.05), send("zEND\0")],
     "same as session_z, one request per write", {"unordered": True}),
    ("session_n", [send("nIDSESSION\nnPING\nnSCAN {DIR}/eicar.com\nnSCAN {DIR}/clean.txt\nnVERSION\nnEND\n")],
     "n-form session; SCAN is allowed in a session", {"unordered": True}),
    ("session_mixed_terminators", [send("zIDSESSION\0nPING\nzPING\0nEND\n")],
     "each reply uses the terminator of its own request", {"unordered": True}),
    ("session_stats", [send("zIDSESSION\0zSTATS\0zEND\0")], "only the first STATS line carries the 'N: ' prefix",
     {"unordered": True}),
    ("session_versioncommands", [send("zIDSESSION\0zVERSIONCOMMANDS\0zEND\0")], "", {"unordered": True}),
    ("session_fildes", [send("zIDSESSION\0zFILDES\0"), send("\0", fd="{DIR}/eicar.com"), pause(0.05),
                        send("zPING\0zEND\0")], "FILDES is allowed in a session", {"unordered": True}),
    ("session_nested_idsession", [send("zIDSESSION\0zPING\0zIDSESSION\0zPING\0zEND\0")],
     "forbidden command inside a session: error reply, connection closed at once (later requests ignored)",
     {"unordered": True}),
    ("session_contscan_forbidden", [send("zIDSESSION\0zPING\0zCONTSCAN {DIR}/clean.txt\0zEND\0")],
     "CONTSCAN/MULTISCAN/ALLMATCHSCAN/RELOAD/SHUTDOWN/QUIT/DETSTATS are refused inside a session",
     {"unordered": True}),
    ("session_unknown", [send("zIDSESSION\0zPING\0zFOO\0zPING\0zEND\0")],
     "an unknown command inside a session gets the same reply as a forbidden one", {"unordered": True}),
    ("session_legacy_command", [send("zIDSESSION\0zPING\0"), pause(0.1), send("PING\n")],
     "an unprefixed command inside a session: two error replies, then close", {"unordered": True}),
    ("session_no_end_client_close", [send("zIDSESSION\0zPING\0"), pause(0.2), close()],
     "client closes a session without END after reading nothing", {}),
    ("ping_after_session_abort", [pause(0.2), send("zPING\0")], "", {}),

    # --- RELOAD, then SHUTDOWN last
    ("reload_z", [send("zRELOAD\0")], "reload happens after the reply; the daemon keeps serving", {}),
    ("ping_after_reload", [pause(1.0), send("zPING\0")], "", {}),
    ("scan_after_reload", [send("zSCAN {DIR}/eicar.com\0")], "", {}),
    ("shutdown_z", [send("zSHUTDOWN\0")], "no reply; connection closed; the daemon exits", {}),
]


# ---------------------------------------------------------------- helpers
def subst(text, ctx):
    return text.replace("{DIR}", ctx["dir"])


def step_bytes(steps, ctx):
    """Concatenated bytes of the steps (without fds), for the raw 'request' field."""
    out = bytearray()
    for st in steps:
        if "repeat" in st:
            inner = step_bytes(st["steps"], ctx)
            out += inner * st["repeat"]
        elif "send" in st:
            out += subst(st["send"], ctx).encode("latin-1")
        elif "fill" in st:
            out += bytes([st["fill"]["byte"]]) * st["fill"]["count"]
    return bytes(out)


def flatten(steps):
    for st in steps:
        if "repeat" in st:
            for _ in range(st["repeat"]):
                yield from flatten(st["steps"])
        else:
            yield st


def run_case(steps, ctx):
    """Returns (reply_bytes, observed dict)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ctx["sock"])
    observed = {}
    sent = 0
    closed_by_client = False
    try:
        for st in flatten(steps):
            if "sleep" in st:
                time.sleep(st["sleep"])
                continue
            if st.get("close"):
                s.close()
                closed_by_client = True
                break
            if "fill" in st:
                data = bytes([st["fill"]["byte"]]) * st["fill"]["count"]
            else:
                data = subst(st["send"], ctx).encode("latin-1")
            try:
                if "fd" in st:
                    fd = os.open(subst(st["fd"], ctx), os.O_RDONLY)
                    try:
                        socket.send_fds(s, [data], [fd])
                    finally:
                        os.close(fd)
                else:
                    s.sendall(data)
                sent += len(data)
            except OSError as e:
                observed["send_error"] = "%s after %d request bytes" % (type(e).__name__, sent)
                break
        if closed_by_client:
            observed["server_closed"] = None
            observed["close"] = "client closed"
            return b"", observed
        reply = bytearray()
        s.settimeout(IDLE_TIMEOUT)
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                observed["server_closed"] = False
                observed["close"] = "no close within %.0f s of the last data" % IDLE_TIMEOUT
                break
            except ConnectionResetError:
                observed["server_closed"] = True
                observed["close"] = "reset"
                break
            if not d:
                observed["server_closed"] = True
                observed["close"] = "eof"
                break
            reply += d
        return bytes(reply), observed
    finally:
        if not closed_by_client:
            s.close()


VERSION_RE = re.compile(rb"ClamAV [^\x00\n|/]+(/[0-9]+/[^\x00\n|]+)?")
FD_RE = re.compile(rb"fd\[[0-9]+\]")


def template_of(name, reply, ctx, unordered):
    t = reply.replace(ctx["dir"].encode(), b"{DIR}")
    t = VERSION_RE.sub(b"ClamAV {VERSION}", t)
    t = FD_RE.sub(b"fd[{ANY}]", t)
    if b"POOLS:" in t:
        t = re.sub(rb"THREADS: live [0-9]+  idle [0-9]+ max [0-9]+ idle-timeout [0-9]+\n"
                   rb"QUEUE: [0-9]+ items[^\n]*\n.*?\nMEMSTATS: [^\n]*\n",
                   b"THREADS: live {ANY}  idle {ANY} max {ANY} idle-timeout {ANY}\n"
                   b"QUEUE: {ANY} items{ANY}\n{ANY}\nMEMSTATS: {ANY}\n", t, flags=re.S)
    if unordered:
        t = canonical_session(t)
    return t


def split_replies(data):
    """Split into replies, each keeping its terminator (NUL or LF). A STATS reply
    (multi-line, ends with 'END'+terminator) is kept whole."""
    out = []
    i = 0
    while i < len(data):
        if re.match(rb"([0-9]+: )?POOLS:", data[i:]):
            m = re.compile(rb"\nEND[\x00\n]").search(data, i)
            j = m.end() if m else len(data)
        else:
            nul = data.find(b"\0", i)
            lf = data.find(b"\n", i)
            cands = [x for x in (nul, lf) if x >= 0]
            j = (min(cands) + 1) if cands else len(data)
        out.append(data[i:j])
        i = j
    return out


def canonical_session(t):
    parts = split_replies(t)

    def key(p):
        m = re.match(rb"([0-9]+): ", p)
        return int(m.group(1)) if m else 1 << 30
    # stable: replies with the same number keep the order in which they arrived
    return b"".join(sorted(parts, key=key))


def template_regex(template, dir_path):
    """The template as an anchored regex over bytes (see "placeholders" in replies.json)."""
    parts = re.split(r"(\{DIR\}|\{VERSION\}|\{ANY\})", template)
    rx = []
    for p in parts:
        if p == "{DIR}":
            rx.append(re.escape(dir_path.encode()))
        elif p == "{VERSION}":
            rx.append(rb"[^\x00\n|]+")
        elif p == "{ANY}":
            rx.append(rb".*?")
        else:
            rx.append(re.escape(p.encode("latin-1")))
    return re.compile(b"".join(rx) + rb"\Z", re.S)


def reply_matches(template, reply, dir_path, unordered):
    """Reference check of a reply against a template (what a consumer of replies.json should do)."""
    if not unordered:
        return template_regex(template, dir_path).match(reply) is not None
    want = split_replies(template.encode("latin-1"))
    got = split_replies(reply)
    if len(want) != len(got):
        return False
    used = [False] * len(got)
    for w in want:
        rx = template_regex(w.decode("latin-1"), dir_path)
        for i, g in enumerate(got):
            if not used[i] and rx.match(g):
                used[i] = True
                break
        else:
            return False
    return True


def lat(bs):
    return bs.decode("latin-1")


def wait_ping(sock, proc, deadline):
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("clamd exited during start-up (code %s)" % proc.returncode)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b"zPING\0")
            r = s.recv(100)
            s.close()
            if r == b"PONG\0":
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("clamd did not answer PING within %.0f s" % CONNECT_WAIT)


def clamd_version(clamd):
    try:
        return subprocess.run([clamd, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clamd", default="/usr/sbin/clamd")
    ap.add_argument("--out", default=os.path.join(HERE, "replies.json"))
    args = ap.parse_args()

    base = tempfile.gettempdir()
    if len(base) > 40:  # keep the socket path well below the 108-byte sun_path limit
        base = "/tmp"
    root = tempfile.mkdtemp(prefix="clamd-capture-", dir=base)
    proc = None
    try:
        d = os.path.join(root, "files")
        for rel, content in FILES.items():
            p = os.path.join(d, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(content)
        os.makedirs(os.path.join(root, "db"))
        os.makedirs(os.path.join(root, "tmp"))
        shutil.copy(os.path.join(HERE, "test.ndb"), os.path.join(root, "db", "test.ndb"))
        # clamd may drop privileges for some operations; keep everything world-readable
        for dp, dns, fns in os.walk(root):
            os.chmod(dp, 0o755)
            for fn in fns:
                os.chmod(os.path.join(dp, fn), 0o644)
        os.chmod(os.path.join(root, "tmp"), 0o777)
        sock = os.path.join(root, "clamd.sock")
        conf_lines = [
            "Foreground yes",
            "LocalSocket %s" % sock,
            "DatabaseDirectory %s" % os.path.join(root, "db"),
            "TemporaryDirectory %s" % os.path.join(root, "tmp"),
            "LogFile %s" % os.path.join(root, "clamd.log"),
            "StreamMaxLength 1M",
            # no TCPSocket line: TCP is off; defaults for everything else
        ]
        conf = os.path.join(root, "clamd.conf")
        with open(conf, "w") as f:
            f.write("\n".join(conf_lines) + "\n")
        out = open(os.path.join(root, "clamd.stdout"), "wb")
        # cwd "/" like a daemonized clamd, so relative paths resolve against "/"
        proc = subprocess.Popen([args.clamd, "-c", conf], cwd="/", stdout=out, stderr=subprocess.STDOUT)
        ctx = {"dir": d, "sock": sock}
        wait_ping(sock, proc, time.time() + CONNECT_WAIT)

        results = []
        for name, steps, note, flags in CASES:
            reply, observed = run_case(steps, ctx)
            if name == "shutdown_z":
                try:
                    proc.wait(timeout=30)
                    observed["clamd_exit_code"] = proc.returncode
                except subprocess.TimeoutExpired:
                    observed["clamd_exit_code"] = None
            raw_req = step_bytes(steps, ctx)
            tmpl = template_of(name, reply, ctx, flags.get("unordered", False))
            entry = {
                "name": name,
                "request_steps": steps,
                "request": base64.b64encode(raw_req).decode() if len(raw_req) <= 65536 else None,
                "request_len": len(raw_req),
                "reply": base64.b64encode(reply).decode(),
                "template": lat(tmpl),
                "server_closes": observed.get("server_closed"),
                "unordered": bool(flags.get("unordered", False)),
                "note": note,
                "observed": observed,
            }
            if not reply_matches(entry["template"], reply, d, entry["unordered"]):
                raise SystemExit("internal error: template of %s does not match its reply %r" % (name, reply))
            results.append(entry)
        if proc.poll() is None:
            raise SystemExit("clamd still running after SHUTDOWN")

        doc = {
            "clamd_version": clamd_version(args.clamd),
            "captured_by": "scanner/tests/data/clamd/capture.py",
            "clamd_conf": [ln.replace(root, "{TMP}") for ln in conf_lines],
            "clamd_cwd": "/",
            "database": "test.ndb (one body signature, Eicar-Test-Signature; unsigned, so clamd reports "
                        "Eicar-Test-Signature.UNOFFICIAL)",
            "files": {rel: base64.b64encode(c).decode() for rel, c in FILES.items()},
            "format": {
                "encoding": "'request' and 'reply' are base64 of the raw bytes of this capture run "
                            "(request is null when longer than 64 KiB; request_len gives its length). "
                            "'template' and the 'send' texts of request_steps are JSON strings to be mapped to "
                            "bytes one character per byte (Latin-1: U+0000..U+00FF).",
                "request_steps": "list of steps performed on one fresh connection, in order: "
                                 "{\"send\": text} writes the bytes; {\"send\": text, \"fd\": path} writes them "
                                 "with sendmsg() passing an open read-only descriptor of path (SCM_RIGHTS); "
                                 "{\"fill\": {\"byte\": B, \"count\": N}} writes N bytes of value B; "
                                 "{\"repeat\": N, \"steps\": [...]} performs the inner steps N times; "
                                 "{\"sleep\": S} waits S seconds; {\"close\": true} closes the connection (no "
                                 "reply read). After the last step the reply is read until the server closes "
                                 "(EOF or ECONNRESET) or %.0f s pass without data." % IDLE_TIMEOUT,
                "files": "created under {DIR} before clamd starts (relative path -> base64 content)",
                "template": "the reply with the run-specific parts replaced by placeholders; everything else "
                            "is literal and byte-exact",
                "unordered": "true for IDSESSION conversations: the server may send the replies in any order; "
                             "the template lists them sorted by their 'N: ' request number (replies without a "
                             "number last; replies with the same number in arrival order). Split a reply into "
                             "NUL/LF-terminated messages (a STATS message runs to 'END' + terminator) and compare "
                             "as a multiset.",
                "server_closes": "true: the server closed the connection after its reply; false: it did not "
                                 "within the idle timeout; null: the client closed first",
                "observed": "run-specific details (how the close was seen, write errors, clamd exit code); "
                            "not stable across runs or implementations",
            },
            "placeholders": {
                "{DIR}": "the directory holding 'files' (absolute path, as sent in the request)",
                "{VERSION}": "the version after 'ClamAV ': '1.4.6' here (no daily database), in general "
                             "'<version>' or '<version>/<daily db version>/<ctime-style date>'; no NUL, LF or '|'",
                "{ANY}": "any bytes, possibly none, possibly several lines (STATS figures and task list, the "
                         "descriptor number in fd[N])",
                "syntax": "placeholders are exactly these three tokens; no other text is special (replies here "
                          "contain no '{'). As a regex: escape the template, then {DIR} -> the literal path, "
                          "{VERSION} -> [^\\x00\\n|]+, {ANY} -> .*? with DOTALL, anchored at both ends.",
            },
            "cases": results,
        }
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1, ensure_ascii=True)
            f.write("\n")
        print("wrote %s (%d cases)" % (args.out, len(results)))
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
