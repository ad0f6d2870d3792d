// meshgatectl: the command line of meshgate-mgmtd, over its RESTCONF API (HTTPS, HTTP Basic).
//
//   meshgatectl [--server https://127.0.0.1:8443] [--user U --password P] [--cacert FILE | --insecure]
//               [--json] COMMAND
//
// Credentials default to $MESHGATE_USER / $MESHGATE_PASSWORD, the server to $MESHGATE_SERVER.
// Edits (set, delete) go to the candidate; commit makes it running. A confirmed commit is held
// by a persist id: meshgatectl stores it in ~/.meshgatectl (one line, "persist-id ID") so that
// `confirm` and `cancel` find it; both also take the id as an argument.
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mgmt/restconf/json.hpp"

namespace {

namespace json = meshgate::mgmt::json;

constexpr const char* module_prefix = "meshgate-config:";

struct options {
    std::string server = "https://127.0.0.1:8443";
    std::string user, password, cacert;
    bool insecure = false;
    bool json_out = false;
};

struct http_reply {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
};

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    std::exit(1);
}

std::string ssl_err() {
    unsigned long e = ERR_get_error();
    if (!e) return "TLS error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

std::string base64(const std::string& in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

// One HTTPS request (Connection: close).
http_reply request(const options& o, const std::string& method, const std::string& path, const std::string& body) {
    std::string url = o.server;
    if (url.rfind("https://", 0) != 0) die("--server must be an https:// URL: " + url);
    std::string hostport = url.substr(8);
    if (size_t slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
    std::string host = hostport, port = "443";
    if (!hostport.empty() && hostport[0] == '[') {
        size_t close = hostport.find(']');
        if (close == std::string::npos) die("bad --server " + url);
        host = hostport.substr(1, close - 1);
        if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
    } else if (size_t colon = hostport.rfind(':'); colon != std::string::npos) {
        host = hostport.substr(0, colon);
        port = hostport.substr(colon + 1);
    }

    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int r = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); r != 0)
        die("cannot resolve " + host + ": " + gai_strerror(r));
    int fd = -1;
    for (addrinfo* a = res; a; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        timeval tv{60, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        ::close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) die("cannot connect to " + hostport + ": " + std::strerror(errno));

    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o.insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (!o.cacert.empty()) {
            if (SSL_CTX_load_verify_locations(ctx, o.cacert.c_str(), nullptr) != 1)
                die("--cacert " + o.cacert + ": " + ssl_err());
        } else {
            SSL_CTX_set_default_verify_paths(ctx);
        }
    }
    SSL* s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    if (!o.insecure) {
        X509_VERIFY_PARAM* vp = SSL_get0_param(s);
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, host.c_str()) != 1) {
            X509_VERIFY_PARAM_set1_host(vp, host.c_str(), 0);
            SSL_set_tlsext_host_name(s, host.c_str());
        }
    }
    if (SSL_connect(s) != 1) {
        long v = SSL_get_verify_result(s);
        die("TLS handshake with " + hostport + " failed: " +
            (v != X509_V_OK ? std::string(X509_verify_cert_error_string(v)) + " (use --cacert or --insecure)"
                            : ssl_err()));
    }
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + hostport +
                      "\r\nAccept: application/yang-data+json\r\nConnection: close\r\nUser-Agent: meshgatectl\r\n";
    if (!o.user.empty()) req += "Authorization: Basic " + base64(o.user + ":" + o.password) + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        req += "Content-Type: application/yang-data+json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    size_t off = 0;
    while (off < req.size()) {
        size_t n = 0;
        if (SSL_write_ex(s, req.data() + off, req.size() - off, &n) != 1) die("write to " + hostport + " failed");
        off += n;
    }
    std::string raw;
    char buf[16384];
    size_t n = 0;
    while (SSL_read_ex(s, buf, sizeof buf, &n) == 1) raw.append(buf, n);
    SSL_shutdown(s);
    SSL_free(s);
    SSL_CTX_free(ctx);
    ::close(fd);

    http_reply r;
    size_t hend = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || hend == std::string::npos) die("no HTTP response from " + hostport);
    r.status = std::atoi(raw.c_str() + 9);
    std::istringstream hs(raw.substr(0, hend));
    std::string line;
    std::getline(hs, line);
    while (std::getline(hs, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string k = line.substr(0, colon), v = line.substr(colon + 1);
        std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
        v.erase(0, v.find_first_not_of(' '));
        r.headers[k] = v;
    }
    r.body = raw.substr(hend + 4);
    if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
        size_t len = std::strtoul(it->second.c_str(), nullptr, 10);
        if (r.body.size() > len) r.body.resize(len);
    }
    return r;
}

// Prints the RESTCONF error ("error: <path>: <message>") and exits 1.
[[noreturn]] void fail_reply(const http_reply& r) {
    auto doc = json::parse(r.body);
    const json::value* errs = doc ? doc->find("ietf-restconf:errors") : nullptr;
    const json::value* list = errs ? errs->find("error") : nullptr;
    if (list && list->is_array() && !list->items().empty()) {
        for (const auto& e : list->items()) {
            const json::value* p = e.find("error-path");
            const json::value* m = e.find("error-message");
            const json::value* t = e.find("error-tag");
            std::string msg = m ? m->text() : (t ? t->text() : "failed");
            if (p && !p->text().empty()) {
                std::fprintf(stderr, "error: %s: %s\n", p->text().c_str(), msg.c_str());
            } else {
                std::fprintf(stderr, "error: %s\n", msg.c_str());
            }
        }
    } else {
        std::fprintf(stderr, "error: HTTP %d%s%s\n", r.status, r.body.empty() ? "" : ": ", r.body.c_str());
    }
    std::exit(1);
}

http_reply call(const options& o, const std::string& method, const std::string& path, const std::string& body = "") {
    http_reply r = request(o, method, path, body);
    if (r.status < 200 || r.status > 299) fail_reply(r);
    return r;
}

// --- paths ---

bool is_ident_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

std::string encode_value(const std::string& v) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string o;
    for (char ch : v) {
        auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '%') {
            o += ch;
        } else {
            o += '%';
            o += hex[c >> 4];
            o += hex[c & 15];
        }
    }
    return o;
}

struct cli_path {
    std::string api;   // "/meshgate-config:meshgate/service=web4"
    std::string last;  // the last node's name ("service")
    bool last_is_list_entry = false;
};

// "service=web4/port", "meshgate-config:meshgate/route=10.0.0.0/8/interface", "operational/...":
// segments are split at '/', except that a segment not starting like a name continues the key
// value before it (so prefixes need no escaping); key values are percent-encoded.
cli_path make_path(const std::string& in) {
    std::vector<std::string> segs;
    size_t i = 0;
    std::string s = in;
    while (!s.empty() && s.front() == '/') s.erase(0, 1);
    while (i <= s.size() && !s.empty()) {
        size_t slash = s.find('/', i);
        std::string seg = s.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
        if (!segs.empty() && segs.back().find('=') != std::string::npos && (seg.empty() || !is_ident_start(seg[0]))) {
            segs.back() += "/" + seg;
        } else if (!seg.empty()) {
            segs.push_back(seg);
        }
        if (slash == std::string::npos) break;
        i = slash + 1;
    }
    cli_path p;
    if (segs.empty()) return p;
    if (segs[0].find(':') == std::string::npos || segs[0].find(':') > segs[0].find('=')) {
        if (segs[0] == "operational" || segs[0] == "meshgate") {
            segs[0] = module_prefix + segs[0];
        } else {
            segs.insert(segs.begin(), std::string(module_prefix) + "meshgate");
        }
    }
    for (const auto& seg : segs) {
        size_t eq = seg.find('=');
        p.api += "/";
        if (eq == std::string::npos) {
            p.api += seg;
            p.last = seg;
            p.last_is_list_entry = false;
            continue;
        }
        p.api += seg.substr(0, eq) + "=";
        std::string keys = seg.substr(eq + 1);
        size_t k = 0;
        bool first = true;
        while (true) {
            size_t comma = keys.find(',', k);
            if (!first) p.api += ",";
            first = false;
            p.api += encode_value(keys.substr(k, comma == std::string::npos ? std::string::npos : comma - k));
            if (comma == std::string::npos) break;
            k = comma + 1;
        }
        p.last = seg.substr(0, eq);
        p.last_is_list_entry = true;
    }
    if (size_t colon = p.last.find(':'); colon != std::string::npos) p.last = p.last.substr(colon + 1);
    return p;
}

// --- tables ---

std::string scalar(const json::value* v) {
    if (!v) return "-";
    if (v->is_array()) {
        std::string s;
        for (const auto& i : v->items()) {
            if (!s.empty()) s += ",";
            s += i.text();
        }
        return s.empty() ? "-" : s;
    }
    if (v->is_object()) return "{...}";
    if (v->is_null()) return "-";
    return v->text();
}

void table(const std::string& title, const std::vector<std::string>& head,
           const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) return;
    std::vector<size_t> w(head.size());
    for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    std::printf("%s\n", title.c_str());
    auto line = [&](const std::vector<std::string>& r) {
        std::string s = " ";
        for (size_t i = 0; i < w.size(); ++i) {
            std::string c = i < r.size() ? r[i] : "";
            s += " " + c + std::string(w[i] - c.size(), ' ') + " ";
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        std::printf("%s\n", s.c_str());
    };
    line(head);
    std::vector<std::string> dash;
    for (size_t x : w) dash.emplace_back(x, '-');
    line(dash);
    for (const auto& r : rows) line(r);
    std::printf("\n");
}

std::string hostport(const std::string& addr, const std::string& port) {
    return addr.find(':') == std::string::npos ? addr + ":" + port : "[" + addr + "]:" + port;
}

const json::value& items_of(const json::value* v) {
    static const json::value empty = json::value::array();
    return v && v->is_array() ? *v : empty;
}

std::string ports_of(const json::value* r) {
    if (!r) return "any";
    std::string s = scalar(r->find("lower-port"));
    if (const json::value* u = r->find("upper-port")) s += "-" + u->text();
    return s;
}

void print_config_tables(const json::value& mg) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : items_of(mg.find("interface")).items()) {
        std::string v4, v6;
        for (const auto& a : items_of(i.find("ipv4-address")).items())
            v4 += (v4.empty() ? "" : ",") + scalar(a.find("ip")) + "/" + scalar(a.find("prefix-length"));
        for (const auto& a : items_of(i.find("ipv6-address")).items())
            v6 += (v6.empty() ? "" : ",") + scalar(a.find("ip")) + "/" + scalar(a.find("prefix-length"));
        rows.push_back({scalar(i.find("name")), scalar(i.find("device")), scalar(i.find("mtu")), scalar(i.find("vlan")),
                        v4.empty() ? "-" : v4, v6.empty() ? "-" : v6});
    }
    table("Interfaces", {"NAME", "DEVICE", "MTU", "VLAN", "IPV4", "IPV6"}, rows);
    rows.clear();
    for (const auto& r : items_of(mg.find("route")).items())
        rows.push_back({scalar(r.find("prefix")), scalar(r.find("next-hop")), scalar(r.find("interface"))});
    table("Routes", {"PREFIX", "NEXT-HOP", "INTERFACE"}, rows);
    rows.clear();
    for (const auto& s : items_of(mg.find("service")).items()) {
        const json::value* hc = s.find("health-check");
        std::vector<std::string> bes;
        for (const auto& b : items_of(s.find("backend")).items()) {
            std::string be = hostport(scalar(b.find("address")), scalar(b.find("port")));
            if (const json::value* w = b.find("weight")) be += " w" + w->text();
            if (const json::value* st = b.find("admin-state"); st && st->text() == "down") be += " (down)";
            bes.push_back(be);
        }
        if (bes.empty()) bes.push_back("-");
        for (size_t k = 0; k < bes.size(); ++k) {
            if (k == 0) {
                rows.push_back({scalar(s.find("name")), scalar(s.find("vip")), scalar(s.find("protocol")),
                                scalar(s.find("port")), scalar(s.find("mode")), hc ? scalar(hc->find("type")) : "-",
                                bes[k]});
            } else {
                rows.push_back({"", "", "", "", "", "", bes[k]});
            }
        }
    }
    table("Services", {"NAME", "VIP", "PROTO", "PORT", "MODE", "HEALTH", "BACKENDS"}, rows);
    rows.clear();
    if (const json::value* fw = mg.find("firewall")) {
        for (const auto& r : items_of(fw->find("rule")).items())
            rows.push_back({scalar(r.find("name")), scalar(r.find("family")), scalar(r.find("source")),
                            scalar(r.find("destination")), scalar(r.find("protocol")),
                            r.find("destination-port") ? ports_of(r.find("destination-port")) : "any",
                            scalar(r.find("in-interface")), scalar(r.find("action"))});
        table("Firewall rules (default " + (fw->find("default-action") ? fw->find("default-action")->text() : "allow") +
                  ")",
              {"NAME", "FAMILY", "SOURCE", "DESTINATION", "PROTO", "DPORT", "IN", "ACTION"}, rows);
    }
    rows.clear();
    for (const auto& p : items_of(mg.find("snat-pool")).items())
        rows.push_back({scalar(p.find("name")), scalar(p.find("source")), scalar(p.find("address")),
                        scalar(p.find("port-min")) + "-" + scalar(p.find("port-max")),
                        scalar(p.find("out-interface"))});
    table("SNAT pools", {"NAME", "SOURCES", "ADDRESSES", "PORTS", "OUT"}, rows);
    rows.clear();
    for (const auto& t : items_of(mg.find("tap")).items()) {
        const json::value* m = t.find("mirror");
        rows.push_back({scalar(t.find("name")), scalar(t.find("interface")), scalar(t.find("direction")),
                        scalar(t.find("filter")), scalar(t.find("directory")), m ? scalar(m->find("collector")) : "-",
                        scalar(t.find("start"))});
    }
    table("Taps", {"NAME", "INTERFACES", "DIR", "FILTER", "DIRECTORY", "MIRROR", "START"}, rows);
}

void print_state_tables(const json::value& op) {
    std::printf("config generation %s, uptime %s s, workers %s\n\n", scalar(op.find("config-generation")).c_str(),
                scalar(op.find("uptime")).c_str(), scalar(op.find("workers")).c_str());
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : items_of(op.find("interface")).items()) {
        uint64_t drops = 0;
        for (const auto& d : items_of(i.find("drop")).items())
            if (const json::value* p = d.find("packets")) drops += p->as_uint().value_or(0);
        rows.push_back({scalar(i.find("name")), scalar(i.find("port")), scalar(i.find("rx-packets")),
                        scalar(i.find("rx-bytes")), scalar(i.find("tx-packets")), scalar(i.find("tx-bytes")),
                        std::to_string(drops)});
    }
    table("Interfaces", {"NAME", "PORT", "RX-PKTS", "RX-BYTES", "TX-PKTS", "TX-BYTES", "DROPS"}, rows);
    rows.clear();
    for (const auto& s : items_of(op.find("service")).items()) {
        bool first = true;
        for (const auto& b : items_of(s.find("backend")).items()) {
            rows.push_back({first ? scalar(s.find("name")) : "",
                            first ? scalar(s.find("backends-up")) + "/" + scalar(s.find("backends")) : "",
                            hostport(scalar(b.find("address")), scalar(b.find("port"))),
                            b.find("up") && b.find("up")->as_bool() ? "up" : "down", scalar(b.find("connections"))});
            first = false;
        }
        if (first)
            rows.push_back({scalar(s.find("name")), scalar(s.find("backends-up")) + "/" + scalar(s.find("backends")),
                            "-", "-", "-"});
    }
    table("Services", {"NAME", "UP", "BACKEND", "STATE", "CONNECTIONS"}, rows);
    if (const json::value* s = op.find("sessions")) {
        rows.clear();
        for (const auto& [k, v] : s->members()) rows.push_back({k, scalar(&v)});
        table("Sessions", {"COUNTER", "VALUE"}, rows);
    }
}

// --- persist id ---

std::string state_file() {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : ".") + "/.meshgatectl";
}

std::string load_persist_id() {
    std::ifstream f(state_file());
    std::string k, v;
    while (f >> k >> v)
        if (k == "persist-id") return v;
    return "";
}

void save_persist_id(const std::string& id) {
    if (id.empty()) {
        std::remove(state_file().c_str());
        return;
    }
    std::ofstream f(state_file(), std::ios::trunc);
    f << "persist-id " << id << "\n";
}

[[noreturn]] void usage(int rc) {
    std::fprintf(
        rc ? stderr : stdout,
        "usage: meshgatectl [--server URL] [--user U --password P] [--cacert FILE | --insecure] [--json] "
        "COMMAND\n"
        "commands:\n"
        "  show config [PATH]            running configuration (tables; --json: RFC 7951)\n"
        "  show candidate [PATH]         the candidate\n"
        "  show state [PATH]             operational state\n"
        "  set PATH VALUE                set a leaf (or a container/list entry, VALUE in JSON) in the candidate\n"
        "  delete PATH                   delete from the candidate\n"
        "  commit [confirmed SECONDS] [comment TEXT]\n"
        "  confirm [PERSIST-ID]          confirm a pending confirmed commit\n"
        "  cancel [PERSIST-ID]           cancel a pending confirmed commit (roll back)\n"
        "  validate | discard | diff | history | rollback ID\n"
        "PATH: service=web4/port, route=10.0.0.0/8, meshgate-config:meshgate/service=web4/backend=198.18.2.2,8080\n"
        "environment: MESHGATE_SERVER, MESHGATE_USER, MESHGATE_PASSWORD\n");
    std::exit(rc);
}

std::string op_path(const std::string& op) {
    return std::string("/restconf/operations/") + module_prefix + op;
}

std::string input_body(const json::value& in) {
    json::value doc = json::value::object();
    doc.set(std::string(module_prefix) + "input", in);
    return doc.dump();
}

void print_json_pretty(const std::string& body) {
    // The server's JSON is compact; re-indent for people.
    std::string out;
    int indent = 0;
    bool in_str = false, esc = false;
    for (char c : body) {
        if (in_str) {
            out += c;
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        switch (c) {
            case '"':
                in_str = true;
                out += c;
                break;
            case '{':
            case '[':
                out += c;
                out += '\n' + std::string(static_cast<size_t>(++indent) * 2, ' ');
                break;
            case '}':
            case ']':
                out += '\n' + std::string(static_cast<size_t>(--indent) * 2, ' ') + c;
                break;
            case ',':
                out += ",\n" + std::string(static_cast<size_t>(indent) * 2, ' ');
                break;
            case ':':
                out += ": ";
                break;
            case ' ':
            case '\n':
            case '\r':
            case '\t':
                break;
            default:
                out += c;
        }
    }
    std::printf("%s\n", out.c_str());
}

int show(const options& o, const std::vector<std::string>& args) {
    if (args.size() < 2) usage(2);
    const std::string& what = args[1];
    std::string sub = args.size() > 2 ? make_path(args[2]).api : "";
    std::string url;
    // Tables show every value in effect; --json shows what is set (RFC 8040 basic mode explicit).
    const std::string wd = o.json_out ? "" : "with-defaults=report-all";
    if (what == "config") {
        url = "/restconf/data" + sub + "?content=config" + (wd.empty() ? "" : "&" + wd);
    } else if (what == "candidate") {
        url = "/restconf/ds/ietf-datastores:candidate" + sub + (wd.empty() ? "" : "?" + wd);
    } else if (what == "state") {
        url = "/restconf/data" + (sub.empty() ? std::string("/") + module_prefix + "operational" : sub) +
              "?content=nonconfig";
    } else {
        usage(2);
    }
    http_reply r = call(o, "GET", url);
    if (o.json_out) {
        std::printf("%s\n", r.body.c_str());
        return 0;
    }
    auto doc = json::parse(r.body);
    if (!doc) die("the server sent invalid JSON");
    const json::value* data = doc->find("ietf-restconf:data");
    const json::value* mg = data ? data->find("meshgate-config:meshgate") : doc->find("meshgate-config:meshgate");
    const json::value* op = data ? data->find("meshgate-config:operational") : doc->find("meshgate-config:operational");
    if (what == "state" && op) {
        print_state_tables(*op);
    } else if (what != "state" && mg) {
        print_config_tables(*mg);
    } else {
        print_json_pretty(r.body);  // a sub-resource: its JSON
    }
    return 0;
}

int set(const options& o, const std::vector<std::string>& args) {
    if (args.size() != 3) usage(2);
    cli_path p = make_path(args[1]);
    if (p.api.empty()) die("set needs a PATH");
    const std::string& val = args[2];
    std::string url = "/restconf/ds/ietf-datastores:candidate" + p.api;
    std::string member = std::string(module_prefix) + p.last;
    auto parsed = json::parse(val);
    json::value v;
    if (parsed && parsed->is_object() && parsed->members().size() == 1 &&
        parsed->members()[0].first.find(':') != std::string::npos) {
        v = parsed->members()[0].second;  // already {"module:name": ...}
    } else if (parsed && (parsed->is_object() || parsed->is_array() || parsed->is_bool() || parsed->is_number() ||
                          parsed->is_string())) {
        v = *parsed;
    } else {
        v = json::value::string(val);
    }
    auto body_of = [&](const json::value& x) {
        json::value doc = json::value::object();
        doc.set(member, x);
        return doc.dump();
    };
    // Merge into an existing node (PATCH), or create it (PUT).
    auto attempt = [&](const json::value& x) {
        http_reply r = request(o, "PATCH", url, body_of(x));
        if (r.status == 404) r = request(o, "PUT", url, body_of(x));
        return r;
    };
    http_reply r = attempt(v);
    if ((r.status == 400) && v.is_number()) {
        http_reply r2 = attempt(json::value::string(v.text()));  // a 64-bit or string leaf
        if (r2.status >= 200 && r2.status < 300) r = r2;
    }
    if (r.status < 200 || r.status > 299) fail_reply(r);
    return 0;
}

int run(const options& o, const std::vector<std::string>& args) {
    const std::string& cmd = args[0];
    if (cmd == "show") return show(o, args);
    if (cmd == "set") return set(o, args);
    if (cmd == "delete") {
        if (args.size() != 2) usage(2);
        call(o, "DELETE", "/restconf/ds/ietf-datastores:candidate" + make_path(args[1]).api);
        return 0;
    }
    if (cmd == "commit") {
        json::value in = json::value::object();
        bool confirmed = false;
        for (size_t i = 1; i < args.size(); ++i) {
            if (args[i] == "confirmed" && i + 1 < args.size()) {
                confirmed = true;
                in.set("confirmed", json::value::boolean(true));
                in.set("confirm-timeout", json::value::number(args[++i]));
            } else if (args[i] == "comment" && i + 1 < args.size()) {
                in.set("comment", json::value::string(args[++i]));
            } else {
                usage(2);
            }
        }
        http_reply r = call(o, "POST", op_path("commit"), input_body(in));
        if (confirmed) {
            auto doc = json::parse(r.body);
            const json::value* out = doc ? doc->find("meshgate-config:output") : nullptr;
            std::string id = out && out->find("persist-id") ? out->find("persist-id")->text() : "";
            save_persist_id(id);
            if (o.json_out) {
                std::printf("%s\n", r.body.c_str());
            } else {
                std::printf(
                    "confirmed commit pending; persist-id %s (saved in %s); run `meshgatectl confirm` "
                    "within %s s\n",
                    id.c_str(), state_file().c_str(), args[2].c_str());
            }
        }
        return 0;
    }
    if (cmd == "confirm" || cmd == "cancel") {
        std::string id = args.size() > 1 ? args[1] : load_persist_id();
        if (id.empty()) die("no persist id given and none saved in " + state_file());
        json::value in = json::value::object();
        in.set("persist-id", json::value::string(id));
        call(o, "POST", op_path(cmd == "confirm" ? "commit" : "cancel-commit"), input_body(in));
        if (id == load_persist_id()) save_persist_id("");
        return 0;
    }
    if (cmd == "validate" || cmd == "discard") {
        call(o, "POST", op_path(cmd == "validate" ? "validate" : "discard-changes"));
        return 0;
    }
    if (cmd == "rollback") {
        if (args.size() < 2) usage(2);
        json::value in = json::value::object();
        in.set("id", json::value::number(args[1]));
        if (args.size() > 3 && args[2] == "comment") in.set("comment", json::value::string(args[3]));
        call(o, "POST", op_path("rollback"), input_body(in));
        return 0;
    }
    if (cmd == "diff" || cmd == "history") {
        http_reply r = call(o, "POST", op_path(cmd));
        if (o.json_out) {
            std::printf("%s\n", r.body.c_str());
            return 0;
        }
        auto doc = json::parse(r.body);
        const json::value* out = doc ? doc->find("meshgate-config:output") : nullptr;
        if (!out) die("the server sent no output");
        if (cmd == "diff") {
            std::string d = scalar(out->find("diff"));
            if (d == "-") d.clear();
            std::printf("%s", d.c_str());
            if (!d.empty() && d.back() != '\n') std::printf("\n");
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& e : items_of(out->find("entry")).items())
            rows.push_back({scalar(e.find("id")), scalar(e.find("time")), scalar(e.find("user")),
                            scalar(e.find("transport")), scalar(e.find("operation")),
                            e.find("comment") ? e.find("comment")->text() : ""});
        table("History", {"ID", "TIME", "USER", "VIA", "OPERATION", "COMMENT"}, rows);
        return 0;
    }
    usage(2);
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (const char* s = std::getenv("MESHGATE_SERVER")) o.server = s;
    if (const char* s = std::getenv("MESHGATE_USER")) o.user = s;
    if (const char* s = std::getenv("MESHGATE_PASSWORD")) o.password = s;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage(2);
            return argv[++i];
        };
        if (!args.empty()) {
            args.push_back(a);
        } else if (a == "--server") {
            o.server = next();
        } else if (a == "--user") {
            o.user = next();
        } else if (a == "--password") {
            o.password = next();
        } else if (a == "--cacert") {
            o.cacert = next();
        } else if (a == "--insecure" || a == "-k") {
            o.insecure = true;
        } else if (a == "--json") {
            o.json_out = true;
        } else if (a == "--help" || a == "-h") {
            usage(0);
        } else if (a.starts_with("--")) {
            std::fprintf(stderr, "meshgatectl: unknown option %s\n", a.c_str());
            usage(2);
        } else {
            args.push_back(a);
        }
    }
    // --json may also follow the command.
    if (auto it = std::find(args.begin(), args.end(), "--json"); it != args.end()) {
        o.json_out = true;
        args.erase(it);
    }
    if (args.empty()) usage(2);
    std::signal(SIGPIPE, SIG_IGN);
    return run(o, args);
}
