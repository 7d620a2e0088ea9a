"""Solve an exported candidate graph with networkx, for comparison with coffee-rounds plan.

Usage: python networkx_matching.py GRAPH_FILE
GRAPH_FILE is written by `coffee-rounds plan --export-graph`: a header line
`# vertices N edges M optimum W pairs P`, then one `u v w` line per edge.
Prints one line: edges, networkx seconds, networkx total and pairs, our total and pairs, equal.
"""

import sys
import time

import networkx as nx


def main(path):
    with open(path) as f:
        header = f.readline().split()
        ours_total, ours_pairs = int(header[6]), int(header[8])
        g = nx.Graph()
        g.add_nodes_from(range(int(header[2])))
        for line in f:
            u, v, w = line.split()
            g.add_edge(int(u), int(v), weight=int(w))
    start = time.perf_counter()
    m = nx.max_weight_matching(g, maxcardinality=True)
    secs = time.perf_counter() - start
    total = sum(g[u][v]["weight"] for u, v in m)
    print(
        f"edges={g.number_of_edges()} networkx_s={secs:.3f} networkx_total={total} "
        f"networkx_pairs={len(m)} ours_total={ours_total} ours_pairs={ours_pairs} "
        f"equal={total == ours_total and len(m) == ours_pairs}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
