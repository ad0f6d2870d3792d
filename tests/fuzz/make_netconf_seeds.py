#!/usr/bin/env python3
# Writes the seed corpus of netconf_fuzz (tests/fuzz/corpus/netconf); run from anywhere.
#
# An input is one mode byte and the bytes of one NETCONF session after the client <hello> (see
# tests/fuzz/netconf_fuzz.cpp): bit 0 base:1.1 (chunked) vs base:1.0 (]]>]]>); bit 1 raw (the
# bytes as they are) vs framed (NUL-separated messages, each framed by the harness); bits 2-4 the
# harness's chunk size (1, 2, 3, 5, 8, 13, 64, whole message); bit 5 read-only user.
# The corpus's fuzz-* entries are not written here: libFuzzer found them (tests/fuzz/run-fuzzers.sh).
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'netconf')

V11, RAW, RO = 1, 2, 32
WHOLE = 7 << 2


def chunk(i):
    return (i & 7) << 2


NC = 'urn:ietf:params:xml:ns:netconf:base:1.0'
MG = 'urn:meshgate:config'
_ids = iter(range(1, 1 << 30))


def rpc(body, attrs=''):
    return f'<rpc xmlns="{NC}" message-id="{next(_ids)}"{attrs}>{body}</rpc>'


GET_CONFIG_RUNNING = rpc('<get-config><source><running/></source></get-config>')
GET_CONFIG_CANDIDATE = rpc('<get-config><source><candidate/></source></get-config>')
GET_SUBTREE = rpc(f'<get><filter type="subtree"><meshgate xmlns="{MG}"><service><name>web4</name><vip/>'
                  '</service></meshgate></filter></get>')
GET_SUBTREE_OPER = rpc(f'<get><filter type="subtree"><operational xmlns="{MG}"><interface/></operational>'
                       '</filter></get>')
GET_XPATH = rpc(f'<get-config><source><running/></source><filter type="xpath" xmlns:mg="{MG}" '
                'select="/mg:meshgate/mg:route"/></get-config>')
GET_YANGLIB = rpc('<get><filter type="subtree"><modules-state xmlns="urn:ietf:params:xml:ns:yang:'
                  'ietf-yang-library"><module><name/></module></modules-state></filter></get>')
GET_WD = rpc('<get-config><source><running/></source><with-defaults xmlns="urn:ietf:params:xml:ns:yang:'
             'ietf-netconf-with-defaults">report-all-tagged</with-defaults></get-config>')
GET_SCHEMA = rpc('<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
                 '<identifier>meshgate-config</identifier><format>yang</format></get-schema>')
EDIT_MERGE = rpc(f'<edit-config><target><candidate/></target><config><meshgate xmlns="{MG}">'
                 '<service><name>web4</name><port>8080</port></service>'
                 '<icmp><errors-burst>50</errors-burst></icmp></meshgate></config></edit-config>')
EDIT_DELETE = rpc(f'<edit-config><target><candidate/></target><default-operation>none</default-operation>'
                  f'<config><meshgate xmlns="{MG}" xmlns:nc="{NC}"><route nc:operation="delete">'
                  '<prefix>198.18.100.0/24</prefix></route></meshgate></config></edit-config>')
EDIT_CREATE_REPLACE = rpc(
    f'<edit-config><target><candidate/></target><test-option>test-then-set</test-option>'
    f'<error-option>rollback-on-error</error-option><config><meshgate xmlns="{MG}" xmlns:nc="{NC}">'
    '<route nc:operation="create"><prefix>198.18.200.0/24</prefix><next-hop>198.18.3.2</next-hop>'
    '<interface>srv2</interface></route><icmp nc:operation="replace"><errors-per-second>10</errors-per-second>'
    '</icmp><service nc:operation="remove"><name>nope</name></service></meshgate></config></edit-config>')
EDIT_BAD_VALUE = rpc(f'<edit-config><target><candidate/></target><config><meshgate xmlns="{MG}">'
                     '<service><name>web4</name><port>99999</port></service></meshgate></config></edit-config>')
EDIT_UNKNOWN = rpc(f'<edit-config><target><candidate/></target><config><meshgate xmlns="{MG}"><bogus/>'
                   '</meshgate></config></edit-config>')
EDIT_RUNNING = rpc(f'<edit-config><target><running/></target><config><meshgate xmlns="{MG}"><icmp>'
                   '<errors-burst>7</errors-burst></icmp></meshgate></config></edit-config>')
COPY_CONFIG_INLINE = rpc(f'<copy-config><target><candidate/></target><source><config><meshgate xmlns="{MG}">'
                         '<icmp><errors-burst>5</errors-burst></icmp></meshgate></config></source></copy-config>')
COPY_R2C = rpc('<copy-config><target><candidate/></target><source><running/></source></copy-config>')
VALIDATE = rpc('<validate><source><candidate/></source></validate>')
VALIDATE_CONFIG = rpc(f'<validate><source><config><meshgate xmlns="{MG}"><icmp><errors-burst>1</errors-burst>'
                      '</icmp></meshgate></config></source></validate>')
COMMIT = rpc('<commit/>')
CONFIRMED = rpc('<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>')
CONFIRMED_PERSIST = rpc('<commit><confirmed/><persist>p1</persist></commit>')
CONFIRM_PERSIST = rpc('<commit><persist-id>p1</persist-id></commit>')
CANCEL = rpc('<cancel-commit/>')
CANCEL_PERSIST = rpc('<cancel-commit><persist-id>p1</persist-id></cancel-commit>')
LOCK_C = rpc('<lock><target><candidate/></target></lock>')
UNLOCK_C = rpc('<unlock><target><candidate/></target></unlock>')
LOCK_R = rpc('<lock><target><running/></target></lock>')
UNLOCK_R = rpc('<unlock><target><running/></target></unlock>')
DISCARD = rpc('<discard-changes/>')
KILL = rpc('<kill-session><session-id>4242</session-id></kill-session>')
CLOSE = rpc('<close-session/>')
DELETE_CONFIG = rpc('<delete-config><target><startup/></target></delete-config>')

MALFORMED = f'<rpc xmlns="{NC}" message-id="9"><get-config><source><running/></get-config></rpc>'
NOT_XML = 'hello there, not xml at all <<<>>> &amp; &bogus;'
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + ''.join(f'<!ENTITY lol{i} "' + f'&lol{i - 1 if i > 1 else ""};' * 10 + '">' for i in range(1, 10))
          + f']><rpc xmlns="{NC}" message-id="1"><get-config><source><running/></source><filter>&lol9;</filter>'
          '</get-config></rpc>')
ENTITY_IN_RPC = rpc('<get-config><source><running/></source><filter>&lol;&#x41;&lt;</filter></get-config>')
UNKNOWN_RPC = rpc('<frobnicate xmlns="urn:example:nope"/>')
UNKNOWN_NC_OP = rpc('<frobnicate/>')
NO_MSGID = f'<rpc xmlns="{NC}"><get-config><source><running/></source></get-config></rpc>'
HELLO_AGAIN = (f'<hello xmlns="{NC}"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability>'
               '</capabilities></hello>')
RPC_REPLY = f'<rpc-reply xmlns="{NC}" message-id="1"><ok/></rpc-reply>'


def msgs(*ms):
    return '\0'.join(ms).encode()


def chunked(msg, sizes):
    """base:1.1 framing of msg with the given chunk sizes (the last one takes the rest)."""
    b = msg.encode() if isinstance(msg, str) else msg
    out, off = b'', 0
    for n in sizes:
        if off >= len(b):
            break
        out += b'\n#%d\n' % min(n, len(b) - off) + b[off:off + n]
        off += n
    if off < len(b):
        out += b'\n#%d\n' % (len(b) - off) + b[off:]
    return out + b'\n##\n'


def eom(msg):
    return (msg.encode() if isinstance(msg, str) else msg) + b']]>]]>'


seeds = {
    # framed by the harness, base:1.1, whole-message chunks unless said otherwise
    'get-config-running': (V11 | WHOLE, msgs(GET_CONFIG_RUNNING)),
    'get-config-candidate-chunk5': (V11 | chunk(3), msgs(GET_CONFIG_CANDIDATE)),
    'get-subtree': (V11 | WHOLE, msgs(GET_SUBTREE, GET_SUBTREE_OPER)),
    'get-xpath-yanglib-wd': (V11 | chunk(6), msgs(GET_XPATH, GET_YANGLIB, GET_WD)),
    'get-schema': (V11 | WHOLE, msgs(GET_SCHEMA)),
    'edit-merge-delete-commit': (V11 | WHOLE, msgs(LOCK_C, EDIT_MERGE, EDIT_DELETE, VALIDATE, COMMIT, UNLOCK_C,
                                                    GET_CONFIG_RUNNING)),
    'edit-create-replace-discard': (V11 | chunk(5), msgs(EDIT_CREATE_REPLACE, GET_CONFIG_CANDIDATE, DISCARD)),
    'edit-errors': (V11 | WHOLE, msgs(EDIT_BAD_VALUE, EDIT_UNKNOWN, EDIT_RUNNING, DELETE_CONFIG)),
    'validate-config': (V11 | WHOLE, msgs(VALIDATE_CONFIG, VALIDATE, COPY_R2C)),
    'copy-config-inline': (V11 | WHOLE, msgs(COPY_CONFIG_INLINE, GET_CONFIG_CANDIDATE, COPY_R2C)),
    # messages without any element (libnetconf2 2.0.24 crashed on these; see netconf_server.cpp)
    'empty-messages': (V11 | WHOLE, msgs(' ', '<?xml version="1.0"?>', '<!-- c -->', GET_CONFIG_RUNNING)),
    'eom-raw-empty': (RAW, b' ]]>]]>' + eom(GET_CONFIG_RUNNING)),
    'confirmed-commit-cancel': (V11 | WHOLE, msgs(EDIT_MERGE, CONFIRMED, GET_CONFIG_RUNNING, CANCEL)),
    'confirmed-commit-persist': (V11 | WHOLE, msgs(EDIT_MERGE, CONFIRMED_PERSIST, CONFIRM_PERSIST,
                                                    EDIT_DELETE, CONFIRMED_PERSIST, CANCEL_PERSIST)),
    'confirmed-commit-session-end': (V11 | chunk(7), msgs(EDIT_MERGE, CONFIRMED)),
    'lock-unlock': (V11 | WHOLE, msgs(LOCK_R, LOCK_C, LOCK_C, EDIT_MERGE, UNLOCK_R, UNLOCK_C, UNLOCK_C)),
    'lock-dirty-candidate': (V11 | WHOLE, msgs(EDIT_MERGE, LOCK_C, DISCARD, LOCK_C)),
    'kill-session': (V11 | WHOLE, msgs(KILL, rpc('<kill-session><session-id>1</session-id></kill-session>'))),
    'close-session': (V11 | WHOLE, msgs(CLOSE, GET_CONFIG_RUNNING)),
    'read-only-user': (V11 | WHOLE | RO, msgs(GET_CONFIG_RUNNING, EDIT_MERGE, LOCK_C, COMMIT,
                                              rpc('<edit-config><target><candidate/></target><test-option>'
                                                  f'test-only</test-option><config><meshgate xmlns="{MG}"/>'
                                                  '</config></edit-config>'))),
    'malformed-xml': (V11 | WHOLE, msgs(MALFORMED, NOT_XML, GET_CONFIG_RUNNING)),
    'billion-laughs': (V11 | WHOLE, msgs(LAUGHS, ENTITY_IN_RPC)),
    'unknown-rpc': (V11 | WHOLE, msgs(UNKNOWN_RPC, UNKNOWN_NC_OP, NO_MSGID, HELLO_AGAIN, RPC_REPLY)),
    # base:1.0, end-of-message framing
    'eom-get-edit-commit': (WHOLE, msgs(GET_CONFIG_RUNNING, EDIT_MERGE, COMMIT, CLOSE)),
    'eom-raw-split-marker': (RAW, eom(GET_CONFIG_RUNNING) + b']]>]]' + eom(VALIDATE) + b']]>' + eom(DISCARD)),
    'eom-raw-unterminated': (RAW, eom(LOCK_C) + GET_CONFIG_CANDIDATE.encode()),
    'eom-raw-chunk-header': (RAW, chunked(GET_CONFIG_RUNNING, [1000])),
    # base:1.1, chunked framing written by hand (raw)
    'chunk-tiny': (V11 | chunk(0), msgs(VALIDATE)),
    'chunk-raw-mid-element': (V11 | RAW, chunked(EDIT_MERGE, [17, 1, 40, 3]) + chunked(COMMIT, [5])),
    'chunk-raw-many-tiny': (V11 | RAW, chunked(GET_CONFIG_RUNNING, [1] * 200)),
    'chunk-raw-bad-header': (V11 | RAW, b'\n#abc\n' + GET_CONFIG_RUNNING.encode() + b'\n##\n'),
    'chunk-raw-zero': (V11 | RAW, b'\n#0\n\n##\n' + chunked(GET_CONFIG_RUNNING, [])),
    'chunk-raw-leading-zero': (V11 | RAW, b'\n#012\n<rpc xmlns=\n##\n'),
    'chunk-raw-huge-size': (V11 | RAW, b'\n#4294967295\n' + GET_CONFIG_RUNNING.encode() + b'\n##\n'),
    'chunk-raw-over-max': (V11 | RAW, b'\n#4294967296\n<rpc/>\n##\n'),
    'chunk-raw-long-digits': (V11 | RAW, b'\n#' + b'9' * 40 + b'\n<rpc/>\n##\n'),
    'chunk-raw-short': (V11 | RAW, b'\n#500\n' + GET_CONFIG_RUNNING.encode() + b'\n##\n'),
    'chunk-raw-missing-end': (V11 | RAW, b'\n#5\n<rpc/' + b'\n#3\nabc'),
    'chunk-raw-bad-delims': (V11 | RAW, b'#5\n<rpc>\n##\n' + b'\n#5\n<rpc>\n#\n' + b'\n##\n'),
    'chunk-raw-eom-in-11': (V11 | RAW, eom(GET_CONFIG_RUNNING)),
    'chunk-raw-two-msgs': (V11 | RAW, chunked(LOCK_C, [30]) + chunked(UNLOCK_C, [2, 2, 2])),
}

os.makedirs(OUT, exist_ok=True)
for name, (mode, body) in seeds.items():
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(bytes([mode]) + body)
print(f'{len(seeds)} seeds in {OUT}')
