#pragma once
// What the data plane's HTTP endpoint serves (telemetry.httpPort):
//   GET  /metrics                       Prometheus text (telemetry/METRICS.md)
//   GET  /, /dashboard, /assets/...     the live dashboard
//   GET  /taps                          taps with their settings and counters (JSON)
//   POST /taps/NAME/start, /stop        start or stop a tap
//   GET  /taps/NAME/files               the tap's pcapng files (JSON)
//   GET  /taps/NAME/files/FILE          download one (application/x-pcapng)
// Runs on the HTTP thread; everything that reads or changes control state is run on the main
// lcore through the mailbox.
#include "dataplane/mailbox.hpp"
#include "dataplane/metrics.hpp"
#include "telemetry/http_server.hpp"

namespace meshgate::dataplane {

namespace tap {
class manager;
}

struct http_api {
    const metrics_sources* metrics = nullptr;
    tap::manager* taps = nullptr;
    main_mailbox* mailbox = nullptr;

    telemetry::http_response serve(const telemetry::http_request& req) const;
};

}  // namespace meshgate::dataplane
