#!/usr/bin/env python3
"""check.py - checks of a run's HTML report as a browser left it, for
tests/cli/report-browser.sh.

The pages read here are what chromium dumped (--dump-dom) after loading the
report and letting any script run: the DOM, not the file. The markup
contract they rely on is the comment at the top of interpreter/report.c.
Every command prints one line per problem found and exits 1 when there is
any, 0 when there is none; a usage error exits 2.

  check.py page DOM EXPECT JOURNAL LIST RUNID
      the page shows the run: header, every step of LIST (`runbook list`,
      one id a line) once in #document with the status EXPECT gives, one
      timeline bar per `step` event of JOURNAL (the record's journal.log),
      outputs, messages, approvals (EXPECT: NAME.expect, directives below);
      and it is safe (see `safe`). RUNID "-": not checked.
  check.py safe DOM
      no script ran or can run: no data-pwned on the root, one script (the
      page's own: its hash is the one the CSP allows), no on* attribute, no
      javascript: URL, no frame, object, form or base element.
  check.py same DOM_A DOM_B
      the two pages show the same run: result, steps, statuses, bars.
  check.py commit-line COMMITTED SHOWN COMMIT
      two report files (not DOMs) differ in one line only, the audit
      commit's, and SHOWN's names COMMIT while COMMITTED's does not.
  check.py control DOM
      chromium ran the control page's script (the root has data-pwned):
      proof that `safe` would see a script that ran.
  check.py png FILE WIDTH HEIGHT MIN_BYTES
      a PNG of that size, not smaller than MIN_BYTES.

EXPECT directives, one a line ('#' starts a comment; the last field takes
the rest of the line):
  args ARGS...               (read by the shell script: the run's options)
  exit N                     header.run[data-exit]; .run-exit starts with N
  result TEXT                header.run[data-result]
  title TEXT                 the text of .run-title
  step ID STATUS ROLE        section.step[data-step=ID]: data-status, data-role
  attempts ID N              the bar's data-attempts
  bar ID CLASS               the bar has that class
  mark CLASS ID              #timeline has .CLASS[data-step=ID]
  output ID TEXT             TEXT is in the step's details.step-output pre.output
  open ID                    the step's details.step-output is open
  cut ID                     the step's pre.output has an .output-cut
  text ID CLASS TEXT         an element .CLASS in the step (ID "-": in
                             header.run) has TEXT in its text
  doc TEXT                   TEXT is in the text of main#document
  approval ID YES | ITEM | WHO | HOW   an li.approval of the step
"""
import base64
import hashlib
import html.parser
import sys
import urllib.parse

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "param", "source", "track", "wbr"}
NOT_RUN = {"not-reached", "skipped", "fired", "armed"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data",
             "poster", "background", "srcset", "ping"}
FORBIDDEN = {"iframe", "frame", "frameset", "object", "embed", "form",
             "base", "applet", "portal"}


class Node:
    """An element (tag None: the document) with its attributes and children."""

    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = {k: (v if v is not None else "") for k, v in attrs}
        self.children = []
        self.parent = parent

    def classes(self):
        return self.attrs.get("class", "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def all(self, tag=None, cls=None, **attrs):
        """Descendants with that tag, class and attribute values."""
        out = []
        for n in self.walk():
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.classes():
                continue
            if any(n.attrs.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(n)
        return out

    def one(self, tag=None, cls=None, **attrs):
        found = self.all(tag, cls, **attrs)
        return found[0] if len(found) == 1 else None

    def inside(self, node):
        p = self.parent
        while p is not None and p is not node:
            p = p.parent
        return p is node


class Builder(html.parser.HTMLParser):
    """Builds the tree of the (well-formed) markup chromium serializes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node(None, [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def load(path):
    b = Builder()
    with open(path, encoding="utf-8") as f:
        b.feed(f.read())
    b.close()
    return b.root


class Problems:
    def __init__(self, what):
        self.what = what
        self.list = []

    def __call__(self, msg):
        self.list.append(msg)

    def finish(self):
        for m in self.list:
            print(f"{self.what}: {m}")
        return 1 if self.list else 0


def safe(root, bad):
    """The checks of `safe`, on a loaded page."""
    html_el = root.one("html")
    if html_el is None:
        bad("no single <html> element")
        return
    if "data-pwned" in html_el.attrs:
        bad(f"a script ran: <html data-pwned=\"{html_el.attrs['data-pwned']}\">")
    scripts = root.all("script")
    csp = [m.attrs.get("content", "") for m in root.all("meta")
           if m.attrs.get("http-equiv", "").lower() == "content-security-policy"]
    if len(csp) != 1 or "default-src 'none'" not in csp[0]:
        bad(f"expected one Content-Security-Policy with default-src 'none', found {csp}")
    if len(scripts) != 1:
        bad(f"{len(scripts)} script elements, expected 1 (the page's own): "
            + " | ".join(s.text()[:80] for s in scripts))
    for s in scripts:
        body = s.text()
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        if not s.inside(root.one("head") or root) or "beforeprint" not in body:
            bad(f"a script that is not the report's: {body[:120]!r}")
        elif csp and f"'sha256-{digest}'" not in csp[0]:
            bad(f"the script's hash sha256-{digest} is not the one the CSP allows")
        if "src" in s.attrs:
            bad(f"a script with src={s.attrs['src']!r}")
    for n in root.walk():
        for k, v in n.attrs.items():
            if k.startswith("on"):
                bad(f"<{n.tag} {k}={v[:80]!r}>: an event handler attribute")
            if k == "srcdoc":
                bad(f"<{n.tag} srcdoc=...>")
            url = "".join(ch for ch in v if ch > " ").lower()
            if k in URL_ATTRS and url.startswith(("javascript:", "vbscript:", "data:text/html")):
                bad(f"<{n.tag} {k}={v[:80]!r}>: a script URL")
        if n.tag in FORBIDDEN:
            bad(f"a <{n.tag}> element")
        if n.tag == "meta" and n.attrs.get("http-equiv", "").lower() == "refresh":
            bad("a <meta http-equiv=refresh>")


def journal_steps(path):
    """[(id, role)] of the journal's `step` events, and {id: attempts} of its `end` events."""
    steps, attempts = [], {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            kv = dict(x.split("=", 1) for x in fields[1:] if "=" in x)
            get = lambda k, d="": urllib.parse.unquote(kv.get(k, d))
            if fields[0] == "step":
                steps.append((get("id"), get("role", "main")))
            elif fields[0] == "end":
                attempts[get("id")] = get("attempts", "1")
    return steps, attempts


def read_expect(path):
    """The directives of an EXPECT file: [(line number, word, rest)]."""
    out = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            out.append((no, word, rest))
    return out


def check_header(root, exp, runid, bad):
    head = root.one("header", "run")
    if head is None:
        bad("no single header.run")
        return
    if runid != "-":
        rid = head.one(cls="run-id")
        if rid is None or rid.text().strip() != runid:
            bad(f"header .run-id is {rid.text().strip() if rid else None!r}, expected {runid!r}")
        title = root.one("title")
        if title is None or runid not in title.text():
            bad(f"the <title> does not name the run {runid}")
    for _, word, rest in exp:
        if word == "exit":
            if head.attrs.get("data-exit") != rest:
                bad(f"header data-exit={head.attrs.get('data-exit')!r}, expected {rest!r}")
            ex = head.one(cls="run-exit")
            if ex is None or not ex.text().strip().startswith(rest + " "):
                bad(f"header .run-exit is {ex.text() if ex else None!r}, expected it to start with {rest}")
        elif word == "result" and head.attrs.get("data-result") != rest:
            bad(f"header data-result={head.attrs.get('data-result')!r}, expected {rest!r}")
        elif word == "title":
            t = head.one(cls="run-title")
            if t is None or t.text().strip() != rest:
                bad(f".run-title is {t.text() if t else None!r}, expected {rest!r}")


def check_document(root, exp, ids, bad):
    """Every step of the runbook once in #document, with its status and role."""
    doc = root.one("main", id="document")
    if doc is None:
        bad("no single main#document")
        return {}
    everywhere = [s for s in root.all("section", "step")]
    in_doc = [s for s in everywhere if s.inside(doc)]
    if len(everywhere) != len(in_doc):
        bad(f"{len(everywhere) - len(in_doc)} section.step outside #document: "
            + " ".join(s.attrs.get("data-step", "?") for s in everywhere if not s.inside(doc)))
    seen = {}
    for s in in_doc:
        sid = s.attrs.get("data-step")
        if sid in seen:
            bad(f"step {sid} is in #document twice")
        seen[sid] = s
    if sorted(seen) != sorted(ids):
        bad(f"#document has steps {sorted(seen)}, the runbook has {sorted(ids)}")
    expected = {rest.split()[0]: rest.split() for _, w, rest in exp if w == "step"}
    if sorted(expected) != sorted(ids):
        bad(f"the expectations name steps {sorted(expected)}, the runbook has {sorted(ids)}")
    for sid, (_, status, role) in expected.items():
        s = seen.get(sid)
        if s is None:
            continue
        if s.attrs.get("data-status") != status:
            bad(f"step {sid}: data-status={s.attrs.get('data-status')!r}, expected {status!r}")
        if s.attrs.get("data-role") != role:
            bad(f"step {sid}: data-role={s.attrs.get('data-role')!r}, expected {role!r}")
        if f"st-{status}" not in s.classes():
            bad(f"step {sid}: no class st-{status}")
    return seen


def check_timeline(root, exp, sections, journal, bad):
    """One bar per `step` event of the record, in its order, agreeing with the document."""
    events, attempts = journal
    tl = root.one("section", id="timeline")
    if tl is None:
        bad("no single section#timeline")
        return {}
    bars = root.all("a", "tl-bar")
    if any(not b.inside(tl) for b in bars):
        bad("an a.tl-bar outside #timeline")
    got = [(b.attrs.get("data-step"), b.attrs.get("data-role")) for b in bars]
    if got != events:
        bad(f"timeline bars {got} != the record's step events {events}")
    for b in bars:
        sid = b.attrs.get("data-step")
        s = sections.get(sid)
        if s is None:
            bad(f"bar {sid}: no such step in #document")
            continue
        if b.attrs.get("href") != "#" + s.attrs.get("id", "?"):
            bad(f"bar {sid}: href={b.attrs.get('href')!r}, the step's id is {s.attrs.get('id')!r}")
        if b.attrs.get("data-status") != s.attrs.get("data-status"):
            bad(f"bar {sid}: data-status={b.attrs.get('data-status')!r}, "
                f"the step's is {s.attrs.get('data-status')!r}")
        if b.attrs.get("data-attempts") != attempts.get(sid, "1"):
            bad(f"bar {sid}: data-attempts={b.attrs.get('data-attempts')!r}, "
                f"the record says {attempts.get(sid, '1')}")
    ran = sorted(rest.split()[0] for _, w, rest in exp if w == "step" and rest.split()[1] not in NOT_RUN)
    if sorted(set(b.attrs.get("data-step") for b in bars)) != ran:
        bad(f"bars for {sorted(set(b.attrs.get('data-step') for b in bars))}, the steps that ran are {ran}")
    return {b.attrs.get("data-step"): b for b in bars}


def check_step_detail(root, word, rest, sections, bars, bad):
    """One directive about a step's decoration."""
    args = rest.split(" ", 2)
    sid = args[0]
    s = sections.get(sid)
    if word in ("output", "open", "cut") and s is not None:
        det = s.all("details", "step-output")
        pre = det[0].one("pre", "output") if det else None
        if pre is None:
            bad(f"step {sid}: no details.step-output pre.output")
        elif word == "output" and rest.split(" ", 1)[1] not in pre.text():
            bad(f"step {sid}: {rest.split(' ', 1)[1]!r} is not in its output {pre.text()[:200]!r}")
        elif word == "open" and "open" not in det[0].attrs:
            bad(f"step {sid}: its output is not open")
        elif word == "cut" and not pre.all(cls="output-cut"):
            bad(f"step {sid}: its output has no .output-cut")
    elif word == "text":
        where = root.one("header", "run") if sid == "-" else s
        hits = where.all(cls=args[1]) if where is not None else []
        if not any(args[2] in h.text() for h in hits):
            bad(f"{'header' if sid == '-' else 'step ' + sid}: no .{args[1]} with {args[2]!r} "
                f"(found {[h.text()[:120] for h in hits]})")
    elif word == "attempts":
        b = bars.get(sid)
        if b is None or b.attrs.get("data-attempts") != args[1]:
            bad(f"bar {sid}: data-attempts={b.attrs.get('data-attempts') if b else None!r}, expected {args[1]}")
    elif word == "bar":
        b = bars.get(sid)
        if b is None or args[1] not in b.classes():
            bad(f"bar {sid}: no class {args[1]}")
    elif word == "approval" and s is not None:
        want = [x.strip() for x in rest.split(" ", 1)[1].split("|")]
        got = [[li.attrs.get("data-approved")] + [(li.one(cls=c).text().strip() if li.one(cls=c) else None)
                                                   for c in ("approval-item", "approval-who", "approval-how")]
               for li in s.all("li", "approval")]
        if want not in got:
            bad(f"step {sid}: no approval {want} (found {got})")
    elif s is None:
        bad(f"{word} {sid}: no such step")


def cmd_page(dom, expect, journal, listfile, runid):
    bad = Problems(dom)
    root = load(dom)
    exp = read_expect(expect)
    with open(listfile, encoding="utf-8") as f:
        ids = [x.strip() for x in f if x.strip()]
    safe(root, bad)
    h = root.one("html")
    if h is None or h.attrs.get("data-format") != "runbook-report/1":
        bad("<html data-format> is not runbook-report/1")
    check_header(root, exp, runid, bad)
    sections = check_document(root, exp, ids, bad)
    bars = check_timeline(root, exp, sections, journal_steps(journal), bad)
    doc = root.one("main", id="document")
    for no, word, rest in exp:
        if word in ("output", "open", "cut", "text", "attempts", "bar", "approval"):
            check_step_detail(root, word, rest, sections, bars, bad)
        elif word == "mark":
            cls, sid = rest.split()
            tl = root.one("section", id="timeline")
            if tl is None or not tl.all(cls=cls, data_step=sid):
                bad(f"#timeline has no .{cls}[data-step={sid}]")
        elif word == "doc" and (doc is None or rest not in doc.text()):
            bad(f"{rest!r} is not in the text of #document")
        elif word not in ("args", "exit", "result", "title", "step", "doc"):
            bad(f"{expect}:{no}: unknown directive {word!r}")
    return bad.finish()


def summary(root):
    head = root.one("header", "run")
    return {
        "header": (head.attrs.get("data-exit"), head.attrs.get("data-result")) if head else None,
        "steps": [tuple(s.attrs.get(k) for k in ("data-step", "data-status", "data-role", "data-kind"))
                  for s in root.all("section", "step")],
        "bars": [tuple(b.attrs.get(k) for k in ("data-step", "data-status", "data-role", "data-attempts"))
                 for b in root.all("a", "tl-bar")],
        "approvals": [li.attrs.get("data-approved") for li in root.all("li", "approval")],
    }


def cmd_same(a, b):
    bad = Problems(f"{a} vs {b}")
    ra, rb = load(a), load(b)
    safe(ra, bad)
    safe(rb, bad)
    sa, sb = summary(ra), summary(rb)
    for k in sa:
        if sa[k] != sb[k]:
            bad(f"{k} differ: {sa[k]} != {sb[k]}")
    if not sa["steps"]:
        bad("no steps at all")
    return bad.finish()


def cmd_commit_line(committed, shown, commit):
    bad = Problems(f"{committed} vs {shown}")
    with open(committed, encoding="utf-8") as f:
        a = f.read().split("\n")
    with open(shown, encoding="utf-8") as f:
        b = f.read().split("\n")
    if len(a) != len(b):
        bad(f"{len(a)} lines against {len(b)}")
    diff = [(x, y) for x, y in zip(a, b) if x != y]
    if len(diff) != 1:
        bad(f"{len(diff)} lines differ, expected 1 (the audit commit's): {diff[:3]}")
    for x, y in diff:
        if 'class="run-commit"' not in x or 'class="run-commit"' not in y:
            bad(f"a line that is not the audit commit's differs: {x[:160]!r} / {y[:160]!r}")
        if commit not in y or commit in x:
            bad(f"the shown page should name {commit}, the committed one cannot: {x!r} / {y!r}")
    return bad.finish()


def cmd_png(path, width, height, min_bytes):
    bad = Problems(path)
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        bad("not a PNG")
    else:
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if (w, h) != (int(width), int(height)):
            bad(f"{w}x{h}, expected {width}x{height}")
    if len(data) < int(min_bytes):
        bad(f"{len(data)} bytes: too small to show a report (at least {min_bytes})")
    return bad.finish()


def main(argv):
    cmds = {"page": (cmd_page, 5), "same": (cmd_same, 2), "commit-line": (cmd_commit_line, 3),
            "png": (cmd_png, 4), "safe": (None, 1), "control": (None, 1)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "safe":
        bad = Problems(argv[2])
        safe(load(argv[2]), bad)
        return bad.finish()
    if argv[1] == "control":
        h = load(argv[2]).one("html")
        if h is None or h.attrs.get("data-pwned") != "control":
            print(f"{argv[2]}: the control page's script did not run: the browser runs no script, "
                  "so the safety checks would prove nothing")
            return 1
        return 0
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
