// gtest main for tests that need DPDK memory (mempools, rte_lpm, rte_hash).
#include <gtest/gtest.h>

#include "tests/support/eal_env.hpp"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    meshgate::test::init_eal();
    return RUN_ALL_TESTS();
}
