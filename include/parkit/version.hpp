#pragma once
/// @file
/// The one place parkit's version is written. CMake's `project(parkit VERSION ...)` reads the
/// three macros below from this file, so the C++ and the CMake package versions cannot drift.

/// Major version: changes that break code written against an earlier major version.
#define PARKIT_VERSION_MAJOR 0
/// Minor version: new features, source compatible within the major version.
#define PARKIT_VERSION_MINOR 2
/// Patch version: fixes only.
#define PARKIT_VERSION_PATCH 0

/// Everything public in parkit lives here; internals are in `parkit::detail`.
namespace parkit {
/// The library version, as MAJOR * 10000 + MINOR * 100 + PATCH (0.2.0 is 200), for
/// compile-time checks such as `static_assert(parkit::version >= 200)`.
inline constexpr int version = PARKIT_VERSION_MAJOR * 10000 + PARKIT_VERSION_MINOR * 100 + PARKIT_VERSION_PATCH;
}  // namespace parkit
