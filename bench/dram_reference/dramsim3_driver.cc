// Bandwidth driver for DRAMsim3 (built against a DRAMsim3 checkout by run_dramsim3.py; not part of the
// simulator). Reads a trace of phases from stdin and, per phase, offers requests to the memory system as fast
// as its controllers accept them: each channel takes its own requests in trace order (a request its controller
// refuses blocks the later ones of that channel only), any number per clock tick. The stock trace-driven front end adds at most one request per cycle, which caps
// wide memories below their peak; this driver does not.
//
// Trace lines:   R|W|P <hex address> <channel>   (read, write, padding write; see below)
//                PHASE <name>       (starts a phase: waits until the memory is idle, then marks its start)
// Output (stdout): one line per phase, "<name> <start clock>", then "END <clock>".
// The command trace (build with -DCMD_TRACE) has the issue clock of every command; the script times the
// phase from its start to the end of its last data burst from that file. Posted writes can stay in a
// controller's write buffer when fewer than 9 are left; the script appends padding writes to a row no real
// request uses so that the buffer drains, and ignores the padding's own commands.
#include <cstdint>
#include <cstdio>
#include <deque>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "memory_system.h"

struct Req {
    uint64_t addr;
    bool write;
    size_t channel;
};

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: dramsim3_driver CONFIG.ini OUTPUT_DIR < trace" << std::endl;
        return 2;
    }
    std::vector<std::pair<std::string, std::vector<Req>>> phases;
    std::string kind, word;
    while (std::cin >> kind) {
        if (kind == "PHASE") {
            std::cin >> word;
            phases.emplace_back(word, std::vector<Req>());
            continue;
        }
        size_t channel = 0;
        std::cin >> word >> channel;
        if (phases.empty()) phases.emplace_back("main", std::vector<Req>());
        phases.back().second.push_back(Req{std::stoull(word, nullptr, 16), kind != "R", channel});
    }
    uint64_t outstanding_reads = 0;
    auto on_read = [&](uint64_t) { outstanding_reads -= 1; };
    auto on_write = [&](uint64_t) {};
    dramsim3::MemorySystem *mem = dramsim3::GetMemorySystem(argv[1], argv[2], on_read, on_write);
    uint64_t clk = 0;
    const uint64_t settle = 400;  // idle cycles between phases: longer than any row-cycle or turnaround time
    for (auto &phase : phases) {
        while (outstanding_reads > 0) {
            mem->ClockTick();
            clk++;
        }
        for (uint64_t i = 0; i < settle; i++) {
            mem->ClockTick();
            clk++;
        }
        std::cout << phase.first << " " << clk << std::endl;
        std::vector<std::deque<Req>> queues;
        for (const auto &r : phase.second) {
            if (queues.size() <= r.channel) queues.resize(r.channel + 1);
            queues[r.channel].push_back(r);
        }
        size_t left = phase.second.size();
        while (left > 0) {
            for (auto &q : queues) {
                while (!q.empty() && mem->WillAcceptTransaction(q.front().addr, q.front().write)) {
                    mem->AddTransaction(q.front().addr, q.front().write);
                    if (!q.front().write) outstanding_reads += 1;
                    q.pop_front();
                    left--;
                }
            }
            mem->ClockTick();
            clk++;
        }
    }
    while (outstanding_reads > 0) {
        mem->ClockTick();
        clk++;
    }
    for (uint64_t i = 0; i < 20 * settle; i++) {  // let the write buffers drain
        mem->ClockTick();
        clk++;
    }
    std::cout << "END " << clk << std::endl;
    delete mem;
    return 0;
}
