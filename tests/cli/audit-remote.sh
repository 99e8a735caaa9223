#!/usr/bin/env bash
# The audit trail beyond one machine (docs/format.md §7, "A team's audit
# trail"): a bare repository as the shared remote and four clones, each
# running five runbooks at once with pushes, signed: the remote ends with
# all twenty records, each once, in a history git reads and verifies; a
# remote that does not exist, or cannot be written, leaves the run's exit
# code alone, warns, and keeps the record here until the next run (or
# `audit push`) pushes it; `audit verify` reports a commit that rewrote an
# earlier record and one pushed unsigned by hand (exit 1); a secret never
# reaches the remote; log --remote lists every machine's runs; a failing
# run's record, a killed run's and a rollout's are pushed too; over HTTP
# (on 127.0.0.1) with a token or git's credential helper; a remote that
# never answers is given up at a deadline or Ctrl-C; signed by the agent;
# over ssh (an sshd on 127.0.0.1) with the agent's key.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
unset RUNBOOK_AUDIT_REPO RUNBOOK_AUDIT_REMOTE RUNBOOK_AUDIT_SIGN RUNBOOK_AUDIT_SIGNING_KEY
dir=$(mktemp -d)
trap 'chattr -R -i "$dir" 2>/dev/null || true; chmod -R u+w "$dir" 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "audit-remote: $*"; exit 1; }
command -v ssh-keygen > /dev/null || { echo "no ssh-keygen: skipped"; exit 77; }

ssh-keygen -q -t ed25519 -N '' -C ops-key -f key
echo "ops@example.com $(cat key.pub)" > allowed
ssh-keygen -q -t ed25519 -N '' -C stranger -f stranger
git init -q --bare remote.git
remote=$dir/remote.git
export RUNBOOK_AUDIT_SIGN=ssh RUNBOOK_AUDIT_SIGNING_KEY=$dir/key
for i in 1 2 3 4 5; do
  printf '# Book %s\n\n```bash {name=work}\necho "book %s on $(basename "$PWD")"\n```\n' "$i" "$i" > "book$i.md"
done
# ids FILE: the run ids of the remote's (or a repository's) audit ref, one a line, into FILE.
ids() { git -C "$1" log --format='%(trailers:key=Run,valueonly,separator=)' runbook-audit | sed '/^$/d' > "$2"; }

# 1. Four clones, five runbooks each at once, every run pushing: twenty records on the remote, each once.
for c in 1 2 3 4; do git init -q "clone$c"; done
for c in 1 2 3 4; do
  for i in 1 2 3 4 5; do
    "$bin" run "book$i.md" --audit-repo "clone$c" --audit-remote "$remote" > "c$c-$i.out" 2>&1 &
  done
done
wait
for f in c*-*.out; do
  grep -q '^Audit: ' "$f" || { cat "$f"; fail "$f: no record"; }
  ! grep -q 'warning' "$f" || { cat "$f"; fail "$f: a push failed"; }
done
ids "$remote" remote.ids
[ "$(wc -l < remote.ids)" = 20 ] && [ -z "$(sort remote.ids | uniq -d)" ] ||
  { cat remote.ids; fail "the remote holds $(wc -l < remote.ids) runs, not 20 once each"; }
git -C "$remote" fsck --strict > fsck.out 2>&1 || { cat fsck.out; fail "git fsck of the remote"; }
[ "$(git -C "$remote" ls-tree -r --name-only runbook-audit | grep -c '/record.json$')" = 20 ] || fail "not 20 record.json files"
# Every record, made again on another's tip or not, is signed: git verifies each commit; runbook verifies too.
for c in $(git -C "$remote" rev-list runbook-audit); do
  git -C "$remote" -c gpg.ssh.allowedSignersFile="$dir/allowed" verify-commit "$c" 2> vc.out ||
    { cat vc.out; fail "git verify-commit $c"; }
done
"$bin" audit verify --audit-repo "$remote" --allowed-signers allowed > verify.out 2>&1 || { cat verify.out; fail "audit verify of the remote"; }
[ "$(grep -c '    signed by ops@example.com' verify.out)" = 20 ] || { cat verify.out; fail "not 20 good signatures"; }
# log --remote from a clone lists every machine's runs.
"$bin" log --remote --audit-repo clone1 --audit-remote "$remote" > log.out
[ "$(grep -c 'Book [1-5]: succeeded' log.out)" = 20 ] || { cat log.out; fail "log --remote does not list the 20 runs"; }

# 2. The remote unreachable (a path that does not exist): the run succeeds, warns, keeps its record here.
git init -q solo
rc=0; "$bin" run book1.md --audit-repo solo --audit-remote "$dir/nowhere.git" > off.out 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "warning: the audit record is committed here but not pushed to $dir/nowhere.git" off.out &&
  grep -q '1 record waits here' off.out || { cat off.out; fail "an unreachable remote: exit $rc"; }
# A failing run's exit code is its own, not the push's.
printf '# Failing\n\n```bash {name=boom}\nexit 3\n```\n\n## Rollback\n\n```bash {name=undo-it}\necho rolled back\n```\n' > failing.md
printf -- '---\non_failure: Rollback\n---\n' | cat - failing.md > failing2.md && mv failing2.md failing.md
rc=0; "$bin" run failing.md --audit-repo solo --audit-remote "$dir/nowhere.git" > off2.out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q '2 records wait here' off2.out && grep -q 'rolled back' off2.out ||
  { cat off2.out; fail "a failing run with an unreachable remote: exit $rc"; }
# The remote back: the next run pushes the three.
git init -q --bare "$dir/nowhere.git"
"$bin" run book2.md --audit-repo solo --audit-remote "$dir/nowhere.git" > back.out 2>&1 || { cat back.out; fail "the remote back"; }
grep -q "Audit remote: 3 commits pushed to $dir/nowhere.git" back.out || { cat back.out; fail "the backlog was not pushed"; }
ids "$dir/nowhere.git" back.ids
[ "$(wc -l < back.ids)" = 3 ] || fail "the remote has $(wc -l < back.ids) runs, not 3"

# 3. A remote that cannot be written: the record waits (`audit push` exit 5); once it can, the next run pushes it with its own.
git init -q --bare ro.git
"$bin" run book3.md --audit-repo solo --audit-remote "$dir/ro.git" > ro0.out 2>&1
if chattr +i ro.git/objects ro.git/refs/heads 2>/dev/null || { [ "$(id -u)" != 0 ] && chmod -R a-w ro.git; }; then
  rc=0; "$bin" run book4.md --audit-repo solo --audit-remote "$dir/ro.git" > ro.out 2>&1 || rc=$?
  [ "$rc" = 0 ] && grep -q "not pushed to $dir/ro.git" ro.out && grep -q '1 record waits here' ro.out ||
    { cat ro.out; fail "a read-only remote: exit $rc"; }
  rc=0; "$bin" audit push --audit-repo solo --audit-remote "$dir/ro.git" > rop.out 2>&1 || rc=$?
  [ "$rc" = 5 ] || { cat rop.out; fail "audit push to a read-only remote: exit $rc"; }
  chattr -i ro.git/objects ro.git/refs/heads 2>/dev/null || chmod -R u+w ro.git
  # Writable again: the next run pushes the record that waited with its own.
  "$bin" run book5.md --audit-repo solo --audit-remote "$dir/ro.git" > rop2.out 2>&1 || { cat rop2.out; fail "the run after"; }
  grep -q "Audit remote: 2 commits pushed" rop2.out || { cat rop2.out; fail "the next run did not push both records"; }
  ids "$dir/ro.git" ro.ids
  [ "$(wc -l < ro.ids)" = 6 ] || fail "the read-only remote, back, has $(wc -l < ro.ids) runs, not 6 (solo's)"
else
  echo "(no way to make a directory read-only here: that case skipped)"
fi

# 4. A run killed with SIGKILL: the next run commits it as interrupted and pushes it with its own.
git init -q --bare k.git
printf '# Slow\n\n```bash {name=wait}\nsleep 30\n```\n' > slow.md
"$bin" run slow.md --audit-repo solo --audit-remote "$dir/k.git" > k1.out 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'Slow › wait' k1.out 2>/dev/null && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
pkill -f 'sleep 30' || true
"$bin" run book5.md --audit-repo solo --audit-remote "$dir/k.git" > k2.out 2>&1 || { cat k2.out; fail "the run after a kill"; }
git -C "$dir/k.git" log --format=%s runbook-audit > k.subjects
grep -q '^Slow: interrupted' k.subjects && grep -q '^Book 5: succeeded' k.subjects || { cat k.subjects; fail "the killed run was not pushed"; }

# 4b. Ctrl-C ends a run: its record is committed, signed and pushed all the same (the Ctrl-C that ended the run
# does not stop its recording).
git init -q --bare c.git
"$bin" run slow.md --audit-repo solo --audit-remote "$dir/c.git" > c1.out 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'Slow › wait' c1.out 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] && grep -q '^Audit remote: .* pushed to' c1.out || { cat c1.out; fail "a Ctrl-C'd run: exit $rc, not pushed"; }
git -C c.git log -1 --format=%s runbook-audit | grep -q '^Slow: interrupted' || fail "the interrupted run is not the remote's newest"
git -C c.git -c gpg.ssh.allowedSignersFile="$dir/allowed" verify-commit runbook-audit 2> /dev/null || fail "the interrupted run's record is not signed"

# 5. Tampering: a commit that rewrites an earlier record, and one pushed unsigned by hand, are reported (exit 1).
git clone -q --branch runbook-audit "$remote" work 2> /dev/null
rec=$(git -C work ls-files | grep 'record.md$' | head -1)
echo "edited afterwards" >> "work/$rec"
git -C work -c user.name=Mallory -c user.email=m@example.com commit -qam "Book 1: succeeded"
git -C work -c user.name=Mallory -c user.email=m@example.com commit -q --allow-empty -m "an unsigned commit"
git -C work push -q origin runbook-audit
rc=0; "$bin" audit verify --audit-repo "$remote" --allowed-signers allowed > tamper.out 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat tamper.out; fail "audit verify of a tampered ref: exit $rc"; }
grep -q "rewrites $rec (an earlier record's file)" tamper.out || { cat tamper.out; fail "the rewritten record not reported"; }
[ "$(grep -c '^    UNSIGNED' tamper.out)" = 2 ] || { cat tamper.out; fail "the unsigned commits not reported"; }
# A commit signed by a key the allowed signers do not list.
git -C work -c user.name=Mallory -c user.email=m@example.com -c gpg.format=ssh -c user.signingkey="$dir/stranger" \
  commit -q -S --allow-empty -m "a stranger's commit"
git -C work push -q origin runbook-audit
rc=0; "$bin" audit verify --audit-repo "$remote" --allowed-signers allowed > stranger.out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "signed by ED25519 key SHA256:.*, a key the allowed signers do not list" stranger.out ||
  { cat stranger.out; fail "a stranger's signature: exit $rc"; }

# 6. Secrets never reach the remote.
git init -q --bare secret.git
cat > secret.md <<'MD'
---
secrets: [API_TOKEN]
---
# Secret

```bash {name=use}
echo "token is $API_TOKEN"
```
MD
API_TOKEN=hunter2-XYZZY-remote "$bin" run secret.md --audit-repo solo --audit-remote "$dir/secret.git" > secret.out 2>&1 ||
  { cat secret.out; fail "the secret runbook"; }
git -C "$dir/secret.git" cat-file --batch-all-objects --batch > objects.txt
! grep -a -q hunter2-XYZZY-remote objects.txt || fail "a secret reached an object of the remote"
! grep -q hunter2-XYZZY-remote secret.out || fail "a secret reached the terminal"

# 7. A rollout pushes once, at its end: its targets' records and its own.
git init -q --bare roll.git
printf 'targets:\n  a: {}\n  b: {}\n' > targets.yaml
"$bin" run book1.md --targets a,b --audit-repo solo --audit-remote "$dir/roll.git" > roll.out 2>&1 || { cat roll.out; fail "the rollout"; }
[ "$(grep -c '^Audit remote: ' roll.out)" = 1 ] || { cat roll.out; fail "not one push for the rollout"; }
git -C "$dir/roll.git" log --format='%(trailers:key=Target,valueonly,separator=)|%s' runbook-audit > roll.subjects
grep -q '^a|Book 1' roll.subjects && grep -q '^b|Book 1' roll.subjects && grep -q '^|Rollout of Book 1: succeeded' roll.subjects ||
  { cat roll.subjects; fail "the rollout's records are not all on the remote"; }

# 8. A signing key that cannot be used stops the run before it starts.
rc=0; RUNBOOK_AUDIT_SIGNING_KEY=$dir/missing-key "$bin" run book1.md --audit-repo solo > nokey.out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q 'the signing key .*missing-key is not a readable file' nokey.out && ! grep -q 'book 1 on' nokey.out ||
  { cat nokey.out; fail "a missing signing key: exit $rc"; }
# 9. Over HTTP (git http-backend behind Basic authentication, on 127.0.0.1): a token from RUNBOOK_AUDIT_TOKEN,
# else git's credential helper; a wrong token or none warns, at once; the token is never shown.
git init -q --bare http-root/audit.git
python3 "$here/lib/git-http.py" port http-root x-access-token:tok-7f3e9a alice:pw-c41d > /dev/null 2>&1 &
servers=$!
python3 "$here/lib/git-http.py" silent-port --silent > /dev/null 2>&1 &
servers="$servers $!"
trap 'kill $servers 2>/dev/null || true; chattr -R -i "$dir" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -s port ] && [ -s silent-port ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat port)/audit.git
git init -q web
export GIT_CONFIG_GLOBAL=$dir/gitconfig
: > gitconfig
RUNBOOK_AUDIT_TOKEN=tok-7f3e9a "$bin" run book1.md --audit-repo web --audit-remote "$url" > h1.out 2>&1 || { cat h1.out; fail "push over http"; }
grep -q "^Audit remote: 1 commit pushed to $url\$" h1.out || { cat h1.out; fail "not pushed with the token"; }
rc=0; RUNBOOK_AUDIT_TOKEN=not-the-token timeout 30 "$bin" run book2.md --audit-repo web --audit-remote "$url" > h2.out 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q 'the remote refused the credentials given' h2.out || { cat h2.out; fail "a wrong token: exit $rc"; }
rc=0; timeout 30 "$bin" run book3.md --audit-repo web --audit-remote "$url" > h3.out 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q 'the remote asks for a user and password' h3.out || { cat h3.out; fail "no credentials: exit $rc"; }
printf 'http://alice:pw-c41d@127.0.0.1:%s\n' "$(cat port)" > creds
printf '[credential]\n\thelper = store --file %s/creds\n' "$dir" > gitconfig
"$bin" audit push --audit-repo web --audit-remote "$url" > h4.out 2>&1 || { cat h4.out; fail "audit push with git's credential helper"; }
grep -q "^Audit remote: 2 commits pushed to $url\$" h4.out || { cat h4.out; fail "the credential helper's push"; }
ids http-root/audit.git http.ids
[ "$(wc -l < http.ids)" = 3 ] || fail "the http remote has $(wc -l < http.ids) runs, not 3"
# plan says where the record goes, signed, the URL's password hidden.
RUNBOOK_AUDIT_REMOTE="http://alice:pw-c41d@127.0.0.1:$(cat port)/audit.git" "$bin" plan book1.md --audit-repo web > plan.out
grep -q "^Audit record: refs/heads/runbook-audit of web.*, under runs/YYYY/MM/DD/, pushed to http://alice:\*\*\*@127.0.0.1:[0-9]*/audit.git, signed (ssh)\$" plan.out ||
  { cat plan.out; fail "plan does not say where the record is pushed"; }
# A password in the remote's URL: used, and shown as ***.
"$bin" run book2.md --audit-repo web --audit-remote "http://alice:pw-c41d@127.0.0.1:$(cat port)/audit.git" > h6.out 2>&1 ||
  { cat h6.out; fail "a URL with its password"; }
grep -q "^Audit remote: 1 commit pushed to http://alice:\*\*\*@127.0.0.1:" h6.out || { cat h6.out; fail "the URL's password"; }
! grep -q -e tok-7f3e9a -e pw-c41d h*.out || fail "a credential was shown"
: > gitconfig

# 10. A remote that accepts and never answers: the push gives up at RUNBOOK_AUDIT_PUSH_TIMEOUT, or at Ctrl-C;
# the run's exit code is its own, the record waits here, no process is left.
silent=http://127.0.0.1:$(cat silent-port)/audit.git
t0=$(date +%s)
rc=0; RUNBOOK_AUDIT_PUSH_TIMEOUT=2 "$bin" run book4.md --audit-repo web --audit-remote "$silent" > hang.out 2>&1 || rc=$?
t1=$(date +%s)
[ "$rc" = 0 ] && grep -q 'the push was stopped: it did not finish in time' hang.out && [ $((t1 - t0)) -lt 10 ] ||
  { cat hang.out; fail "a remote that never answers: exit $rc after $((t1 - t0)) s"; }
"$bin" run book5.md --audit-repo web --audit-remote "$silent" > hang2.out 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^Audit: ' hang2.out 2>/dev/null && break; sleep 0.1; done
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
grep -q 'the push was stopped: it was interrupted' hang2.out || { cat hang2.out; fail "Ctrl-C during a push: exit $rc"; }
! pgrep -f "book5.md --audit-repo web" > /dev/null || fail "a push outlived its run"
RUNBOOK_AUDIT_TOKEN=tok-7f3e9a "$bin" audit push --audit-repo web --audit-remote "$url" > h5.out 2>&1 || { cat h5.out; fail "the backlog over http"; }
ids http-root/audit.git http.ids
[ "$(wc -l < http.ids)" = 6 ] || fail "after the hangs, the http remote has $(wc -l < http.ids) runs, not 6"

# 11. Signed with a key the ssh agent holds (the key named by its public half).
if command -v ssh-agent > /dev/null; then
  eval "$(ssh-agent -s)" > /dev/null
  ssh-add -q key 2> /dev/null
  git init -q agent
  mkdir agentkey && cp key.pub agentkey/
  RUNBOOK_AUDIT_SIGNING_KEY=$dir/agentkey/key.pub "$bin" run book1.md --audit-repo agent > ag.out 2>&1 || { cat ag.out; fail "signing through the agent"; }
  ssh-agent -k > /dev/null
  "$bin" audit verify --audit-repo agent --allowed-signers allowed > ag-verify.out || { cat ag-verify.out; fail "the agent's signature"; }
fi
# 13. A record the remote already holds with other content (two runs with one id): nothing is overwritten;
# the push is refused with a warning naming the file, and the records wait.
git init -q dup
git init -q --bare dup-remote.git
"$bin" run book1.md --audit-repo dup > dup1.out 2>&1
path=$(git -C dup log -1 --name-only --format= runbook-audit | grep record.md)
git init -q dup-work
mkdir -p "dup-work/$(dirname "$path")"
echo "another machine's record" > "dup-work/$path"
git -C dup-work add -A
git -C dup-work -c user.name=Other -c user.email=o@example.com commit -qm "Book 1: succeeded"
git -C dup-work push -q "$dir/dup-remote.git" HEAD:refs/heads/runbook-audit
rc=0; "$bin" run book2.md --audit-repo dup --audit-remote "$dir/dup-remote.git" > dup2.out 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "the audit remote already holds $path, with other content" dup2.out &&
  grep -q '2 records wait here' dup2.out || { cat dup2.out; fail "a clash on the remote: exit $rc"; }
[ "$(git -C dup-remote.git show "runbook-audit:$path")" = "another machine's record" ] || fail "the remote's record was overwritten"

# 12. Over ssh (an sshd of the test's own on 127.0.0.1, its host key in known_hosts): the agent's key pushes;
# an unknown host key and no agent are refused, with a warning.
if [ -x /usr/sbin/sshd ] && [ "$(id -u)" = 0 ]; then
  mkdir -p /run/sshd ssh-home/.ssh
  ssh-keygen -q -t ed25519 -N '' -f hostkey
  ssh-keygen -q -t ed25519 -N '' -f userkey
  cp userkey.pub authorized_keys
  sport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s/hostkey\nAuthorizedKeysFile %s/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile %s/sshd.pid\nPermitRootLogin prohibit-password\n' \
    "$sport" "$dir" "$dir" "$dir" > sshd_config
  /usr/sbin/sshd -f "$dir/sshd_config" -D -e 2> sshd.log &
  servers="$servers $!"
  for _ in $(seq 50); do grep -q 'Server listening' sshd.log && break; sleep 0.1; done
  git init -q --bare ssh-remote.git
  git init -q via-ssh
  surl=ssh://$(id -un)@127.0.0.1:$sport$dir/ssh-remote.git
  eval "$(ssh-agent -s)" > /dev/null
  ssh-add -q userkey 2> /dev/null
  rc=0; HOME=$dir/ssh-home "$bin" run book1.md --audit-repo via-ssh --audit-remote "$surl" > s1.out 2>&1 || rc=$?
  [ "$rc" = 0 ] && grep -q 'invalid or unknown remote ssh hostkey' s1.out || { cat s1.out; fail "an unknown host key: exit $rc"; }
  echo "[127.0.0.1]:$sport $(cut -d' ' -f1,2 hostkey.pub)" > ssh-home/.ssh/known_hosts
  HOME=$dir/ssh-home "$bin" run book2.md --audit-repo via-ssh --audit-remote "$surl" > s2.out 2>&1 || { cat s2.out; fail "push over ssh"; }
  grep -q "^Audit remote: 2 commits pushed to $surl\$" s2.out || { cat s2.out; fail "not pushed over ssh"; }
  ssh-agent -k > /dev/null
  rc=0; HOME=$dir/ssh-home env -u SSH_AUTH_SOCK "$bin" run book3.md --audit-repo via-ssh --audit-remote "$surl" > s3.out 2>&1 || rc=$?
  [ "$rc" = 0 ] && grep -q 'not pushed to' s3.out || { cat s3.out; fail "no agent: exit $rc"; }
  ids ssh-remote.git ssh.ids
  [ "$(wc -l < ssh.ids)" = 2 ] || fail "the ssh remote has $(wc -l < ssh.ids) runs, not 2"
else
  echo "(no sshd, or not root: the ssh case skipped)"
fi
echo "audit-remote ok"
