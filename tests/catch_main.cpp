// The Catch2 (v2) main, compiled once as an OBJECT library for parkit_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
