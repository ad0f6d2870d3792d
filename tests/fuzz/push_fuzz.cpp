// The data plane's decoder of mgmtd requests (policy/push.hpp): a serialized push.proto Request,
// whose prepare carries a whole Snapshot that is translated and validated like a config file.
#include <cstdint>
#include <string_view>

#include "policy/push.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto r = meshgate::policy::decode_request(std::string_view(reinterpret_cast<const char*>(data), size));
    if (r) {
        meshgate::policy::push_response resp;
        resp.id = r.value().id;
        resp.ok = r.value().snapshot.ok();
        if (!resp.ok) resp.reason = r.value().snapshot.error_message();
        (void)meshgate::policy::encode_response(resp);
    }
    return 0;
}
