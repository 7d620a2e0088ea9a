// Benchmark aid (never part of the product): solve a graph exported by
// `coffee-rounds plan --export-graph` with LEMON's MaxWeightedMatching, as a maximum-cardinality
// maximum-weight matching (the same fold of cardinality into the weights as our solver's
// max_cardinality_matching), and print the time, total weight and pair count.
// Build: g++ -O2 -o lemon_matching benches/lemon_matching.cpp   (Debian: liblemon-dev)
#include <lemon/list_graph.h>
#include <lemon/matching.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: lemon_matching GRAPH_FILE\n";
        return 2;
    }
    std::ifstream in(argv[1]);
    std::string line, word;
    std::getline(in, line);
    std::istringstream header(line);
    long long n = 0;
    header >> word >> word >> n;  // "# vertices N ..."
    std::vector<long long> us, vs, ws;
    long long u, v, w, lo = 0, hi = 0;
    while (in >> u >> v >> w) {
        if (us.empty() || w < lo) lo = w;
        if (us.empty() || w > hi) hi = w;
        us.push_back(u);
        vs.push_back(v);
        ws.push_back(w);
    }
    long long half = n / 2 > 0 ? n / 2 : 1;
    long long span = hi - lo > 0 ? hi - lo : 1;
    long long bonus = 2 * (span * half + 1) - lo;

    auto t0 = std::chrono::steady_clock::now();
    lemon::ListGraph g;
    std::vector<lemon::ListGraph::Node> nodes;
    nodes.reserve(n);
    for (long long i = 0; i < n; ++i) nodes.push_back(g.addNode());
    lemon::ListGraph::EdgeMap<long long> weight(g);
    for (size_t k = 0; k < us.size(); ++k) {
        lemon::ListGraph::Edge e = g.addEdge(nodes[us[k]], nodes[vs[k]]);
        weight[e] = ws[k] + bonus;
    }
    auto t1 = std::chrono::steady_clock::now();
    lemon::MaxWeightedMatching<lemon::ListGraph, lemon::ListGraph::EdgeMap<long long>> mwm(g, weight);
    mwm.run();
    auto t2 = std::chrono::steady_clock::now();
    long long pairs = mwm.matchingSize();
    long long total = mwm.matchingWeight() - pairs * bonus;
    double solve = std::chrono::duration<double>(t2 - t1).count();
    double build = std::chrono::duration<double>(t1 - t0).count();
    std::printf("lemon_solver_s=%.4f lemon_build_s=%.4f lemon_total=%lld lemon_pairs=%lld\n", solve, build,
                total, pairs);
    return 0;
}
