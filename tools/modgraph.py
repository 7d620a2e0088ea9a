#!/usr/bin/env python3
"""The module graph of src/: which module uses which, drawn from the code's own paths.

Each file under src/ is a module (`src/web/pages/auth.rs` is `web::pages::auth`, a `mod.rs` is its
folder's module). An edge A -> B means that A names `crate::B...` (in a `use` or inline) or, inside
a module, `super::B`. Modules are folded to the depth given (default 1: the top-level modules;
`web` is also shown one level deeper, since its pages are a layer of their own).

    python3 tools/modgraph.py            # edges and cycles between top-level modules
    python3 tools/modgraph.py --depth 2  # one level deeper everywhere
    python3 tools/modgraph.py --dot      # Graphviz, for a picture
    python3 tools/modgraph.py --check    # only the problems: cycles, and uses against LAYERS

Exits with status 1 when the folded graph has a cycle or a module uses one of a higher layer, so
CI keeps the layers one-way.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# A path that starts at the crate root or the parent, e.g. `crate::store::users::User`,
# `crate::{a, b::c}` or `super::error`; a group in braces is read to its matching brace.
START = re.compile(r"\b(crate|super)::")
NAME_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*(?:::\{)?")


def paths_in(text):
    """(base, rest) for every `crate::...` or `super::...` path in `text`."""
    for start in START.finditer(text):
        i = start.end()
        if text.startswith("{", i):
            rest = braced(text, i)
        else:
            match = NAME_PATH.match(text, i)
            if not match:
                continue
            rest = match.group(0)
            if rest.endswith("::{"):
                rest = rest[:-1] + braced(text, match.end() - 1)
        yield start.group(1), rest


def braced(text, i):
    """The `{...}` group starting at `text[i]`, nested groups included."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i : j + 1]
    return text[i:]


# The layers, top first. A module may use modules of its own layer (without a cycle) and of the
# layers below; never one above. Every top-level module of src/ must be listed.
LAYERS = [
    ("wiring and the command line", ["main", "cli", "app"]),
    ("HTTP", ["web"]),
    ("what people and coordinators do", ["accounts", "coordinator", "rounds", "settings", "plan", "roster"]),
    ("email", ["mail"]),
    ("SQL", ["store"]),
    ("settings from the environment", ["config"]),
    ("parsed values", ["domain", "forms"]),
    ("the pure matcher", ["matching"]),
]


def layer_of(module):
    top = module.split("::")[0]
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    return None


def layer_problems(edges):
    """Uses of a higher layer, and top-level modules no layer lists."""
    problems = []
    for a in sorted(edges):
        for b in sorted(edges[a]):
            la, lb = layer_of(a), layer_of(b)
            if la is not None and lb is not None and lb < la:
                problems.append(f"{a} ({LAYERS[la][0]}) uses {b} ({LAYERS[lb][0]}), a layer above it")
    tops = {m.split("::")[0] for m in set(edges) | {b for bs in edges.values() for b in bs}}
    for top in sorted(tops):
        if layer_of(top) is None:
            problems.append(f"{top} is in no layer: add it to LAYERS in tools/modgraph.py")
    return problems


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def split_top(group):
    """`{a, b::{c, d}, e}` -> ['a', 'b::{c, d}', 'e']"""
    inner, depth, part, parts = group.strip()[1:-1], 0, "", []
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(part.strip())
            part = ""
        else:
            part += ch
    if part.strip():
        parts.append(part.strip())
    return parts


def targets(base, rest, known):
    """Module paths named by `base::rest`, as deep as a known module goes."""
    if rest.startswith("{"):
        out = []
        for part in split_top(rest):
            out.extend(targets(base, part, known))
        return out
    names = []
    for name in rest.split("::"):
        if name.startswith("{"):
            break
        names.append(name)
    if "{" in rest:
        head, _, tail = rest.partition("::{")
        return targets(base + head.split("::") if head else base, "{" + tail, known)
    path = base + names
    while path and tuple(path) not in known:
        path = path[:-1]
    return [path] if path else []


def graph(depth):
    files = []
    for root, _, names in os.walk(SRC):
        for name in names:
            if name.endswith(".rs"):
                files.append(os.path.join(root, name))
    known = {tuple(module_of(f)) for f in files}
    edges = defaultdict(set)
    for f in files:
        me = module_of(f)
        if not me:
            continue
        text = strip_comments(open(f, encoding="utf-8").read())
        for base, rest in paths_in(text):
            root = [] if base == "crate" else me[:-1]
            for target in targets(root, rest.replace("\n", " "), known):
                a, b = fold(me, depth), fold(target, depth)
                if a != b and b:
                    edges[a].add(b)
    return edges


def fold(path, depth):
    keep = depth + 1 if path[:1] == ["web"] else depth
    return "::".join(path[:keep])


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    nodes = set(edges) | {b for bs in edges.values() for b in bs}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--dot", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    edges = graph(args.depth)
    found = cycles(edges)
    problems = layer_problems(edges)
    if args.check:
        for comp in found:
            print("cycle: " + " <-> ".join(comp))
        for problem in problems:
            print(problem)
        if not found and not problems:
            print("module graph: no cycles, every use goes down the layers")
        return 1 if found or problems else 0
    if args.dot:
        print("digraph modules {")
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f'  "{a}" -> "{b}";')
        print("}")
    else:
        for a in sorted(edges):
            print(f"{a} -> {', '.join(sorted(edges[a]))}")
        print()
        if found:
            for comp in found:
                print("cycle: " + " <-> ".join(comp))
        else:
            print("no cycles")
        for problem in problems:
            print(problem)
    return 1 if found or problems else 0


if __name__ == "__main__":
    sys.exit(main())
