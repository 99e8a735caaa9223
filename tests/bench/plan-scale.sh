#!/usr/bin/env bash
# Planning at scale: `runbook plan` (text and --json) of generated runbooks
# of 10,000 and 100,000 steps (bash, sql and gates mixed, sections,
# approvals, attributes), best of 3; time and peak memory. Planning should be
# linear: 100,000 steps within 10x the time of 10,000, under 2 s and 500 MiB.
# (check's own cost is measured by check.sh: it runs bash -n and shellcheck.)
#
# usage: tests/bench/plan-scale.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
. "$(dirname "$0")/table.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }

gen() { # gen N FILE
  python3 - "$1" > "$2" <<'PY'
import sys
n = int(sys.argv[1])
print("---\ntitle: Many steps\ntimeout: 5m\n---\n# Many steps\n")
for i in range(n):
    if i % 10 == 0:
        print(f"\n## Phase {i // 10}\n\nSome prose about phase {i // 10}.\n")
    if i % 500 == 0:
        print("- [ ] someone looked at it\n- [x] and agreed\n")
    attrs = f" {{name=s{i} timeout=5s}}" if i % 3 == 0 else ""
    if i % 4 == 1:
        print(f"```sql{attrs}\nUPDATE t SET n = n + 1 WHERE id = {i};\n```\n")
    elif i % 50 == 7:
        print(f"```lua {{gate=true}}\nreturn {i} > 0\n```\n")
    else:
        print(f"```bash{attrs}\necho step {i}\nls -l /tmp | wc -l\n```\n")
PY
}
gen 10000 "$work/10k.md"
gen 100000 "$work/100k.md"
declare -A ms kb
for cmd in plan "plan --json"; do
  for size in 10k 100k; do
    b_ms=999999 b_kb=0
    for _ in 1 2 3; do
      # shellcheck disable=SC2086 # $cmd is the subcommand and its option
      read -r secs k <<< "$(/usr/bin/time -f '%e %M' "$bin" $cmd "$work/$size.md" 2>&1 >/dev/null | tail -1)"
      m=$(echo "$secs * 1000 / 1" | bc)
      [ "$m" -lt "$b_ms" ] && b_ms=$m
      [ "$k" -gt "$b_kb" ] && b_kb=$k
    done
    ms[$cmd$size]=$b_ms kb[$cmd$size]=$b_kb
    printf '%-11s %6s steps: %6d ms, peak %6.1f MiB\n' "$cmd" "$size" "$b_ms" "$(echo "$b_kb / 1024" | bc -l)"
  done
  printf '%-11s 100k / 10k:   %6.2f   (goal <= 10)\n' "$cmd" "$(echo "${ms[${cmd}100k]} / ${ms[${cmd}10k]}" | bc -l)"
  bench_row "$cmd of 100,000 steps (vs 10,000 steps)" "${ms[${cmd}100k]} ms, $(( kb[${cmd}100k] / 1024 )) MiB" \
    "${ms[${cmd}10k]} ms" "$(bench_ratio "${ms[${cmd}100k]}" "${ms[${cmd}10k]}")" \
    "<= 10, < 2 s, < 500 MiB"
done
