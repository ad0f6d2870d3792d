#pragma once
// Frees replaced tables (L4 runtimes, route tables) on a thread of its own, after the RCU grace
// period has made them unreachable: freeing 1000 services' Maglev tables, an ACL or two LPM
// tables takes the main lcore 100 ms and more, during which it would not answer ARP/ND, run
// health checks or serve /metrics. Objects are freed in the order they were handed over; stop()
// frees what is left and joins (before rte_eal_cleanup).
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace meshgate::dataplane {

class reaper {
public:
    reaper() : thread_([this] { run(); }) {}
    ~reaper() { stop(); }
    reaper(const reaper&) = delete;
    reaper& operator=(const reaper&) = delete;

    // Deletes `p` (no longer reachable by any worker) on the reaper thread. After stop(): here.
    template <class T>
    void free_later(const T* p) {
        if (p == nullptr) return;
        std::unique_lock g(m_);
        if (stopped_) {
            g.unlock();
            delete p;
            return;
        }
        jobs_.emplace_back([p] { delete p; });
        cv_.notify_one();
    }

    void stop() {
        {
            std::lock_guard g(m_);
            if (stopped_) return;
            stopped_ = true;
            cv_.notify_one();
        }
        thread_.join();
    }

private:
    void run() {
        std::unique_lock g(m_);
        for (;;) {
            cv_.wait(g, [&] { return stopped_ || !jobs_.empty(); });
            while (!jobs_.empty()) {
                auto job = std::move(jobs_.front());
                jobs_.pop_front();
                g.unlock();
                job();
                g.lock();
            }
            if (stopped_) return;
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopped_ = false;
    std::thread thread_;
};

}  // namespace meshgate::dataplane
