#!/usr/bin/env bash
# --ephemeral-db's template cache (RUNBOOK_PG_CACHE, private to this test):
# the first run makes the template (a manifest and data.pack, the data
# directory's files in one) and says so, the next copies it; a template
# with data.pack missing or cut short, a corrupt manifest, another
# PG_VERSION, a stale build, an earlier format or a control file the server
# refuses is rebuilt, saying so;
# two first runs side by side both succeed and leave one template; --no-cache
# and RUNBOOK_PG_CACHE=off touch no cache (--no-cache alone is a usage
# error), nor is a template kept under a HOME others may write; as root the copy belongs to the
# postgres user and the template to root; on ext4 the run's directory is
# marked the top of a tree (chattr +T); what a run creates is not there in
# the next one.
set -euo pipefail
bin=$1
if [ -z "${RUNBOOK_PG_BINDIR:-}" ] && ! command -v pg_config > /dev/null &&
   ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  echo "pg-cache: no PostgreSQL server binaries: skipped"; exit 77
fi
dir=$(mktemp -d)
chmod 755 "$dir"
mkdir -m 755 "$dir/tmp"
trap 'rm -rf "$dir"' EXIT
fail() { echo "pg-cache: $*"; exit 1; }
export RUNBOOK_PG_CACHE=$dir/cache TMPDIR=$dir/tmp

printf '# Make\n\n```sql\nCREATE TABLE made_by_run_one (x int);\n```\n' > "$dir/make.md"
printf '# Look\n\n```sql {capture=GONE}\nSELECT to_regclass('"'"'made_by_run_one'"'"') IS NULL;\n```\n\n```bash\necho "gone=$GONE user=$PGUSER"\n```\n' > "$dir/look.md"
chmod 644 "$dir"/*.md

# run NAME RUNBOOK [ARGS...]: runs it into $dir/NAME.out; fails the test when the run fails.
run() {
  local name=$1 rb=$2
  shift 2
  "$bin" run --no-audit --ephemeral-db "$@" "$dir/$rb" > "$dir/$name.out" 2>&1 || { cat "$dir/$name.out"; fail "run $name failed"; }
}
said() { grep -q -- "$2" "$dir/$1.out" || { cat "$dir/$1.out"; fail "run $1 did not say: $2"; }; }
not_said() { if grep -q -- "$2" "$dir/$1.out"; then cat "$dir/$1.out"; fail "run $1 said: $2"; fi; }
template() { ls -d "$dir"/cache/* 2>/dev/null; }
only_template() {
  [ "$(ls -A "$dir/cache" | wc -l)" = 1 ] || { ls -la "$dir/cache"; fail "$1: not exactly one template in the cache"; }
  [ -s "$(template)/manifest" ] || fail "$1: the template has no manifest"
}

# The first run makes the template; the next copies it.
run first make.md
said first 'creating the PostgreSQL template in '"$dir"'/cache/'
said first 'ready in .*(initdb; socket in'
only_template first
tpl=$(template)
run second look.md
said second 'ready in .*(a copy of the cached template; socket in'
not_said second 'creating the PostgreSQL template'
not_said second 'initdb'
# What run one created is not in run two: each run has its own copy.
said second '^gone=t '
[ -z "$(ls -A "$dir/tmp")" ] || { ls -la "$dir/tmp"; fail "a run directory was left behind"; }

# As root the template is root's alone and the copy the postgres user's; else both are ours.
"$bin" run --no-audit --ephemeral-db --keep-db "$dir/look.md" > "$dir/keep.out" 2>&1 || { cat "$dir/keep.out"; fail "--keep-db run"; }
srv=$(sed -n 's/.*rm -rf \(.*\)$/\1/p' "$dir/keep.out")
kpid=$(sed -n 's/.*keeps running (pid \([0-9]*\)).*/\1/p' "$dir/keep.out")
[ -n "$srv" ] && [ -n "$kpid" ] || { cat "$dir/keep.out"; fail "--keep-db did not say how to connect"; }
me=$(id -un)
want=$me
[ "$(id -u)" = 0 ] && want=postgres
owners=$(find "$srv/data" -printf '%u\n' | sort -u)
[ "$owners" = "$want" ] || fail "the copy belongs to $owners, not $want"
[ "$(stat -c %a "$srv/data")" = 700 ] || fail "the copy's data directory is not 0700"
# On ext4 the run's directory is the top of a tree (chattr +T): its data directory gets a block group of its own.
if [ "$(stat -f -c %T "$srv")" = ext2/ext3 ] && command -v lsattr > /dev/null; then
  lsattr -d "$srv" | cut -d' ' -f1 | grep -q T || { lsattr -d "$srv"; fail "the run's directory is not marked the top of a tree"; }
fi
[ -z "$(find "$srv" -maxdepth 1 -name 'data-*')" ] || fail "the data directory's temporary name was left"
said keep "^gone=t user=$want\$"
kill "$kpid"
for _ in $(seq 100); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.05; done
rm -rf "$srv"
[ "$(find "$tpl" -printf '%u\n' | sort -u)" = "$me" ] || fail "the template is not $me's alone"
[ "$(stat -c %a "$dir/cache")" = 700 ] && [ "$(stat -c %a "$tpl")" = 700 ] || fail "the cache is open to others"

# rebuilt NAME WHY: the run said the template could not be used (WHY) and made it again (each
# case damages the template the one before made: its WHY shows that template was sound).
rebuilt() {
  run "$1" look.md
  said "$1" "the PostgreSQL template in $tpl cannot be used (.*$2.*): rebuilding it"
  said "$1" '^gone=t '
  only_template "$1"
}
# entry PATH: "SIZE OFFSET" of the data directory's file PATH in data.pack, as the manifest lists it.
entry() { awk -v p="$1" '$1 == "f" && $5 == p { print $3, $4 }' "$tpl/manifest"; }
# patch PATH FILE: FILE's bytes over PATH's in data.pack.
patch() {
  local at
  at=$(entry "$1" | cut -d' ' -f2)
  [ -n "$at" ] || fail "the manifest lists no $1"
  dd if="$2" of="$tpl/data.pack" bs=1 seek="$at" conv=notrunc status=none
}
[ "$(ls -A "$tpl")" = "data.pack
manifest" ] || { ls -la "$tpl"; fail "the template is not a manifest and data.pack"; }
[ "$(entry PG_VERSION)" != "" ] && [ "$(entry global/pg_control)" != "" ] || fail "the manifest does not list the files"
# data.pack missing, or shorter than the manifest says.
rm "$tpl/data.pack"
rebuilt missing 'data.pack: No such file'
truncate -s 8192 "$tpl/data.pack"
rebuilt short 'its data.pack is 8192 bytes, its manifest says'
# A corrupt manifest (the marker written last).
head -c 300 "$tpl/manifest" > "$dir/m" && cat "$dir/m" > "$tpl/manifest"
rebuilt truncated 'manifest'
printf 'garbage\n' > "$tpl/manifest"
rebuilt garbage 'its manifest is not this server'
# A line that is not an entry (a path out of the data directory).
sed -i 's/^\(f [0-9]* [0-9]* [0-9]*\) PG_VERSION$/\1 ..\/PG_VERSION/' "$tpl/manifest"
rebuilt outside 'its manifest has a line that is not an entry: f .* ../PG_VERSION'
# Another major version's data directory.
printf '14\n' > "$dir/v"
patch PG_VERSION "$dir/v"
rebuilt version 'its PG_VERSION is not 1[0-9]'
# Stale: the server binary is another build than the one that made it.
sed -i 's/^\(postgres .*\) [0-9]*$/\1 1/' "$tpl/manifest"
rebuilt stale 'made by .*; the server binary has changed since'
run stale-after look.md
said stale-after 'a copy of the cached template'
# An earlier format's template in the slot (a data/ directory, no data.pack).
sed -i '1s/.*/runbook pg-template 1/' "$tpl/manifest"
rebuilt format 'its format is another runbook'"'"'s'
# Sound on the outside, refused by the server: a control file of the same size, zeroed.
head -c "$(entry global/pg_control | cut -d' ' -f1)" /dev/zero > "$dir/zeros"
patch global/pg_control "$dir/zeros"
run control look.md
said control "the server did not start from the PostgreSQL template in $tpl: rebuilding it"
said control '^gone=t '
only_template control
run control-after look.md
said control-after 'a copy of the cached template'

# Two first runs side by side: both succeed, one template is left.
rm -rf "$dir/cache"
pids=()
for n in 1 2; do
  "$bin" run --no-audit --ephemeral-db "$dir/look.md" > "$dir/race$n.out" 2>&1 & pids+=($!)
done
for n in 1 2; do
  wait "${pids[$((n - 1))]}" || { cat "$dir/race$n.out"; fail "racing run $n failed"; }
  said "race$n" '^gone=t '
  not_said "race$n" 'could not keep'
done
only_template race
run race-after look.md
said race-after 'a copy of the cached template'

# --no-cache and RUNBOOK_PG_CACHE=off: initdb, and no cache is made, read or changed.
before=$(find "$dir/cache" -printf '%p %s %T@\n' | sort)
run nocache look.md --no-cache
said nocache '(initdb; socket in'
not_said nocache 'template'
[ "$(find "$dir/cache" -printf '%p %s %T@\n' | sort)" = "$before" ] || fail "--no-cache changed the cache"
RUNBOOK_PG_CACHE=$dir/none run nocache2 look.md --no-cache
[ ! -e "$dir/none" ] || fail "--no-cache made a cache directory"
RUNBOOK_PG_CACHE=off run off look.md
said off '(initdb; socket in'
not_said off 'template'
# --no-cache is about the throwaway server: alone it is a usage error, nothing run.
rc=0; "$bin" run --no-audit --no-cache "$dir/look.md" > "$dir/alone.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- '--no-cache goes with --ephemeral-db' "$dir/alone.out" && ! grep -q 'gone=' "$dir/alone.out" ||
  { cat "$dir/alone.out"; fail "--no-cache without --ephemeral-db: exit $rc"; }
# A HOME others may write keeps no template (nor does another user's, as root): initdb, nothing left there.
mkdir -m 777 "$dir/open"
( unset RUNBOOK_PG_CACHE XDG_CACHE_HOME; HOME=$dir/open run openhome look.md )
said openhome '(initdb; socket in'
[ -z "$(ls -A "$dir/open")" ] || { ls -laR "$dir/open"; fail "a template was kept under a HOME others may write"; }
[ -z "$(ls -A "$dir/tmp")" ] || { ls -la "$dir/tmp"; fail "a run directory was left behind"; }
echo "pg-cache ok"
