#pragma once
/// @file
/// A description of the machine and the run, for the JSON's "machine" object.

#include <string>
#include <utility>
#include <vector>

#include "config.hpp"

namespace parkit_bench {

/// Key/value pairs; a value is written to JSON as a number when `numeric`.
struct machine_field {
    std::string key;       ///< JSON key
    std::string value;     ///< its text
    bool numeric = false;  ///< write without quotes
};

/// The machine (cores, CPU, memory, OS, compiler, load) and the run's settings (quick,
/// workers, repetitions, background_load threads).
std::vector<machine_field> describe_machine(const config& cfg);

/// The 1-minute load average now (from /proc/loadavg), or -1 when unknown.
double load_average();

}  // namespace parkit_bench
