#!/usr/bin/env python3
"""Find import cycles between the parts of each crate under crates/.

A module and its submodules are one unit: the parent owns its children, and
a child that uses `super::Item` is using its owner, which is ordinary Rust,
not a layering problem.  What matters is a cycle between units that neither
contains the other (`container` uses `volumes` and `volumes` uses
`container`): a change in one then ripples into the other and back, and
neither can be understood, tested or moved on its own.  So the script
builds the module graph, resolves re-exports, drops every edge between a
module and its own ancestor or descendant, lifts the rest to the level
where the two sides part, and reports the cycles left.

Rules (a pragmatic tokenizer, not a Rust compiler):

* Modules are found by following `mod x;` declarations from the crate root
  (src/lib.rs, else src/main.rs): `x.rs` or `x/mod.rs` next to a mod.rs-style
  file, `<file>/x.rs` next to a non-mod.rs file, or the `#[path = ...]` file.
  tests/, benches/ and examples/ are never read.  Inline `mod x { ... }`
  blocks belong to the file's module (but `super::` inside them is resolved
  from the inline module, as rustc does).
* Comments (nested block and doc comments too) and string/char literals are
  dropped.  Any item marked exactly `#[cfg(test)]` (a `mod tests { ... }`, a
  `mod tests;` declaration, a test helper) is skipped, as is a file starting
  with `#![cfg(test)]`.
* Module A references module B when A's code holds a path (in a `use`,
  `pub use`, grouped `use a::{b, c::{d}}`, or an expression/type) that
  starts with `crate::`, `$crate::`, `self::`, `super::`, a child module
  declared in the current scope, or a name bound by a `use`, and whose
  longest module prefix is B (a called `a::f(..)`/`a::m!` ends in an item,
  so it can not name a module `a::f`).  `mod child;` itself is not a
  reference; references to oneself are dropped.
* Re-exports lead to the defining module.  When the name after that prefix
  is brought into B by a module-level `use` (a `pub use` / `pub(crate) use`
  re-export, or a private `use`, which B's own submodules can see), the path
  continues from what that `use` names, up to 8 steps, so with lib.rs
  holding `pub use error::{Error, ErrorKind};` a `use crate::Error` references
  `error`, not the crate root.  A name B neither defines nor imports by name
  is looked up through B's glob imports (`pub use foo::*` leads to `foo` when
  `foo` defines or re-exports it).  A name re-exported from another crate
  (`pub use serde_json::Value;`) is no reference inside this crate.
* A reference between a module and its own ancestor or descendant is
  dropped: the two are one unit (`container::links` using `super::X`, or
  `container` using `links::Y`).
* Every other reference A -> B is lifted to the children of the lowest
  common ancestor of A and B: A is replaced by its ancestor-or-self that is a
  direct child of that ancestor, B likewise.  So `container::links ->
  volumes` counts as `container -> volumes`, while `build::run ->
  build::stage` stays as it is (siblings under `build`).  Each lifted edge
  keeps the file:line of the first reference that lifted to it.
* Cycles are the strongly connected components (Tarjan) of more than one
  unit in the lifted graph; every edge inside one is printed with its
  file:line.  `--pairs` reports only direct two-way pairs in that graph.

Exit status: 1 if any cycle (or pair, with --pairs) exists, else 0.
Usage: scripts/module-cycles.py [--crate NAME] [--pairs] [--root DIR]
"""
import argparse
import os
import re
import sys

TOKEN = re.compile(r"""
    (?P<ws>\s+) | (?P<line>//[^\n]*) | (?P<block>/\*)
  | (?P<raw>b?r\#*")
  | (?P<str>b?"(?:\\.|[^"\\])*")
  | (?P<char>b?'(?:\\(?:u\{[0-9a-fA-F]*\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])')
  | (?P<life>'[A-Za-z_]\w*)
  | (?P<ident>r\#[A-Za-z_]\w*|\$?[A-Za-z_]\w*)
  | (?P<num>\d\w*) | (?P<path>::) | (?P<punct>.)
""", re.X | re.S)
BLOCK = re.compile(r"/\*|\*/")
OPEN, CLOSE = ("(", "[", "{"), (")", "]", "}")
IDENT = re.compile(r"\$?[A-Za-z_]\w*$")
DEFINES = {"fn", "struct", "enum", "union", "trait", "type", "const", "static",
           "mod"}                              # item keywords followed by a name
ITEM_WORDS = {"fn", "impl", "struct", "enum", "mod", "use", "const", "static",
              "type", "trait", "pub", "unsafe", "async", "extern", "macro_rules"}


def tokenize(text):
    """Return [(token, line, literal)]: no comments, literals as '"<str>"'."""
    toks, pos, line = [], 0, 1
    while pos < len(text):
        m = TOKEN.match(text, pos)
        kind, start = m.lastgroup, pos
        pos = m.end()
        if kind == "block":                      # nested /* */ comments
            depth, pos = 1, len(text)
            for b in BLOCK.finditer(text, m.end()):
                depth += 1 if b.group() == "/*" else -1
                if depth == 0:
                    pos = b.end()
                    break
        elif kind == "raw":                      # r#"..."#
            close = '"' + "#" * m.group().count("#")
            end = text.find(close, pos)
            pos = len(text) if end < 0 else end + len(close)
            toks.append(('"<str>"', line, text[start:pos]))
        elif kind in ("str", "char"):
            toks.append(('"<str>"', line, m.group()))
        elif kind not in ("ws", "line", "life"):
            toks.append((m.group(), line, None))
        line += text.count("\n", start, pos)
    return toks


def skip_item(toks, j, ends):
    """Index after the item (attribute, field, ...) at toks[j] ending in `ends`."""
    depth = 0
    while j < len(toks):
        t = toks[j][0]
        if t in CLOSE and depth == 0:
            break                                # attribute on a last expression
        depth += (t in OPEN) - (t in CLOSE)
        j += 1
        if depth == 0 and t in ends:
            break
    return j


def drop_cfg_test(toks):
    """Remove every item carrying exactly #[cfg(test)]; None if the file does."""
    pat = ["#", "[", "cfg", "(", "test", ")", "]"]
    if [t[0] for t in toks[:8]] == pat[:1] + ["!"] + pat[1:]:
        return None
    out, i = [], 0
    while i < len(toks):
        if [t[0] for t in toks[i:i + 7]] != pat:
            out.append(toks[i])
            i += 1
            continue
        j = i + 7
        while toks[j:j + 1] and toks[j][0] == "#":  # further attributes
            j = skip_item(toks, j, ("]",))
        item = toks[j:j + 1] and toks[j][0] in ITEM_WORDS  # else a field, arm...
        i = skip_item(toks, j, (";", "}") if item else (";", "}", ","))
    return out


def scoped(mod, toks):
    """Yield (index, token, scope, top): scope is the inline module a token is
    in, top whether the token is at that module's item level (in no body)."""
    scopes, depth = [(mod, -1)], 0
    for i, (t, _, _) in enumerate(toks):
        yield i, t, scopes[-1][0], depth == scopes[-1][1] + 1
        if t == "mod" and i + 2 < len(toks) and toks[i + 2][0] == "{":
            scopes.append((scopes[-1][0] + (toks[i + 1][0],), depth))
        depth += (t == "{") - (t == "}")
        if t == "}" and depth == scopes[-1][1]:
            scopes.pop()


class Crate:
    def __init__(self, name, src):
        self.name = name
        self.known = {}      # module path (tuple), incl. inline mods -> file module
        self.children = {}   # scope path -> names of the modules it declares
        self.files = {}      # file module -> (path, tokens, source lines)
        self.defines = {}    # scope path -> names of the items it defines
        self.uses = {}       # scope path -> {name bound by a `use`: full path
        #                      it names, or None outside the crate}
        self.exports = {}    # the same, for module-level `use`s only
        self.globs = {}      # scope path -> modules of its module-level `use x::*`
        for root in ("lib.rs", "main.rs"):
            if os.path.exists(os.path.join(src, root)):
                self.load(os.path.join(src, root), (), True)
                break

    def load(self, path, mod, modrs_style):
        """Read one module file, then the files of the modules it declares."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        toks = drop_cfg_test(tokenize(text))
        if toks is None:
            return
        self.files[mod] = (path, toks, text.splitlines())
        self.known[mod] = mod
        base = os.path.dirname(path) if modrs_style else path[:-3]
        attr_path = None
        for i, t, scope, top in scoped(mod, toks):
            nxt = [x[0] for x in toks[i + 1:i + 3]] + ["", ""]
            if t == "path" and toks[i - 1][0] == "[" and nxt[0] == "=" and toks[i + 2][2]:
                attr_path = toks[i + 2][2][1:-1]  # #[path = "file.rs"]
            if top and t == "macro_rules" and nxt[0] == "!":
                self.defines.setdefault(scope, set()).add(nxt[1])
            elif top and t in DEFINES and IDENT.match(nxt[0]) and nxt[0] not in ITEM_WORDS:
                self.defines.setdefault(scope, set()).add(nxt[0])
            if t != "mod" or not IDENT.match(nxt[0]) or nxt[1] not in ("{", ";"):
                continue
            self.children.setdefault(scope, set()).add(nxt[0])
            child = scope + (nxt[0],)
            if nxt[1] == "{":
                self.known[child] = mod
                continue
            inner = os.path.join(base, *scope[len(mod):])
            cands = ([(os.path.join(os.path.dirname(path), attr_path), True)] if attr_path
                     else [(os.path.join(inner, nxt[0] + ".rs"), False),
                           (os.path.join(inner, nxt[0], "mod.rs"), True)])
            for file, modrs in cands:
                if os.path.exists(file):
                    self.load(file, child, modrs)
                    break
            attr_path = None

    def resolve(self, segs, scope, call=False):
        """Return (file module, full path) a path names, or None."""
        first, rest = segs[0], list(segs[1:])
        if first in ("crate", "$crate"):
            base = ()
        elif first in ("self", "super"):
            base, rest = scope, [first] + rest
        elif first in self.children.get(scope, ()):
            base = scope + (first,)
        elif first in self.uses.get(scope, {}):
            base = self.uses[scope][first]        # a name bound by a `use`
            if base is None:
                return None                      # ... from another crate
        else:
            return None                          # extern crate, local item, ...
        while rest and rest[0] in ("self", "super"):
            if rest.pop(0) == "super":
                if not base:
                    return None
                base = base[:-1]
        return self.follow(base + tuple(rest), call)

    def follow(self, full, call):
        """Resolve a full path through re-exports: (file module, path) or None."""
        for _ in range(8):                       # a few re-export steps
            n = next((n for n in range(len(full) - call, -1, -1)
                      if full[:n] in self.known), None)  # longest module prefix
            if n is None:
                return None
            mod = full[:n]
            if n == len(full) or full[n] in self.defines.get(mod, ()):
                break                            # a module, or defined in it
            target = self.exports.get(mod, {}).get(full[n], mod + full[n:n + 1])
            if target is None:
                return None                      # re-exported from another crate
            if target == full[:n + 1]:           # not imported by name: a glob?
                target = next((g + full[n:n + 1] for g in self.globs.get(mod, ())
                               if self.provides(g, full[n], set())), None)
                if target is None:
                    break
            full = target + full[n + 1:]
        n = next(n for n in range(len(full) - call, -1, -1) if full[:n] in self.known)
        return self.known[full[:n]], full

    def provides(self, mod, name, seen):
        """Whether module `mod` defines or imports `name` (also via globs)."""
        if mod in seen:
            return False
        seen.add(mod)
        return (name in self.defines.get(mod, ()) or name in self.exports.get(mod, {})
                or any(self.provides(g, name, seen) for g in self.globs.get(mod, ())))

    def edges(self):
        """Return {(from, to): (file, line, source text)} between file modules,
        in the order first met (files in load order, then by position)."""
        for _ in range(10):                      # learn `use` bindings until stable
            before = (repr(self.uses), repr(self.exports), repr(self.globs))
            for mod, (path, toks, lines) in self.files.items():
                for scope, segs, alias, call, line, top in self.paths(mod, toks):
                    hit = self.resolve(segs, scope, call)
                    full = hit[1] if hit else None
                    if alias == "*":
                        if top and full in self.known and full not in self.globs.get(scope, []):
                            self.globs.setdefault(scope, []).append(full)
                    elif alias:
                        if full is None and self.uses.get(scope, {}).get(alias):
                            continue             # keep what an earlier sweep found
                        self.uses.setdefault(scope, {})[alias] = full
                        if top:
                            self.exports.setdefault(scope, {})[alias] = full
            if before == (repr(self.uses), repr(self.exports), repr(self.globs)):
                break
        found = {}
        for mod, (path, toks, lines) in self.files.items():
            for scope, segs, alias, call, line, top in self.paths(mod, toks):
                hit = self.resolve(segs, scope, call)
                if hit and hit[0] != mod and (mod, hit[0]) not in found:
                    found[(mod, hit[0])] = (path, line, lines[line - 1].strip())
        return found

    def paths(self, mod, toks):
        """Yield (scope, segments, use-alias, is-call, line, at-module-level)
        for each path; a glob `use a::*` has segments `a` and alias `*`."""
        skip = 0
        for i, t, scope, top in scoped(mod, toks):
            if i < skip:
                continue
            if t == "use":
                leaves, skip = parse_use(toks, i + 1, [])
                for segs, alias, line in leaves:
                    if segs and segs[0] != "::":
                        yield scope, segs, alias, False, line, top
            elif (IDENT.match(t) and toks[i + 1:i + 2] and toks[i + 1][0] == "::"
                  and (i == 0 or toks[i - 1][0] not in ("::", "."))
                  and not (toks[i - 1][0] == "in" and toks[i - 2][0] == "(")):
                segs, skip = [t], i + 1              # a path outside a `use`
                while toks[skip:skip + 2] and toks[skip][0] == "::" \
                        and IDENT.match(toks[skip + 1][0]):
                    segs.append(toks[skip + 1][0])
                    skip += 2
                call = toks[skip:skip + 1] and toks[skip][0] in ("(", "!")
                yield scope, segs, None, bool(call), toks[i][1], False


def parse_use(toks, i, prefix):
    """Parse a use tree at toks[i]; return ([(segments, alias, line)], next i)."""
    segs, out = list(prefix), []
    if i < len(toks) and toks[i][0] == "::":
        segs, i = segs or ["::"], i + 1          # `use ::x` is an extern path
    while i < len(toks):
        t, line, _ = toks[i]
        if t == "{":                             # a group: `a::{b, c::{d, e}}`
            i += 1
            while i < len(toks) and toks[i][0] not in ("}", ";"):
                sub, j = parse_use(toks, i, segs)
                out, i = out + sub, max(j, i + 1)
                if i < len(toks) and toks[i][0] == ",":
                    i += 1
            return out, i + 1
        if t == "*":
            return out + [(segs, "*", line)], i + 1
        if not IDENT.match(t):
            return out, i
        segs, i = segs + [t], i + 1
        if i < len(toks) and toks[i][0] == "::":
            i += 1
            continue
        alias = t
        if i + 1 < len(toks) and toks[i][0] == "as":
            alias, i = toks[i + 1][0], i + 2
        if segs[-1] == "self":                   # `a::{self, b}` names `a`
            segs = segs[:-1]
            alias = segs[-1] if alias == "self" and segs else alias
        return out + [(segs, None if alias == "_" else alias, line)], i
    return out, i


def tarjan(nodes, succ):
    """Strongly connected components of the graph, in discovery order."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(succ.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:               # v roots a component: pop it
            at = stack.index(v)
            comps.append(sorted(stack[at:]))
            on.difference_update(stack[at:])
            del stack[at:]

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def name(mod):
    return "::".join(mod) or "crate"


def lift(edges):
    """Drop edges between a module and its ancestor or descendant; lift the
    rest to the children of the two ends' lowest common ancestor.  Returns
    {(unit, unit): evidence}, keeping the first evidence of each lifted edge."""
    lifted = {}
    for (a, b), where in edges.items():
        k = 0
        while k < min(len(a), len(b)) and a[k] == b[k]:
            k += 1
        if k == len(a) or k == len(b):
            continue                             # one contains the other
        lifted.setdefault((a[:k + 1], b[:k + 1]), where)
    return lifted


def report(crate, root, pairs_only):
    """Print the crate's summary and its cycles; return how many were found."""
    refs = crate.edges()
    edges, succ = lift(refs), {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)

    def evidence(a, b):
        path, line, src = edges[(a, b)]
        return f"    {name(a)} -> {name(b)}: {os.path.relpath(path, root)}:{line}: {src}"

    out = []
    if pairs_only:
        pairs = sorted((a, b) for a, b in edges if a < b and (b, a) in edges)
        for a, b in pairs:
            out += [f"  {name(a)} <-> {name(b)}", evidence(a, b), evidence(b, a)]
        found, what = len(pairs), "pairs"
    else:
        nodes = {v for e in edges for v in e}
        comps = [c for c in tarjan(nodes, succ) if len(c) > 1]
        for n, comp in enumerate(comps, 1):
            out.append(f"  cycle {n} ({len(comp)} units): {', '.join(map(name, comp))}")
            out += [evidence(a, b) for a, b in sorted(edges)
                    if a in comp and b in comp]
        found, what = len(comps), "cycles"
    print(f"crate {crate.name}: {len(crate.files)} modules, {len(refs)} module edges, "
          f"{len(edges)} edges between units, {found} {what}")
    for line in out:
        print(line)
    return found


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crate", help="check only this crate (directory name)")
    ap.add_argument("--pairs", action="store_true",
                    help="report only direct two-way pairs (A imports B, B imports A)")
    ap.add_argument("--root", default=here, help="workspace root (default: %(default)s)")
    args = ap.parse_args()
    crates_dir = os.path.join(args.root, "crates")
    names = sorted(d for d in os.listdir(crates_dir)
                   if os.path.isdir(os.path.join(crates_dir, d, "src")))
    if args.crate:
        if args.crate not in names:
            sys.exit(f"no crate {args.crate!r} under {crates_dir}")
        names = [args.crate]
    total = sum(report(Crate(n, os.path.join(crates_dir, n, "src")), args.root, args.pairs)
                for n in names)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
