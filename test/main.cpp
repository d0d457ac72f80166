// The Catch2 v2 main of the test binary. Listing tests (catch_discover_tests) must print nothing
// else to stdout, so no test prints at static-initialization time.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
