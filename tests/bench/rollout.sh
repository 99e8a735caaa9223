#!/usr/bin/env bash
# A rollout against its baseline, one target's run: 1,000 targets (ROLLOUT_N)
# of a one-step runbook (SELECT pg_sleep(0.5) on one local server, each
# target its own connection and run lock, each run recorded) with -j 32
# (ROLLOUT_J), against (1,000 / 32) x the time of one target's run alone
# (best of 3). The rollout's own peak memory (its resident set, sampled
# every 50 ms) with 100 and with 1,000 targets shows whether it grows with
# them. Goals: ratio <= 1.5; memory flat (1,000 targets within 1.5x of 100).
#
# usage: tests/bench/rollout.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
n=${ROLLOUT_N:-1000}
j=${ROLLOUT_J:-32}
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/table.sh"
bench_server "$bin"
cd "$work"
git init -q audit

printf '# Bench rollout\n\n```sql {name=wait}\nSELECT pg_sleep(0.5);\n```\n' > one.md
# inventory COUNT: targets t1..tCOUNT, each on the bench server.
inventory() {
  { echo "targets:"; for i in $(seq "$1"); do echo "  t$i: {db: \"$url\"}"; done; } > "targets-$1.yaml"
}
inventory "$n"
inventory 100

# peak PID: the largest VmRSS of PID (KiB) while it lives.
peak() {
  local m=0 v
  while kill -0 "$1" 2>/dev/null; do
    v=$(awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$m" ] && m=$v
    sleep 0.05
  done
  echo "$m"
}
ms() { echo $(( ($2 - $1) / 1000000 )); }

best=
for _ in 1 2 3; do
  t0=$(date +%s%N)
  "$bin" run one.md --inventory "targets-$n.yaml" --target t1 --audit-repo audit > single.out 2>&1 ||
    { cat single.out; exit 1; }
  t1=$(date +%s%N)
  d=$(ms "$t0" "$t1")
  [ -z "$best" ] || [ "$d" -lt "$best" ] && best=$d
done

# rollout COUNT: runs it; sets wall (ms) and rss (KiB).
rollout() {
  local t0 t1
  t0=$(date +%s%N)
  "$bin" run one.md --inventory "targets-$1.yaml" --targets "$(seq -s, -f 't%g' 1 "$1")" -j "$j" \
    --audit-repo audit > "rollout-$1.out" 2>&1 &
  local pid=$!
  rss=$(peak "$pid")
  wait "$pid" || { tail -20 "rollout-$1.out"; exit 1; }
  t1=$(date +%s%N)
  wall=$(ms "$t0" "$t1")
  grep -q "$1 succeeded" "rollout-$1.out" || { tail -5 "rollout-$1.out"; exit 1; }
}
rollout 100
rss100=$rss
rollout "$n"
ideal=$(echo "$n / $j * $best" | bc -l)
ratio=$(echo "$wall / $ideal" | bc -l)
grow=$(echo "$rss / $rss100" | bc -l)
printf 'rollout: %d targets, -j %d, one SELECT pg_sleep(0.5) each, recorded\n' "$n" "$j"
printf '  one target alone (best of 3):    %6d ms\n' "$best"
printf '  the rollout:                     %6d ms  (ideal %d / %d x %d ms = %.0f ms)\n' "$wall" "$n" "$j" "$best" "$ideal"
printf '  ratio rollout / ideal:           %6.2f  (target <= 1.5)\n' "$ratio"
printf '  the rollout'"'"'s peak memory:       %6d KiB with %d targets, %d KiB with 100 (x%.2f)\n' "$rss" "$n" "$rss100" "$grow"
bench_row "rollout of $n targets, -j $j (vs $n/$j x one target's run)" "$wall ms" "$(printf '%.0f' "$ideal") ms" \
  "$(printf '%.2f' "$ratio")" "<= 1.5"
bench_row "the rollout's peak memory, $n targets (vs 100 targets)" "$rss KiB" "$rss100 KiB" "$(printf '%.2f' "$grow")" \
  "flat"
