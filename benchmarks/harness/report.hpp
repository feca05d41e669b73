#pragma once
/// @file
/// Output: the human table on stdout and the JSON file.

#include <cstdio>
#include <string>
#include <vector>

#include "machine.hpp"
#include "measure.hpp"

namespace parkit_bench {

/// Prints the table header (workload, size, implementation, workers, median, min, max,
/// max / median, speed-up vs sequential, efficiency = speed-up / workers, time per item).
void print_table_header(std::FILE* out);

/// Prints the rows of one case.
void print_rows(std::FILE* out, const std::vector<result_row>& rows);

/// Writes {"machine": {...}, "results": [...]} to `path`.
/// @throws std::runtime_error when the file cannot be written.
void write_json(const std::string& path, const std::vector<machine_field>& machine,
                const std::vector<result_row>& rows);

}  // namespace parkit_bench
