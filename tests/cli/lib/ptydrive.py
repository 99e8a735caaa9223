#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its questions.

usage: ptydrive.py PROMPT ANSWERS OUT -- COMMAND...
Each time PROMPT appears once more in the output, the next answer of
ANSWERS (comma-separated; "^C" types Ctrl-C, "^K" kills the command with
SIGKILL) is typed. Everything the command wrote goes to OUT; the exit status is the
command's (128+N for a signal). Gives up after 60 s without output.
"""
import os, pty, select, signal, sys

prompt = sys.argv[1].encode()
answers = [a for a in sys.argv[2].split(",") if a] if sys.argv[2] else []
out_path = sys.argv[3]
cmd = sys.argv[5:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b""
given = 0
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        break
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
    while out.count(prompt) > given and given < len(answers):
        a = answers[given]
        given += 1
        if a == "^C":
            os.write(fd, b"\x03")
        elif a == "^K":
            os.kill(pid, signal.SIGKILL)
        else:
            os.write(fd, (a + "\n").encode())
_, status = os.waitpid(pid, 0)
with open(out_path, "wb") as f:
    f.write(out)
sys.exit(os.waitstatus_to_exitcode(status) if os.waitstatus_to_exitcode(status) >= 0
         else 128 - os.waitstatus_to_exitcode(status))
