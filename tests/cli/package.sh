#!/usr/bin/env bash
# The Debian package (make package, which make test runs first): extracted
# with dpkg-deb -x into a scratch root (nothing installed), its binary runs
# a packaged example whose gate requires a shipped Lua helper, found beside
# the binary (../share/runbook/lua: without it the gate cannot load it);
# dpkg-deb -I shows Depends: on libcmark, libpq, liblua5.4 and libgit2; the
# man page, the completions and the docs are where each tool looks.
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:?}
deb=$(ls "$src"/build-package/runbook_*.deb 2> /dev/null | head -1 || true)
if [ -z "$deb" ]; then
  echo "no package in $src/build-package: make package (make test makes it first)"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "package: $*"; exit 1; }
dpkg-deb -I "$deb" > "$dir/info" || fail "dpkg-deb -I $deb"
depends=$(sed -n 's/^ Depends: //p' "$dir/info")
for lib in libcmark libpq liblua5.4 libgit2; do
  grep -q "$lib" <<< "$depends" || fail "Depends: lacks $lib: $depends"
done
dpkg-deb -x "$deb" "$dir/root"
root=$dir/root/usr
for f in bin/runbook share/man/man1/runbook.1 share/runbook/lua/window.lua share/bash-completion/completions/runbook \
         share/zsh/vendor-completions/_runbook share/fish/vendor_completions.d/runbook.fish share/doc/runbook/format.md \
         share/doc/runbook/examples/gates.md; do
  [ -e "$root/$f" ] || fail "the package has no /usr/$f"
done
"$root/bin/runbook" --version > "$dir/version" || fail "the packaged binary does not start"
grep -q '^runbook [0-9]' "$dir/version" && grep -q 'libgit2' "$dir/version" || { cat "$dir/version"; fail "--version"; }
cd "$dir"
unset RUNBOOK_LUA_PATH
"$root/bin/runbook" run --no-audit "$root/share/doc/runbook/examples/gates.md" > run.out 2>&1 ||
  { cat run.out; fail "the packaged binary on examples/gates.md"; }
grep -q 'both gates are open' run.out || { cat run.out; fail "the example did not run through"; }
# The helper came from the extracted tree: without it, require fails.
mv "$root/share/runbook/lua" "$dir/lua.away"
rc=0; "$root/bin/runbook" run --no-audit "$root/share/doc/runbook/examples/gates.md" > run2.out 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "module 'window' not found" run2.out || { cat run2.out; fail "the helper was found elsewhere: exit $rc"; }
# The packaged completion script completes.
bash -c ". '$root/share/bash-completion/completions/runbook'; COMP_WORDS=(runbook pl); COMP_CWORD=1; _runbook; echo \"\${COMPREPLY[*]}\"" > comp.out
[ "$(cat comp.out)" = plan ] || fail "the packaged completion: $(cat comp.out)"
man -l "$root/share/man/man1/runbook.1" > /dev/null 2>&1 || ! command -v man > /dev/null || fail "the man page does not render"
echo "package ok"
