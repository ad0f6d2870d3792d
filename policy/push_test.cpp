#include "policy/push.hpp"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "policy/framing.hpp"
#include "push.pb.h"

namespace meshgate::policy {
namespace {

namespace pb = meshgate::config::v1;

constexpr const char* snapshot_json = R"({
  "generation": "7",
  "interfaces": [
    { "name": "client", "device": "net_af_packet0,iface=mg-client", "ipv4Addresses": ["198.18.1.1/24"] },
    { "name": "srv", "device": "net_af_packet1,iface=mg-srv1", "ipv4Addresses": ["198.18.2.1/24"] }
  ],
  "services": [
    { "name": "web", "vip": "198.18.50.1", "protocol": "tcp", "port": 80,
      "backends": [ { "address": "198.18.2.10", "port": 8080 } ] }
  ]
})";

pb::Snapshot snapshot() {
    pb::Snapshot s;
    auto st = google::protobuf::util::JsonStringToMessage(snapshot_json, &s);
    EXPECT_TRUE(st.ok()) << st.message();
    return s;
}

std::string prepare_bytes(const pb::Snapshot& s, uint64_t id = 3) {
    pb::Request r;
    r.set_id(id);
    *r.mutable_prepare()->mutable_snapshot() = s;
    return r.SerializeAsString();
}

TEST(Push, DecodesAGoodPrepare) {
    auto r = decode_request(prepare_bytes(snapshot()));
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r.value().id, 3U);
    EXPECT_EQ(r.value().kind, push_kind::prepare);
    EXPECT_EQ(r.value().generation, 7U);
    ASSERT_TRUE(r.value().snapshot) << r.value().snapshot.error_message();
    const auto& c = r.value().snapshot.value();
    EXPECT_EQ(c.generation, 7U);
    ASSERT_EQ(c.services.size(), 1U);
    EXPECT_EQ(c.services[0].name, "web");
}

TEST(Push, AnInvalidSnapshotDecodesWithTheValidatorsReason) {
    auto s = snapshot();
    s.mutable_services(0)->set_port(0);
    auto r = decode_request(prepare_bytes(s));
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r.value().kind, push_kind::prepare);
    ASSERT_FALSE(r.value().snapshot);
    EXPECT_EQ(r.value().snapshot.error_message().rfind("services[0].port: ", 0), 0U)
        << r.value().snapshot.error_message();
    // The same reason as the same config given as a file.
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(s, &json).ok());
    auto from_file = parse_config_json(json);
    ASSERT_FALSE(from_file);
    EXPECT_EQ(from_file.error_message(), r.value().snapshot.error_message());
}

TEST(Push, GenerationZeroIsRejected) {
    auto s = snapshot();
    s.set_generation(0);
    auto r = decode_request(prepare_bytes(s));
    ASSERT_TRUE(r);
    ASSERT_FALSE(r.value().snapshot);
    EXPECT_EQ(r.value().snapshot.error_message().rfind("generation: ", 0), 0U);
}

TEST(Push, PrepareWithoutSnapshot) {
    pb::Request m;
    m.set_id(1);
    m.mutable_prepare();
    auto r = decode_request(m.SerializeAsString());
    ASSERT_TRUE(r);
    ASSERT_FALSE(r.value().snapshot);
    EXPECT_EQ(r.value().snapshot.error_message(), "snapshot: is required");
}

TEST(Push, DecodesTheOtherOperations) {
    pb::Request m;
    m.set_id(9);
    m.mutable_activate()->set_generation(12);
    auto r = decode_request(m.SerializeAsString());
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value().kind, push_kind::activate);
    EXPECT_EQ(r.value().generation, 12U);
    EXPECT_FALSE(r.value().snapshot);

    m.mutable_abort()->set_generation(13);
    r = decode_request(m.SerializeAsString());
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value().kind, push_kind::abort);
    EXPECT_EQ(r.value().generation, 13U);

    m.mutable_status();
    r = decode_request(m.SerializeAsString());
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value().kind, push_kind::status);

    m.mutable_state();
    r = decode_request(m.SerializeAsString());
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value().kind, push_kind::state);
    EXPECT_EQ(r.value().id, 9U);
}

TEST(Push, MalformedRequestsAreErrors) {
    EXPECT_FALSE(decode_request(std::string("\xff\xff\xff\xff\xff", 5)));
    pb::Request m;
    m.set_id(4);  // no operation
    auto r = decode_request(m.SerializeAsString());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error_message().find("names no operation"), std::string::npos);
    EXPECT_FALSE(decode_request(""));  // an empty Request names no operation either
}

TEST(Push, EncodesTheResponse) {
    push_response r;
    r.id = 5;
    r.ok = false;
    r.reason = "services[0].port: 0 is not in 1..65535";
    r.generation = 4;
    r.config_source = "mgmtd";
    r.prepare_us = 120;
    r.activate_us = 30;
    r.state_json = "{}";
    pb::Response m;
    ASSERT_TRUE(m.ParseFromString(encode_response(r)));
    EXPECT_EQ(m.id(), 5U);
    EXPECT_FALSE(m.ok());
    EXPECT_EQ(m.reason(), r.reason);
    EXPECT_EQ(m.generation(), 4U);
    EXPECT_EQ(m.config_source(), "mgmtd");
    EXPECT_EQ(m.prepare_us(), 120U);
    EXPECT_EQ(m.activate_us(), 30U);
    EXPECT_EQ(m.state_json(), "{}");
}

// ---- framing ---------------------------------------------------------------------------------

struct socket_pair {
    int fd[2] = {-1, -1};
    socket_pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
    ~socket_pair() {
        for (int f : fd)
            if (f >= 0) close(f);
    }
    void close_writer() {
        close(fd[0]);
        fd[0] = -1;
    }
};

TEST(Framing, RoundTrip) {
    socket_pair sp;
    ASSERT_TRUE(write_frame(sp.fd[0], "hello"));
    ASSERT_TRUE(write_frame(sp.fd[0], ""));
    auto a = read_frame(sp.fd[1]);
    ASSERT_TRUE(a) << a.error_message();
    EXPECT_EQ(a.value(), "hello");
    auto b = read_frame(sp.fd[1]);
    ASSERT_TRUE(b) << b.error_message();
    EXPECT_EQ(b.value(), "");
    sp.close_writer();
    auto c = read_frame(sp.fd[1]);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error_message(), frame_closed);
}

TEST(Framing, LargeFrameWithShortReadsAndWrites) {
    socket_pair sp;
    std::string big(8 << 20, 'x');
    for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>(i);
    std::thread writer([&] { EXPECT_TRUE(write_frame(sp.fd[0], big)); });
    auto r = read_frame(sp.fd[1]);
    writer.join();
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_TRUE(r.value() == big);
}

TEST(Framing, OversizedLengthIsRefusedWithoutReadingTheBody) {
    socket_pair sp;
    const char head[4] = {'\x80', 0, 0, 0};  // 2^31
    ASSERT_EQ(write(sp.fd[0], head, 4), 4);
    auto r = read_frame(sp.fd[1]);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error_message(), "frame of 2147483648 bytes is above the limit of 67108864 bytes");
}

TEST(Framing, TruncatedFrames) {
    {
        socket_pair sp;
        const char part[2] = {0, 0};
        ASSERT_EQ(write(sp.fd[0], part, 2), 2);
        sp.close_writer();
        auto r = read_frame(sp.fd[1]);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error_message(), "truncated frame: 2 of 4 length bytes before the connection closed");
    }
    {
        socket_pair sp;
        const char part[7] = {0, 0, 0, 10, 'a', 'b', 'c'};
        ASSERT_EQ(write(sp.fd[0], part, 7), 7);
        sp.close_writer();
        auto r = read_frame(sp.fd[1]);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error_message(), "truncated frame: 3 of 10 bytes before the connection closed");
    }
    {
        socket_pair sp;  // a stalled peer, with a stall timeout
        const char part[5] = {0, 0, 0, 10, 'a'};
        ASSERT_EQ(write(sp.fd[0], part, 5), 5);
        auto r = read_frame(sp.fd[1], max_frame_bytes, 50);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error_message(), "truncated frame: 1 of 10 bytes (stalled)");
    }
}

TEST(Framing, WriteToAClosedPeerFailsWithoutSigpipe) {
    socket_pair sp;
    close(sp.fd[1]);
    sp.fd[1] = -1;
    EXPECT_FALSE(write_frame(sp.fd[0], std::string(100000, 'a')));
}

}  // namespace
}  // namespace meshgate::policy
