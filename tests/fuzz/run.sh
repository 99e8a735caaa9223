#!/bin/sh
# Runs libFuzzer harnesses built in a RB_FUZZ build (see CMakeLists.txt here).
#
#   tests/fuzz/run.sh HARNESS_DIR SECONDS [NAME...]
#
# HARNESS_DIR holds fuzz_<NAME> (build-fuzz/tests/fuzz); NAME defaults to
# every harness. Each runs for SECONDS reading the seed corpus corpus/NAME/
# and writing what it finds to $FUZZ_WORK (default HARNESS_DIR/work):
# corpus/NAME/ (new inputs, kept from run to run), artifacts/NAME/ (crash,
# leak, timeout and OOM inputs) and NAME.log. FUZZ_JOBS harnesses run at
# once (default 1); FUZZ_ARGS adds libFuzzer flags (-use_value_profile=1).
# Prints each harness's final stats line; exits 1 when any harness found
# something, with the end of its log.
set -u

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 HARNESS_DIR SECONDS [NAME...]" >&2; exit 2; }
bin=$(cd "$1" && pwd) || exit 2
seconds=$2
shift 2
[ $# -gt 0 ] || set -- parse attrs frontmatter sqlsplit redact
work=${FUZZ_WORK:-$bin/work}
jobs=${FUZZ_JOBS:-1}
mkdir -p "$work" || exit 2
work=$(cd "$work" && pwd)

# Runs one harness; its exit status is libFuzzer's.
run_one() {
	name=$1
	mkdir -p "$work/corpus/$name" "$work/artifacts/$name"
	dict=
	[ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
	# shellcheck disable=SC2086 # dict is one word or none, FUZZ_ARGS words
	"$bin/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/$name/" $dict ${FUZZ_ARGS:-} \
		"$work/corpus/$name" "$here/corpus/$name" >"$work/$name.log" 2>&1
}

report() {
	name=$1
	rc=$2
	stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$name.log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
	corpus=$(find "$work/corpus/$name" "$here/corpus/$name" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz_$name: ok, ${execs:-?} runs, $corpus corpus files: $stats"
	else
		echo "fuzz_$name: FAILED (libFuzzer exit $rc), artifacts in $work/artifacts/$name/"
		tail -n 60 "$work/$name.log"
	fi
}

# Waits for the batch started (pids and names in the same order).
wait_batch() {
	# shellcheck disable=SC2086 # one word per name
	set -- $names
	for pid in $pids; do
		wait "$pid"
		rc=$?
		report "$1" "$rc"
		[ "$rc" -eq 0 ] || status=1
		shift
	done
	pids=
	names=
	batch=0
}

status=0
pids=
names=
batch=0
for name in "$@"; do
	[ -x "$bin/fuzz_$name" ] || { echo "$0: no harness $bin/fuzz_$name" >&2; exit 2; }
	run_one "$name" &
	pids="$pids $!"
	names="$names $name"
	batch=$((batch + 1))
	[ "$batch" -lt "$jobs" ] || wait_batch
done
wait_batch
exit $status
