#pragma once
// Runs a job on the main lcore for another non-worker thread (the HTTP endpoint, DPDK's
// telemetry thread) and waits for it. The main lcore owns the control state (runtime, health,
// taps, neighbors); instead of locking all of it, other threads ask it. Workers never touch this.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace meshgate::dataplane {

class main_mailbox {
public:
    // Caller thread: runs `job` on the main lcore; false if the main lcore did not take it within
    // `timeout` (then it will not run). One job at a time; callers queue on the mutex.
    bool run(const std::function<void()>& job, std::chrono::milliseconds timeout) {
        std::unique_lock lk(call_);
        std::unique_lock g(m_);
        job_ = &job;
        done_ = false;
        pending_.store(true, std::memory_order_release);
        if (!cv_.wait_for(g, timeout, [&] { return done_ || taken_; })) {
            job_ = nullptr;
            pending_.store(false, std::memory_order_relaxed);
            return false;
        }
        cv_.wait(g, [&] { return done_; });  // taken: it finishes promptly
        taken_ = false;
        return true;
    }
    // Main lcore, once per loop: runs the pending job, if any. Cheap when there is none.
    void poll() {
        if (!pending_.load(std::memory_order_acquire)) return;
        std::unique_lock g(m_);
        pending_.store(false, std::memory_order_relaxed);
        if (job_ == nullptr) return;
        const auto* job = job_;
        job_ = nullptr;
        taken_ = true;
        g.unlock();
        (*job)();
        g.lock();
        done_ = true;
        cv_.notify_all();
    }

private:
    std::mutex call_;  // serializes callers
    std::mutex m_;
    std::condition_variable cv_;
    std::atomic<bool> pending_{false};
    const std::function<void()>* job_ = nullptr;
    bool taken_ = false;
    bool done_ = false;
};

}  // namespace meshgate::dataplane
