#include "tests/support/eal_env.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace meshgate::test {

void init_eal() {
    static bool done = false;
    if (done) return;
    std::string prefix = "--file-prefix=mgtest" + std::to_string(getpid());
    const char* args[] = {"meshgate-test", "--no-huge",      "-m", "512", "--no-pci",
                          "--no-shconf",   "--no-telemetry", "-l", "0",   "--log-level=*:error",
                          prefix.c_str()};
    int argc = static_cast<int>(sizeof args / sizeof args[0]);
    if (rte_eal_init(argc, const_cast<char**>(args)) < 0) {
        std::fprintf(stderr, "test: EAL init failed: %s\n", rte_strerror(rte_errno));
        std::exit(2);
    }
    done = true;
}

}  // namespace meshgate::test
