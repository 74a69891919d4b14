#!/usr/bin/env python3
"""Find import cycles between the modules of each crate under crates/.

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
* Module A imports module B when A's code holds a path (in a `use`, `pub use`,
  grouped `use a::{b, c::{d}}`, or an expression/type) that starts with
  `crate::`, `$crate::`, `self::`, `super::`, a child module declared in the
  current scope, or a name bound by a `use` to a module, and whose longest
  module prefix is B.  `crate::X` with X defined in lib.rs imports the root.
  `mod child;` itself is not an import; self-edges are dropped.
* Cycles are the strongly connected components (Tarjan) of more than one
  module; every edge inside one is printed with the file:line of one
  reference causing it.  `--pairs` reports only direct two-way pairs.

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
IDENT = re.compile(r"\$?[A-Za-z_]\w*$")
ITEM_WORDS = {"fn", "impl", "struct", "enum", "mod", "use", "const", "static",
              "type", "trait", "pub", "unsafe", "async", "extern", "macro_rules"}


def tokenize(text):
    """Return [(text, line)]; comments dropped, literals become '"<str>"'."""
    toks, pos, line = [], 0, 1
    while pos < len(text):
        m = TOKEN.match(text, pos)
        kind, start = m.lastgroup, pos
        pos = m.end()
        if kind == "block":                      # nested /* */ comments
            depth = 1
            while depth and pos < len(text):
                if text.startswith("/*", pos):
                    depth, pos = depth + 1, pos + 2
                elif text.startswith("*/", pos):
                    depth, pos = depth - 1, pos + 2
                else:
                    pos += 1
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


def skip_group(toks, j):
    """toks[j] opens a bracket; return the index after its match."""
    depth = 0
    while j < len(toks):
        t = toks[j][0]
        depth += t in "([{"
        depth -= t in ")]}"
        j += 1
        if depth == 0:
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
        while j + 1 < len(toks) and toks[j][0] == "#" and toks[j + 1][0] == "[":
            j = skip_group(toks, j + 1)
        is_item, depth = j < len(toks) and toks[j][0] in ITEM_WORDS, 0
        while j < len(toks):
            t = toks[j][0]
            if t in ")]}" and depth == 0:
                break                            # attribute on a last expression
            depth += t in "([{"
            depth -= t in ")]}"
            j += 1
            if depth == 0 and (t in ";}" or (t == "," and not is_item)):
                break
        i = j
    return out


class Crate:
    def __init__(self, name, src):
        self.name, self.src = name, src
        self.known = {}      # module path (tuple), incl. inline mods -> file module
        self.children = {}   # scope path -> {child name}
        self.files = {}      # file module -> (path, tokens, source lines)
        root = next((os.path.join(src, f) for f in ("lib.rs", "main.rs")
                     if os.path.exists(os.path.join(src, f))), None)
        if root:
            self.load(root, (), True)

    def load(self, path, mod, modrs_style):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        toks = drop_cfg_test(tokenize(text))
        if toks is None:
            return
        self.files[mod] = (path, toks, text.splitlines())
        self.known[mod] = mod
        self.children.setdefault(mod, set())
        base = os.path.dirname(path) if modrs_style else path[:-3]
        scopes, depth, attr_path = [(mod, -1)], 0, None
        for i, (t, _, raw) in enumerate(toks):
            nxt = [x[0] for x in toks[i + 1:i + 3]]
            if t == "path" and toks[i - 1][0] == "[" and nxt[:1] == ["="] and toks[i + 2][2]:
                attr_path = toks[i + 2][2][1:-1]
            elif t == "mod" and len(nxt) == 2 and re.match(r"\w+$", nxt[0]):
                scope, name = scopes[-1][0], nxt[0].removeprefix("r#")
                self.children.setdefault(scope, set()).add(name)
                child = scope + (name,)
                if nxt[1] == "{":
                    scopes.append((child, depth))
                    self.known[child] = mod
                    self.children.setdefault(child, set())
                elif nxt[1] == ";":
                    inner = os.path.join(base, *scope[len(mod):])
                    if attr_path:
                        cands = [(os.path.join(os.path.dirname(path), attr_path), True)]
                    else:
                        cands = [(os.path.join(inner, name + ".rs"), False),
                                 (os.path.join(inner, name, "mod.rs"), True)]
                    found = [c for c in cands if os.path.exists(c[0])]
                    if found:
                        self.load(found[0][0], child, found[0][1])
                attr_path = None
            elif t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == scopes[-1][1]:
                    scopes.pop()

    def resolve(self, segs, scope, bindings):
        """Return (file module, full path) a path names, or None."""
        first, rest = segs[0], list(segs[1:])
        if first in ("crate", "$crate"):
            base = ()
        elif first in ("self", "super"):
            base, rest = scope, [first] + rest
        elif first in self.children.get(scope, ()):
            base = scope + (first,)
        elif first in bindings.get(scope, {}):
            base = bindings[scope][first]
        else:
            return None                          # extern crate, local item, ...
        while rest and rest[0] in ("self", "super"):
            if rest.pop(0) == "super":
                if not base:
                    return None
                base = base[:-1]
        full = base + tuple(rest)
        for n in range(len(full), -1, -1):       # longest known module prefix
            if full[:n] in self.known:
                return self.known[full[:n]], full
        return None

    def edges(self):
        """Return {(from, to): (file, line, source text)} for the crate."""
        bindings, found = {}, {}
        for sweep in range(3):                   # two sweeps learn `use` bindings
            for mod, (path, toks, lines) in self.files.items():
                for scope, segs, alias, line in self.paths(mod, toks):
                    hit = self.resolve(segs, scope, bindings)
                    if not hit:
                        continue
                    if sweep < 2:
                        if alias and hit[1] in self.known:   # `use` of a module
                            bindings.setdefault(scope, {})[alias] = hit[1]
                    elif hit[0] != mod and (mod, hit[0]) not in found:
                        found[(mod, hit[0])] = (path, line, lines[line - 1].strip())
        return found

    def paths(self, mod, toks):
        """Yield (scope, segments, use-alias, line) for each path in a file."""
        scopes, depth, i = [(mod, -1)], 0, 0
        while i < len(toks):
            t = toks[i][0]
            scope = scopes[-1][0]
            if t == "mod" and i + 2 < len(toks) and toks[i + 2][0] == "{":
                scopes.append((scope + (toks[i + 1][0].removeprefix("r#"),), depth))
            elif t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == scopes[-1][1]:
                    scopes.pop()
            elif t == "use":
                leaves, i = parse_use(toks, i + 1, [])
                for segs, alias, line in leaves:
                    if segs and segs[0] != "::":
                        yield scope, segs, alias, line
                continue
            elif (IDENT.match(t) and i + 2 < len(toks) and toks[i + 1][0] == "::"
                  and IDENT.match(toks[i + 2][0])
                  and (i == 0 or toks[i - 1][0] not in ("::", "."))
                  and not (i >= 2 and toks[i - 1][0] == "in" and toks[i - 2][0] == "(")):
                segs, j = [t], i + 1                 # a path not inside a `use`
                while j + 1 < len(toks) and toks[j][0] == "::" and IDENT.match(toks[j + 1][0]):
                    segs.append(toks[j + 1][0])
                    j += 2
                yield scope, segs, None, toks[i][1]
                i = j
                continue
            i += 1


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
            return out + [(segs, None, line)], i + 1
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
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def name(mod):
    return "::".join(mod) or "crate"


def report(crate, root, pairs_only):
    """Print the crate's summary and its cycles; return how many were found."""
    edges = crate.edges()
    succ = {}
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
        comps = [c for c in tarjan(crate.files, succ) if len(c) > 1]
        for n, comp in enumerate(comps, 1):
            out.append(f"  cycle {n} ({len(comp)} modules): {', '.join(map(name, comp))}")
            out += [evidence(a, b) for a, b in sorted(edges)
                    if a in comp and b in comp]
        found, what = len(comps), "cycles"
    print(f"crate {crate.name}: {len(crate.files)} modules, {len(edges)} edges, "
          f"{found} {what}")
    print("\n".join(out) if out else "", end="\n" if out else "")
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
