#pragma once
// The scenario model of the TCP scenario harness (tcp_scenario): what a .pkt file says, parsed
// once, then run against a fresh tcp_stack on a virtual clock (scenario_run.cpp). The format is
// described in tests/tcp/README.md.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace meshgate::test::tcp {

// TCP flag bits as on the wire.
inline constexpr uint8_t f_fin = 0x01, f_syn = 0x02, f_rst = 0x04, f_psh = 0x08, f_ack = 0x10, f_urg = 0x20,
                         f_ece = 0x40, f_cwr = 0x80;

// A number in a segment line that may be `*` (not checked).
struct wild_u32 {
    bool any = false;
    uint32_t v = 0;
};

// One TCP option as written in a script.
struct opt_spec {
    enum class kind : uint8_t { mss, wscale, sack_ok, ts, sack, nop, eol, raw };
    kind k = kind::nop;
    wild_u32 a;                                         // mss value, wscale shift, TS val
    wild_u32 b;                                         // TS ecr
    std::vector<std::pair<uint32_t, uint32_t>> blocks;  // sack: left:right edges
    std::vector<uint8_t> bytes;                         // raw: bytes put as they are (injected only)
};

// A segment line (`<` injected, `>` expected, `~ >` optional).
struct seg_spec {
    uint8_t flags = 0;
    bool ack_flag_any = false;  // `.?`: the ACK bit (and the ack field) not checked
    wild_u32 seq;
    uint32_t len = 0;
    bool len_any = false;  // `(*)`: any payload length, content not checked
    bool has_ack = false;  // an `ack` field was written
    wild_u32 ack;
    bool win_any = false;
    uint32_t win_lo = 0, win_hi = 0;  // `win W` or `win LO..HI`
    bool opts_any = false;            // `<*>`
    std::vector<opt_spec> opts;       // empty and !opts_any: no options
    bool bad_csum = false;            // injected: corrupt the TCP checksum
    uint16_t urp = 0;                 // injected: urgent pointer
    bool payload_any = false;         // expected: do not check the payload bytes
};

enum class verb : uint8_t {
    inject,              // <
    expect_out,          // >
    maybe_out,           // ~ >
    listen,              // listen ADDR:PORT
    unlisten,            // unlisten
    connect,             // connect LOCAL:PORT REMOTE:PORT
    conn_decl,           // conn LOCAL:PORT REMOTE:PORT (a 4-tuple for injected segments, no app action)
    send,                // send N [fails]
    recv,                // recv N | recv all | recv none
    shutdown,            // shutdown
    close,               // close
    abort,               // abort
    expect_state,        // expect state NAME
    expect_event,        // expect event NAME
    expect_no_event,     // expect no-event NAME
    expect_no_conn,      // expect no-conn
    expect_conns,        // expect conns N
    expect_counter,      // expect counter NAME [OP] VALUE
    expect_info,         // expect info FIELD [OP] VALUE
    expect_readable,     // expect readable N
    expect_send_space,   // expect send_space [OP] N
    expect_peer_closed,  // expect peer_closed 0|1
    wait,                // wait: advance the clock; nothing may have been emitted
    relearn_isn,         // relearn-isn: the next SYN from the stack on this connection sets its ISN again
};

struct step {
    int line = 0;
    std::string text;         // the line as written (for messages)
    uint64_t t_us = 0;        // nominal time (microseconds from the scenario start)
    bool t_range = false;     // `LO..HI` written
    uint64_t t_hi_us = 0;     // with t_range
    std::string conn = "c1";  // connection name
    verb v = verb::wait;
    seg_spec seg;
    std::vector<std::string> args;
};

struct config_line {
    int line = 0;
    std::string key, value;
};

struct scenario {
    std::string file;
    std::string name;
    std::vector<std::string> rfc;
    std::vector<config_line> config;
    std::vector<step> steps;
    bool ignore_rest = false;
};

// Parses one scenario file. On error returns nullopt with `err` set ("file:line: message").
std::optional<scenario> parse_scenario_file(const std::string& path, std::string& err);
// The config keys the harness knows (for messages and --list checks).
bool known_config_key(const std::string& key);

// Renders a segment spec back in script syntax (for messages).
std::string render_spec(const seg_spec& s, char dir);

}  // namespace meshgate::test::tcp
