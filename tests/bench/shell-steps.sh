#!/usr/bin/env bash
# Shell steps against bash:
#  1. per-step overhead: 200 trivial bash blocks run by `runbook run` against
#     the same 200 bodies run as `bash -e -o pipefail -c BODY` one after
#     another (same shell flags, output to /dev/null for both);
#  2. output throughput: a step printing 1 GiB, against the same command as
#     `bash -c CMD | cat > /dev/null` (a pipe, like a step's) and, for
#     reference, `bash -c CMD > /dev/null`;
#  3. plan time and peak memory on a generated 10,000-step runbook.
# Best of 3 runs for 1 and 2. Runs without the audit record (--no-audit),
# whose own cost is measured by audit-commit.sh.
#
# usage: tests/bench/shell-steps.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
. "$(dirname "$0")/table.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }

best_ms() { # best wall time in ms of "$@" over 3 runs
  local b=999999999 t0 t1 d
  for _ in 1 2 3; do
    t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N)
    d=$(( (t1 - t0) / 1000000 ))
    [ "$d" -lt "$b" ] && b=$d
  done
  echo "$b"
}

# 1. Per-step overhead.
{
  echo "# 200 steps"
  for i in $(seq 200); do printf '\n```bash\necho step %d\n```\n' "$i"; done
} > steps.md
bare() { local i; for i in $(seq 200); do bash -e -o pipefail -c "echo step $i"; done; }
rb_ms=$(best_ms "$bin" run --no-audit steps.md)
bash_ms=$(best_ms bare)
printf 'per-step overhead, 200 trivial bash steps:\n'
printf '  runbook run:          %6d ms  (%.2f ms a step)\n' "$rb_ms" "$(echo "$rb_ms / 200" | bc -l)"
printf '  200 x bash -c:        %6d ms  (%.2f ms a step)\n' "$bash_ms" "$(echo "$bash_ms / 200" | bc -l)"
printf '  ratio:                %6.2f   (target <= 1.08)\n\n' "$(echo "$rb_ms / $bash_ms" | bc -l)"
bench_row "200 trivial bash steps (vs 200 x bash -e -o pipefail -c)" "$rb_ms ms" "$bash_ms ms" "$(bench_ratio "$rb_ms" "$bash_ms")" "<= 1.08"

# 2. Output throughput.
cmd='head -c 1073741824 /dev/zero'
printf '# 1 GiB\n\n```bash\n%s\n```\n' "$cmd" > big.md
rb_ms=$(best_ms "$bin" run --no-audit big.md)
pipe_ms=$(best_ms bash -c "bash -c '$cmd' | cat > /dev/null")
direct_ms=$(best_ms bash -c "bash -c '$cmd' > /dev/null")
mibs() { echo "1024 * 1000 / $1" | bc -l; }
printf 'output throughput, a step printing 1 GiB, to /dev/null:\n'
printf '  runbook run:                 %6d ms  %7.0f MiB/s\n' "$rb_ms" "$(mibs "$rb_ms")"
printf '  bash -c | cat > /dev/null:   %6d ms  %7.0f MiB/s\n' "$pipe_ms" "$(mibs "$pipe_ms")"
printf '  bash -c > /dev/null:         %6d ms  %7.0f MiB/s  (no pipe at all)\n' "$direct_ms" "$(mibs "$direct_ms")"
printf '  throughput ratio vs the pipe:       %5.2f  (target >= 0.8)\n' "$(echo "$pipe_ms / $rb_ms" | bc -l)"
printf '  throughput ratio vs no pipe:        %5.2f\n\n' "$(echo "$direct_ms / $rb_ms" | bc -l)"
bench_row "a step printing 1 GiB (vs bash -c | cat)" "$rb_ms ms" "$pipe_ms ms" "$(bench_ratio "$rb_ms" "$pipe_ms")" "<= 1.25"

# 3. Planning a 10,000-step runbook.
python3 - > big-plan.md <<'PY'
print("---\ntitle: Ten thousand steps\ntimeout: 5m\n---\n# Ten thousand steps\n")
for i in range(10000):
    if i % 10 == 0:
        print(f"\n## Phase {i // 10}\n\nSome prose about phase {i // 10}.\n")
    if i % 500 == 0:
        print("- [ ] someone looked at it\n- [x] and agreed\n")
    attrs = f" {{name=s{i} timeout=5s}}" if i % 3 == 0 else ""
    print(f"```bash{attrs}\necho step {i}\nls -l /tmp | wc -l\ntrue\n```\n")
PY
measure() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
for mode in "" "--json"; do
  b_ms=999999; b_kb=0
  for _ in 1 2 3; do
    read -r secs kb <<< "$(measure "$bin" plan $mode big-plan.md)"
    ms=$(echo "$secs * 1000 / 1" | bc)
    [ "$ms" -lt "$b_ms" ] && b_ms=$ms
    b_kb=$kb
  done
  printf 'plan %-6s of 10,000 steps: %5d ms, peak %5.1f MiB  (targets < 200 ms, < 50 MiB)\n' \
    "${mode:-text}" "$b_ms" "$(echo "$b_kb / 1024" | bc -l)"
done
