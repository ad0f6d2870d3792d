#!/usr/bin/python3
"""NETCONF (RFC 6241 over SSH, RFC 6242) against a running meshgate-mgmtd, with ncclient.

    /usr/bin/python3 netconf_test.py --host 127.0.0.1 --port 18830 \
        [--user admin --password adminpw] [--key ADMIN_KEY] \
        [--viewer viewer --viewer-password viewerpw] [--vip 198.18.50.20]

mgmtd must run the lab's initial config (mgmt/yang/examples/lab-l4.json: services web4, web6,
nat46). Prints one line per check ("ok: ..." or "FAIL: ...") and exits 1 if any failed. On
success the running config has one more service than at the start, "nc-web" (VIP --vip, TCP 80,
backend 198.18.2.2:8080 on srv1), which the caller can check with traffic.

Uses /usr/bin/python3 (Debian's python3-ncclient).
"""
import argparse
import re
import socket
import sys
import time

import paramiko
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

NS_NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS_MG = "urn:meshgate:config"

failures = 0


def check(cond, what, detail=""):
    global failures
    if cond:
        print("ok: " + what, flush=True)
    else:
        failures += 1
        print("FAIL: " + what + (" -- " + detail if detail else ""), flush=True)
    return cond


def connect(args, user=None, password=None, key=None):
    kw = dict(host=args.host, port=args.port, username=user or args.user, hostkey_verify=False,
              allow_agent=False, look_for_keys=False, timeout=30)
    if key:
        kw["key_filename"] = key
    else:
        kw["password"] = password if password is not None else args.password
    return manager.connect(**kw)


def xml_of(reply):
    return etree.fromstring(reply.xml.encode() if isinstance(reply.xml, str) else reply.xml)


def services(m, source="running"):
    """Names of the services in a datastore."""
    r = m.get_config(source=source, filter=("subtree", '<meshgate xmlns="%s"><service><name/></service></meshgate>'
                                            % NS_MG))
    return sorted(e.text for e in xml_of(r).iter("{%s}name" % NS_MG))


def running_xml(m):
    return etree.tostring(xml_of(m.get_config(source="running")).find("{%s}data" % NS_NC), method="c14n")


def expect_error(fn, tags, what, path_has=None, msg_has=None):
    """Runs fn; checks that it fails with an rpc-error whose tag is in tags (and whose error-path or
    error-message names path_has / msg_has). Returns the RPCError (or None)."""
    try:
        fn()
    except RPCError as e:
        errs = e.errors if getattr(e, "errors", None) else [e]
        e0 = errs[0]
        ok = e0.tag in tags
        detail = "tag=%s type=%s path=%s message=%s" % (e0.tag, e0.type, e0.path, e0.message)
        if ok and path_has:
            ok = path_has in ((e0.path or "") + " " + (e0.message or ""))
        if ok and msg_has:
            ok = msg_has in (e0.message or "")
        check(ok, what + " (" + detail + ")", "expected tag in %s naming %r" % (tags, path_has or msg_has))
        return e0
    except Exception as e:  # noqa: BLE001 - any other failure is a test failure
        check(False, what, "expected an rpc-error, got %r" % e)
        return None
    check(False, what, "expected an rpc-error, the operation succeeded")
    return None


def service_xml(name, vip, port=80, operation=None):
    op = ' xmlns:nc="%s" nc:operation="%s"' % (NS_NC, operation) if operation else ""
    return ('<config xmlns="%s"><meshgate xmlns="%s"><service%s><name>%s</name><vip>%s</vip><protocol>tcp</protocol>'
            '<port>%s</port><backend><address>198.18.2.2</address><port>8080</port></backend></service>'
            '</meshgate></config>' % (NS_NC, NS_MG, op, name, vip, port))


def delete_service_xml(name):
    return ('<config xmlns="%s"><meshgate xmlns="%s"><service xmlns:nc="%s" nc:operation="delete"><name>%s</name></service>'
            '</meshgate></config>' % (NS_NC, NS_MG, NS_NC, name))


# --- a raw NETCONF 1.0 client (end-of-message framing) for what ncclient cannot send -------------

class RawSession:
    def __init__(self, args):
        self.t = paramiko.Transport(socket.create_connection((args.host, args.port), timeout=30))
        self.t.connect(username=args.user, password=args.password)
        self.ch = self.t.open_session()
        self.ch.settimeout(30)
        self.ch.invoke_subsystem("netconf")
        self.buf = b""
        self.hello = self.read()
        self.send('<hello xmlns="%s"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability>'
                  '</capabilities></hello>' % NS_NC)

    def send(self, text):
        self.ch.sendall(text.encode() + b"]]>]]>")

    def read(self):
        while b"]]>]]>" not in self.buf:
            d = self.ch.recv(65536)
            if not d:
                raise EOFError("session closed")
            self.buf += d
        msg, self.buf = self.buf.split(b"]]>]]>", 1)
        return msg.decode(errors="replace")

    def rpc(self, text):
        self.send(text)
        return self.read()

    def close(self):
        try:
            self.rpc('<rpc message-id="99" xmlns="%s"><close-session/></rpc>' % NS_NC)
        except Exception:  # noqa: BLE001
            pass
        self.t.close()


def error_tag(reply):
    m = re.search(r"<error-tag>([^<]*)</error-tag>", reply)
    return m.group(1) if m else None


# -------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18830)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="adminpw")
    ap.add_argument("--key", help="the admin's SSH private key (checks key authentication)")
    ap.add_argument("--viewer", default="viewer")
    ap.add_argument("--viewer-password", default="viewerpw")
    ap.add_argument("--vip", default="198.18.50.20", help="VIP of the service the test adds")
    args = ap.parse_args()
    try:
        run(args)
    except Exception as e:  # noqa: BLE001 - an unexpected error ends the test as a failure
        check(False, "unexpected error", "%s: %s" % (type(e).__name__, e))
    print("netconf_test: %d failure(s)" % failures, flush=True)
    return 1 if failures else 0


def run(args):
    # --- hello and authentication
    a = connect(args)
    caps = set(a.server_capabilities)
    for c in ["urn:ietf:params:netconf:base:1.0", "urn:ietf:params:netconf:base:1.1",
              "urn:ietf:params:netconf:capability:candidate:1.0",
              "urn:ietf:params:netconf:capability:validate:1.1",
              "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
              "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
              "urn:ietf:params:netconf:capability:xpath:1.0"]:
        check(c in caps, "capability " + c)
    check(any(c.startswith("urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit") for c in caps),
          "capability :with-defaults (basic-mode explicit)")
    check(not any(":startup:" in c for c in caps), "no :startup capability")
    check(any("yang-library" in c for c in caps), "capability yang-library (meshgate-config is YANG 1.1)")
    check(a.session_id is not None and 0 < int(a.session_id) < 1000000,
          "session-id %s from the hello" % a.session_id)
    if args.key:
        try:
            k = connect(args, key=args.key)
            check(k.connected, "public key authentication (%s)" % args.key)
            k.close_session()
        except Exception as e:  # noqa: BLE001
            check(False, "public key authentication", repr(e))
    try:
        connect(args, password="wrong-password")
        check(False, "a wrong password is refused")
    except Exception:  # noqa: BLE001
        check(True, "a wrong password is refused")

    # --- reading
    start_services = services(a)
    check({"web4", "web6", "nat46"} <= set(start_services), "get-config running: the lab services %s" % start_services)
    r = xml_of(a.get_config(source="running", filter=(
        "subtree", '<meshgate xmlns="%s"><service><name>web4</name></service></meshgate>' % NS_MG)))
    names = [e.text for e in r.iter("{%s}name" % NS_MG)]
    vips = [e.text for e in r.iter("{%s}vip" % NS_MG)]
    check(names == ["web4"] and vips == ["198.18.50.10"] and r.find(".//{%s}backend" % NS_MG) is not None,
          "subtree filter on a list key: web4 only, whole entry", "names=%s vips=%s" % (names, vips))
    r = xml_of(a.get_config(source="running", filter=(
        "subtree", '<meshgate xmlns="%s"><service><protocol>tcp</protocol><vip/></service></meshgate>' % NS_MG)))
    vips = sorted(e.text for e in r.iter("{%s}vip" % NS_MG))
    check(len(vips) >= 3 and r.find(".//{%s}backend" % NS_MG) is None,
          "subtree filter: content match + selection (vips of tcp services: %s)" % vips)
    r = xml_of(a.get_config(source="running", filter=(
        "subtree", '<meshgate xmlns="%s"><service><name>no-such</name></service></meshgate>' % NS_MG)))
    check(len(r.find("{%s}data" % NS_NC)) == 0, "subtree filter matching nothing: empty <data/>")
    r = xml_of(a.get_config(source="running", filter=("xpath", "/meshgate/service[name='web6']/vip")))
    vips = [e.text for e in r.iter("{%s}vip" % NS_MG)]
    check(vips == ["fd00:50::10"], "xpath filter: web6's vip %s" % vips)
    r = xml_of(a.get(filter=("subtree", '<meshgate xmlns="%s"><interface><name/></interface></meshgate>' % NS_MG)))
    ifs = sorted(e.text for e in r.iter("{%s}name" % NS_MG))
    check(ifs == ["client", "srv1", "srv2"], "get with a subtree filter: interfaces %s" % ifs)
    r = xml_of(a.get())
    check(r.find(".//{%s}meshgate" % NS_MG) is not None, "get: running config")
    print("info: get %s operational state" % ("has" if r.find(".//{%s}operational" % NS_MG) is not None
                                              else "has no"), flush=True)
    r = xml_of(a.get_config(source="running", filter=(
        "subtree", '<meshgate xmlns="%s"><flows/></meshgate>' % NS_MG), with_defaults="report-all"))
    check(r.find(".//{%s}udp-timeout" % NS_MG) is not None, "with-defaults report-all shows default leaves")
    r = xml_of(a.get_config(source="running", filter=("subtree", '<meshgate xmlns="%s"><flows/></meshgate>' % NS_MG)))
    check(r.find(".//{%s}udp-timeout" % NS_MG) is None, "with-defaults explicit (the default): no default leaves")
    r = xml_of(a.get(filter=("subtree", '<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/>')))
    mods = [e.text for e in r.iter("{urn:ietf:params:xml:ns:yang:ietf-yang-library}name")]
    check("meshgate-config" in mods, "get: yang-library lists meshgate-config")
    try:
        schema = a.get_schema("meshgate-config")
        check("module meshgate-config" in schema.data, "get-schema meshgate-config")
    except Exception as e:  # noqa: BLE001
        check(False, "get-schema meshgate-config", repr(e))
    before = running_xml(a)

    # --- edit candidate, validate, commit
    new = "nc-web"
    a.edit_config(target="candidate", config=service_xml(new, args.vip))
    check(new in services(a, "candidate") and new not in services(a), "edit-config: candidate has %s, running not" % new)
    a.validate(source="candidate")
    check(True, "validate candidate")
    a.commit()
    check(new in services(a), "commit: running has %s (VIP %s)" % (new, args.vip))
    committed = running_xml(a)

    # --- confirmed commit, not confirmed: rolls back
    a.edit_config(target="candidate", config=service_xml("nc-confirm", "198.18.50.21"))
    a.commit(confirmed=True, timeout="3")
    check("nc-confirm" in services(a), "confirmed commit (3 s): running has nc-confirm")
    time.sleep(5.5)
    check("nc-confirm" not in services(a) and running_xml(a) == committed,
          "confirmed commit not confirmed: running back after the timeout", str(services(a)))
    a.discard_changes()

    # --- confirmed commit, confirmed: stays
    a.edit_config(target="candidate", config=service_xml("nc-confirm", "198.18.50.21"))
    a.commit(confirmed=True, timeout="3")
    a.commit()
    time.sleep(4.5)
    check("nc-confirm" in services(a), "confirmed commit then confirming commit: stays after the timeout")
    # persisted confirmed commit, cancelled from another session
    a.edit_config(target="candidate", config=delete_service_xml("nc-confirm"))
    a.commit(confirmed=True, timeout="60", persist="nc-test-persist")
    check("nc-confirm" not in services(a), "persisted confirmed commit applied")
    b = connect(args)
    b.cancel_commit(persist_id="nc-test-persist")
    check("nc-confirm" in services(b), "cancel-commit with persist-id from another session: rolled back")
    a.discard_changes()
    a.edit_config(target="candidate", config=delete_service_xml("nc-confirm"))
    a.commit()
    check(running_xml(a) == committed, "running as after the first commit")

    # --- locks
    a.lock(target="running")
    a.lock(target="candidate")
    e = expect_error(lambda: b.lock(target="running"), ["lock-denied"], "B's lock on running (A holds it)")
    if e is not None:
        check(e.info is not None and ("<session-id>%s</session-id>" % a.session_id) in re.sub(r"\s|nc:", "", e.info),
              "lock-denied names A's session-id %s" % a.session_id, str(e.info))
    expect_error(lambda: b.lock(target="candidate"), ["lock-denied"], "B's lock on candidate (A holds it)")
    expect_error(lambda: b.edit_config(target="candidate", config=service_xml("nc-b", "198.18.50.22")),
                 ["in-use", "lock-denied"], "B's edit-config of the locked candidate")
    expect_error(lambda: b.commit(), ["in-use", "lock-denied"], "B's commit while A holds the locks")
    expect_error(lambda: b.kill_session(b.session_id), ["invalid-value"], "kill-session of itself")
    b.kill_session(a.session_id)
    check(True, "B kills A (session %s)" % a.session_id)
    b.lock(target="running")
    check(True, "B locks running after the kill")
    b.edit_config(target="candidate", config=service_xml("nc-b", "198.18.50.22"))
    b.commit()
    check("nc-b" in services(b), "B commits after the kill")
    b.edit_config(target="candidate", config=delete_service_xml("nc-b"))
    b.commit()
    b.unlock(target="running")
    time.sleep(0.5)
    check(not a.connected, "A's transport is closed after the kill")

    # --- bad input: each an rpc-error, running unchanged
    c = connect(args)
    expect_error(lambda: c.edit_config(target="candidate", config=service_xml("nc-bad", "198.18.50.23", port=70000)),
                 ["invalid-value"], "edit-config port 70000", path_has="port")
    c.discard_changes()
    bad_route = ('<config xmlns="%s"><meshgate xmlns="%s"><route><prefix>198.18.200.0/24</prefix><interface>nope</interface>'
                 '</route></meshgate></config>' % (NS_NC, NS_MG))

    def leafref():
        c.edit_config(target="candidate", config=bad_route)
        c.commit()
    expect_error(leafref, ["data-missing", "invalid-value", "operation-failed"],
                 "route to a missing interface: edit or commit fails", path_has="interface")
    c.discard_changes()
    unknown = '<config xmlns="%s"><meshgate xmlns="%s"><bogus>1</bogus></meshgate></config>' % (NS_NC, NS_MG)
    expect_error(lambda: c.edit_config(target="candidate", config=unknown), ["unknown-element"],
                 "edit-config with an unknown element", path_has="bogus")
    expect_error(lambda: c.edit_config(target="candidate", config=service_xml(new, args.vip, operation="create")),
                 ["data-exists"], "edit-config create of an existing service")
    expect_error(lambda: c.edit_config(target="candidate", config=delete_service_xml("no-such-service")),
                 ["data-missing"], "edit-config delete of a missing service")
    expect_error(lambda: c.edit_config(target="candidate", config=service_xml("nc-x", "198.18.50.24"),
                                       error_option="continue-on-error"),
                 ["operation-not-supported"], "edit-config error-option continue-on-error")
    c.edit_config(target="candidate", config=service_xml("nc-t", "198.18.50.25"), test_option="test-only")
    check("nc-t" not in services(c, "candidate"), "edit-config test-only changes nothing")
    c.discard_changes()
    c.edit_config(target="candidate", config=delete_service_xml("web6"))
    c.copy_config(source="running", target="candidate")
    check("web6" in services(c, "candidate"), "copy-config running to candidate resets the candidate")
    c.discard_changes()

    # libnetconf2 2.0 answers an <rpc> that fails to parse with operation-failed and libyang's
    # message; a message it cannot find an <rpc> in (a DOCTYPE first, another root element) gets no
    # reply at all, and the session goes on.
    raw = RawSession(args)
    check("<session-id>" in raw.hello, "raw session (base:1.0 framing) hello")
    get_web4 = ('<rpc message-id="%d" xmlns="%s"><get-config><source><running/></source><filter><meshgate xmlns="%s">'
                '<service><name>web4</name><vip/></service></meshgate></filter></get-config></rpc>')
    rep = raw.rpc('<rpc message-id="1" xmlns="%s"><get-config><source><running/></source></get-config' % NS_NC)
    check(error_tag(rep) in ("malformed-message", "operation-failed") and "<error-message" in rep,
          "malformed XML (truncated): rpc-error %s" % error_tag(rep), rep[:300])
    rep = raw.rpc('<rpc message-id="2" xmlns="%s"><get-config><source><running/></source></get></rpc>' % NS_NC)
    check(error_tag(rep) in ("malformed-message", "operation-failed") and "mismatch" in rep,
          "malformed XML (tag mismatch): rpc-error %s naming the mismatch" % error_tag(rep), rep[:300])
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10)
                        for i in range(1, 10))
              + ']><rpc message-id="3" xmlns="%s"><edit-config><target><candidate/></target><config>'
                '<meshgate xmlns="%s"><service><name>&lol9;</name></service></meshgate></config></edit-config></rpc>'
              % (NS_NC, NS_MG))
    t0 = time.time()
    raw.ch.settimeout(3)
    try:
        rep = raw.rpc(laughs)
        check(error_tag(rep) is not None, "billion laughs (DOCTYPE with entities): rpc-error %s" % error_tag(rep),
              rep[:300])
    except (socket.timeout, TimeoutError):
        check(True, "billion laughs (DOCTYPE with entities): dropped without a reply (libnetconf2 finds no <rpc>)")
    except EOFError:
        check(True, "billion laughs (DOCTYPE with entities): session closed")
    raw.ch.settimeout(30)
    try:
        rep = raw.rpc(get_web4 % (4, NS_NC, NS_MG))
        check("198.18.50.10" in rep and time.time() - t0 < 10,
              "after the billion laughs the session answers at once (nothing expanded)", rep[:300])
    except EOFError:
        check(True, "after the billion laughs the session is closed")
    raw.close()
    raw = RawSession(args)
    rep = raw.rpc('<rpc message-id="6" xmlns="%s"><get-config><source><running/></source><bogus/></get-config></rpc>'
                  % NS_NC)
    check(error_tag(rep) in ("unknown-element", "malformed-message", "operation-failed") and "bogus" in rep,
          "unknown element in an RPC: rpc-error %s naming it" % error_tag(rep), rep[:300])
    rep = raw.rpc('<rpc message-id="7" xmlns="%s"><no-such-rpc/></rpc>' % NS_NC)
    check(error_tag(rep) in ("unknown-element", "operation-not-supported", "operation-failed")
          and "no-such-rpc" in rep, "unknown RPC: rpc-error %s naming it" % error_tag(rep), rep[:300])
    rep = raw.rpc('<rpc message-id="8" xmlns="%s"><get-config><source><running/></source><filter>'
                  '<meshgate xmlns="%s"><service><name>&amp;&lt;web4</name></service></meshgate></filter>'
                  '</get-config></rpc>' % (NS_NC, NS_MG))
    check("<data" in rep and "rpc-error" not in rep, "predefined entities in a subtree filter", rep[:300])
    raw.close()
    check(running_xml(c) == committed, "running unchanged by the bad input")
    check(c.connected, "the server still serves after the bad input")

    # --- read-only user
    v = connect(args, user=args.viewer, password=args.viewer_password)
    check(new in services(v), "read-only user: get-config")
    expect_error(lambda: v.edit_config(target="candidate", config=service_xml("nc-v", "198.18.50.26")),
                 ["access-denied"], "read-only user: edit-config")
    expect_error(lambda: v.lock(target="candidate"), ["access-denied"], "read-only user: lock")
    expect_error(lambda: v.commit(), ["access-denied"], "read-only user: commit")
    expect_error(lambda: v.kill_session(c.session_id), ["access-denied"], "read-only user: kill-session")
    v.close_session()

    check(running_xml(c) == committed and before != committed, "final running: the lab config plus %s" % new)
    c.close_session()
    b.close_session()


if __name__ == "__main__":
    sys.exit(main())
