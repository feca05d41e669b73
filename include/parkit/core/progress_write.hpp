#pragma once
/// @file
/// `parkit::progress_write`: print a line from a task without breaking the progress bar.

#include <cstdio>
#include <string_view>

#include "../detail/progress/progress_reporter.hpp"

namespace parkit {

/// Prints `line` and a newline to `stream` (stdout unless given) above the live progress bar,
/// which is redrawn below it, as Python's `tqdm.write` does; safe to call from any task at
/// any time, with or without a bar on screen. A task's own `printf` would land on the bar's
/// line instead.
inline void progress_write(std::string_view line, std::FILE* stream = stdout) {
    detail::write_above_bar(line, stream);
}

}  // namespace parkit
