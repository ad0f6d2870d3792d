#pragma once
// EAL for tests: no hugepages, no PCI, no shared files, so test binaries run side by side.
namespace meshgate::test {
// Initializes EAL once per process; aborts with a message when it cannot.
void init_eal();
}  // namespace meshgate::test
