#!/usr/bin/env python3
"""Runs one job of a GitHub Actions workflow here, as the runner would.

    run-workflow.py WORKFLOW JOB --workspace DIR --expr NAME=VALUE... \
        [--replace 'RUN=SHELL'...] [--artifacts DIR] [--results FILE]

- `${{ EXPR }}` is replaced from the --expr table (EXPR stripped of blanks,
  `env.NAME` from the step's environment); an expression missing from the
  table is an error, so the table has to cover the whole workflow.
- `env:` of the workflow, the job and the step, in that order; `$GITHUB_ENV`
  lines (NAME=VALUE, NAME<<EOF) carry over to the following steps.
- `if:` understands success(), always(), failure() and cancelled().
- `run:` is written to a file and run with `bash --noprofile --norc -eo
  pipefail FILE` in the workspace (or `working-directory:`), as GitHub's
  runner does for the default shell.
- `uses: actions/checkout@*` does nothing: the caller's workspace is the
  checkout. `uses: actions/upload-artifact@*` copies `with.path` (globs,
  one a line, relative to the workspace) into ARTIFACTS/NAME/ and honours
  `if-no-files-found: error`. Any other action is an error.
- --replace RUN=SHELL runs SHELL instead of a step whose `run:` is exactly
  RUN (stripped); the result line says so.

Prints one line a step (`step NAME: success|failure (exit N)|skipped`), writes
them to --results (`NAME<TAB>success|failure N|skipped`, one a line), and
exits 0 when the job succeeded, 1 otherwise.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

EXPR = re.compile(r"\$\{\{(.*?)\}\}")


class WorkflowError(Exception):
    pass


def substitute(text, table, env):
    def one(m):
        key = m.group(1).strip()
        if key.startswith("env."):
            return env.get(key[4:], "")
        if key not in table:
            raise WorkflowError("expression not in the table: ${{ %s }}" % key)
        return table[key]
    return EXPR.sub(one, text)


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def env_block(block, table, env):
    out = {}
    for k, v in (block or {}).items():
        out[str(k)] = substitute(scalar(v), table, {**env, **out})
    return out


def condition(expr, failed):
    if expr is None:
        return not failed
    e = scalar(expr).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", e)
    if m:
        e = m.group(1).strip()
    if e == "always()":
        return True
    if e == "success()":
        return not failed
    if e == "failure()":
        return failed
    if e == "cancelled()":
        return False
    raise WorkflowError("if: %s is beyond this runner" % expr)


def read_github_env(path):
    out = {}
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            val = []
            while i < len(lines) and lines[i] != delim:
                val.append(lines[i])
                i += 1
            i += 1
            out[name] = "\n".join(val)
        elif "=" in line:
            name, val = line.split("=", 1)
            out[name] = val
        else:
            raise WorkflowError("GITHUB_ENV: cannot read %r" % line)
    return out


def upload(step, workspace, artifacts, table, env):
    w = {k: substitute(scalar(v), table, env) for k, v in (step.get("with") or {}).items()}
    name = w.get("name", "artifact")
    files = []
    for pattern in w.get("path", "").split("\n"):
        pattern = pattern.strip()
        if pattern:
            files += sorted(glob.glob(os.path.join(workspace, pattern), recursive=True))
    if not files:
        if w.get("if-no-files-found", "warn") == "error":
            print("upload-artifact %s: no files match %r" % (name, w.get("path")))
            return 1
        return 0
    dest = os.path.join(artifacts, name)
    os.makedirs(dest, exist_ok=True)
    for f in files:
        shutil.copy(f, dest)
        print("upload-artifact %s: %s" % (name, os.path.relpath(f, workspace)))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workflow")
    ap.add_argument("job")
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--expr", action="append", default=[])
    ap.add_argument("--replace", action="append", default=[])
    ap.add_argument("--artifacts", default=None)
    ap.add_argument("--results", default=None)
    a = ap.parse_args()

    table = dict(e.split("=", 1) for e in a.expr)
    replace = dict(r.split("=", 1) for r in a.replace)
    with open(a.workflow) as f:
        wf = yaml.safe_load(f)
    job = wf["jobs"][a.job]
    tmp = tempfile.mkdtemp(prefix="gha-")
    artifacts = a.artifacts or os.path.join(tmp, "artifacts")
    runner_temp = os.path.join(tmp, "runner-temp")
    os.makedirs(runner_temp)
    github_env = os.path.join(tmp, "github_env")
    open(github_env, "w").close()

    # A runner's environment, not the caller's: only these pass through.
    keep = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR",
            "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")
    base = {k: os.environ[k] for k in keep if k in os.environ}
    base.update({
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": a.workspace,
        "RUNNER_TEMP": runner_temp,
        "GITHUB_ENV": github_env,
        "GITHUB_OUTPUT": os.path.join(tmp, "github_output"),
        "GITHUB_STEP_SUMMARY": os.path.join(tmp, "step_summary"),
    })
    for k, v in table.items():
        if k.startswith("github.") and "." not in k[7:]:
            base["GITHUB_" + k[7:].upper()] = v
    base.update(env_block(wf.get("env"), table, base))
    base.update(env_block(job.get("env"), table, base))

    failed = False
    results = []
    for n, step in enumerate(job["steps"], 1):
        name = step.get("name") or step.get("uses") or "step %d" % n
        env = dict(base)
        env.update(read_github_env(github_env))
        if not condition(step.get("if"), failed):
            print("step %s: skipped" % name, flush=True)
            results.append({"name": name, "status": "skipped", "exit": None})
            continue
        env.update(env_block(step.get("env"), table, env))
        note = ""
        if "uses" in step:
            action = step["uses"].split("@")[0]
            if action == "actions/checkout":
                rc = 0
                note = " (the workspace is the checkout)"
            elif action == "actions/upload-artifact":
                rc = upload(step, a.workspace, artifacts, table, env)
            else:
                raise WorkflowError("uses: %s is beyond this runner" % step["uses"])
        else:
            script = step["run"]
            if script.strip() in replace:
                note = " (replaced: %s)" % replace[script.strip()]
                script = replace[script.strip()]
            script = substitute(script, table, env)
            if step.get("shell", "bash") != "bash":
                raise WorkflowError("shell: %s is beyond this runner" % step["shell"])
            path = os.path.join(tmp, "step-%d.sh" % n)
            with open(path, "w") as f:
                f.write(script)
            cwd = os.path.join(a.workspace, step.get("working-directory", "."))
            print("::group::%s" % name, flush=True)
            rc = subprocess.call(["bash", "--noprofile", "--norc", "-eo", "pipefail", path],
                                 cwd=cwd, env=env, stdin=subprocess.DEVNULL)
            print("::endgroup::", flush=True)
        if rc == 0:
            print("step %s: success%s" % (name, note), flush=True)
            results.append({"name": name, "status": "success", "exit": 0})
        else:
            print("step %s: failure (exit %d)%s" % (name, rc, note), flush=True)
            results.append({"name": name, "status": "failure", "exit": rc})
            if not step.get("continue-on-error"):
                failed = True
    if a.results:  # NAME<TAB>STATUS, with the exit code after a failure
        with open(a.results, "w") as f:
            for r in results:
                f.write("%s\t%s%s\n" % (r["name"], r["status"],
                                       " %d" % r["exit"] if r["status"] == "failure" else ""))
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except WorkflowError as e:
        print("run-workflow: %s" % e, file=sys.stderr)
        sys.exit(2)
