#!/usr/bin/env python3
"""pty_run.py [--answer PROMPT TEXT] OUT COMMAND...

Runs COMMAND with stdin, stdout and stderr on a new pseudo-terminal of 100
columns and 30 rows (no newline translation: what is read is what was
written), writes everything written there to OUT and exits with the
command's exit code (128 + N when signal N killed it, 124 when it ran longer
than 60 seconds). With --answer, TEXT is typed on the terminal once PROMPT
has been written there: the answer to a question.
"""
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time


def main():
    args = sys.argv[1:]
    prompt = typed = None
    if args[:1] == ["--answer"]:
        prompt, typed, args = args[1].encode(), args[2].encode(), args[3:]
    out_path, cmd = args[0], args[1:]
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    data = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every holder of the terminal closed it
            break
        if not chunk:
            break
        data += chunk
        if prompt is not None and prompt in data:
            os.write(master, typed)
            prompt = None
    try:
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = 124
    if code < 0:
        code = 128 - code
    os.close(master)
    with open(out_path, "wb") as f:
        f.write(bytes(data))
    sys.exit(code)


if __name__ == "__main__":
    main()
