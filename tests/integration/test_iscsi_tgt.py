#!/usr/bin/python3
"""Black-box end-to-end test of uiscsid's iSCSI engine against tgt (issue 4).

Written only from ../shared/API.md, docs/api.md, tests/targets/README.md and
the tgt quirks in shared/target/NOTES.md section 6. It starts its own tgt lab
(tests/targets/tgt-lab start PORT) and its own uiscsid in a private runtime
dir, talks to the daemon through the project's Python client, and stops both
at the end. Every wait is bounded; the whole file stays under 5 minutes.

usage: test_iscsi_tgt.py UISCSID [--port 3261] [--only SUBSTRING]
Prints one "ok NAME" / "FAIL NAME" line per test and ends with
"N passed, N failed" (exit status 1 when something failed).

Two runs at the same time need different ports (--port).
"""
import base64
import errno
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib_daemon import (run_lab_suite, KiB, MiB, SK_DATA_PROTECT, SK_ILLEGAL_REQUEST,  # noqa: E402
                        SK_NO_SENSE, SK_UNIT_ATTENTION, AuthFailed, Daemon, EventRecorder,
                        Lab, LoginFailed, Runner, ScsiCheckCondition, SessionNotFound,
                        TmfFailed, TransportError, UiscsiError, absorb_ua, boundary_sizes,
                        check_cc, close_all_sessions, events_since, expect_error, first_diff,
                        integrity, last_seq, num, parse_sense, read_att, read_b64, write_att,
                        write_b64, yes, ROOT)
import uiscsi  # noqa: E402  (on the path lib_daemon set up)

D = None      # the Daemon
LAB = None    # the tgt Lab
E = {}        # the lab's env (tgt-lab env PORT)

SESSION_INFO_KEYS = ("session", "target", "portal", "state", "refs", "isid", "tsih",
                     "negotiated", "counters", "in_flight", "cmdsn_window", "reconnects",
                     "last_error")
OPEN_KEYS = ("session", "attached", "target", "portal", "isid", "tsih", "state", "negotiated")


def P():
    return E["TGT_PORTAL"]


def iqn(name):
    return E["TGT_IQN_" + name.upper()]


def opn(c, target, **kw):
    """session.open on the IPv4 portal; returns a uiscsi Session."""
    kw.setdefault("timeout_ms", 15000)
    return c.session(P(), iqn(target), **kw)


def chap(user, secret, **kw):
    a = {"method": "chap", "user": user, "secret": secret}
    a.update(kw)
    return a


def disk_blocks_free_region(index):
    """Disjoint lba regions of the disk LUN per test (1 MiB of 512 B blocks each
    index step of 32 MiB), so tests never read each other's data."""
    return index * (32 * MiB // 512)


# ================================================================ discovery

# B17, B16: SendTargets over IPv4 lists every target but acl, with its portal.
def t_b17_discovery_ipv4():
    c = D.client()
    try:
        r = c.discovery_send_targets(P(), timeout_ms=10000)
        names = sorted(t["name"] for t in r["targets"])
        want = sorted(iqn(x) for x in ("disk", "null", "multi", "chap", "mutual", "digest",
                                       "r2t", "nop"))
        assert names == want, names
        for t in r["targets"]:
            assert t["portals"], t
            for p in t["portals"]:
                assert set(p) >= {"address", "port", "tpgt"}, p
                assert p["address"] == E["TGT_HOST"], p
                assert p["port"] == int(E["TGT_PORT"]) and p["tpgt"] == 1, p
    finally:
        c.close()


# B16, B17: SendTargets over the IPv6 portal [::1]:PORT (portal address ::1).
def t_b16_discovery_ipv6():
    if not E.get("TGT_PORTAL6"):
        print("  (no IPv6 loopback in this lab: nothing to check)")
        return
    c = D.client()
    try:
        r = c.discovery_send_targets(E["TGT_PORTAL6"], timeout_ms=10000)
        names = {t["name"] for t in r["targets"]}
        assert iqn("disk") in names and iqn("acl") not in names, names
        p = [t for t in r["targets"] if t["name"] == iqn("disk")][0]["portals"][0]
        assert p["address"] in ("::1", "[::1]"), p
        assert p["port"] == int(E["TGT_PORT"]) and p["tpgt"] == 1, p
        # A session over IPv6 works too.
        with c.session(E["TGT_PORTAL6"], iqn("disk"), share=False, timeout_ms=15000) as s:
            absorb_ua(s, 1)
    finally:
        c.close()


# B17, B6: the acl target is visible only to the allowed initiator.
def t_b17_discovery_acl():
    c = D.client()
    try:
        r = c.discovery_send_targets(P(), initiator_name=E["TGT_ACL_ALLOWED_INITIATOR"],
                                     timeout_ms=10000)
        assert iqn("acl") in {t["name"] for t in r["targets"]}, r
        r = c.discovery_send_targets(P(), initiator_name="iqn.2026-11.dev.uiscsi:stranger",
                                     timeout_ms=10000)
        assert iqn("acl") not in {t["name"] for t in r["targets"]}, r
    finally:
        c.close()


# R8: an unreachable portal gives TRANSPORT_ERROR (op connect) quickly.
def t_r8_unreachable_portal():
    c = D.client(timeout=15)
    try:
        for fn, kw in ((c.session_open, {"target": iqn("disk")}),
                       (c.discovery_send_targets, {})):
            t0 = time.monotonic()
            e = expect_error(TransportError, fn, "127.0.0.1:1", timeout_ms=5000, **kw)
            assert time.monotonic() - t0 < 3, "took %.1f s" % (time.monotonic() - t0)
            assert e.data.get("op") == "connect", e.data
            assert e.data.get("errno") in (errno.ECONNREFUSED, "ECONNREFUSED"), e.data
            assert isinstance(e.data.get("message"), str), e.data
        assert c.session_list()["sessions"] == [], "a failed open left a session"
    finally:
        c.close()


# B6: login to a target that does not exist: LOGIN_FAILED TARGET_NOT_FOUND
# (status 0x0203: class 2, detail 3).
def t_b6_no_such_target():
    c = D.client()
    try:
        e = expect_error(LoginFailed, c.session_open, P(), "iqn.2026-11.dev.uiscsi:nope",
                         timeout_ms=10000)
        assert e.data["status_name"] == "TARGET_NOT_FOUND", e.data
        assert (e.data["status_class"], e.data["status_detail"]) == (2, 3), e.data
        assert c.session_list()["sessions"] == []
    finally:
        c.close()


# B6, C8: ACL refusal is LOGIN_FAILED TARGET_NOT_FOUND (0x0203); the allowed
# initiator logs in.
def t_b6_acl_login():
    c = D.client()
    try:
        e = expect_error(LoginFailed, c.session_open, P(), iqn("acl"), timeout_ms=10000)
        assert e.data["status_name"] == "TARGET_NOT_FOUND", e.data
        assert (e.data["status_class"], e.data["status_detail"]) == (2, 3), e.data
        with opn(c, "acl", initiator_name=E["TGT_ACL_ALLOWED_INITIATOR"]) as s:
            absorb_ua(s, 1)
            cap = s.read_capacity(1)
            assert cap["bytes"] == int(E["TGT_ACL_BYTES"]), cap
    finally:
        c.close()


# ================================================================ sessions

def check_info(info, sid, target, refs=None):
    for k in SESSION_INFO_KEYS:
        assert k in info, "session info lacks %r: %r" % (k, sorted(info))
    assert info["session"] == sid and info["target"] == target, info
    assert str(E["TGT_PORT"]) in info["portal"], info["portal"]
    assert isinstance(info["state"], str) and info["state"], info
    assert isinstance(info["negotiated"], dict) and info["negotiated"], info
    assert isinstance(info["counters"], dict), info
    for k, v in info["counters"].items():
        assert isinstance(v, int) and v >= 0, (k, v)
    assert isinstance(info["in_flight"], int) and info["in_flight"] >= 0, info
    assert isinstance(info["cmdsn_window"], int), info
    assert isinstance(info["reconnects"], int), info
    assert info["last_error"] is None or isinstance(info["last_error"], dict), info
    if refs is not None:
        assert info["refs"] == refs, "refs %r, expected %r" % (info["refs"], refs)


# B1, B14, N1: session.open/get/list/close of one session: result keys,
# session info keys, counters move, the window opens past tgt's login window of 2.
def t_b1_open_get_list_close():
    c = D.client()
    try:
        r = c.session_open(P(), iqn("disk"), share=False, timeout_ms=15000)
        for k in OPEN_KEYS:
            assert k in r, "session.open result lacks %r: %r" % (k, r)
        sid = r["session"]
        assert isinstance(sid, str) and sid and r["attached"] is False, r
        assert r["target"] == iqn("disk") and str(E["TGT_PORT"]) in r["portal"], r
        assert r["tsih"] not in (0, "0", "0x0000", None), r
        assert isinstance(r["negotiated"], dict), r
        neg = r["negotiated"]
        assert neg.get("HeaderDigest") == "None" and neg.get("DataDigest") == "None", neg
        assert yes(neg["InitialR2T"]) is True, neg          # tgt: Yes OR x
        assert num(neg["MaxBurstLength"]) <= 262144, neg
        assert num(neg["FirstBurstLength"]) <= min(65536, num(neg["MaxBurstLength"])), neg
        assert num(neg["ErrorRecoveryLevel"]) == 0 and num(neg["MaxConnections"]) == 1, neg
        info = c.session_get(sid)
        check_info(info, sid, iqn("disk"), refs=1)
        assert info["state"] == r["state"], (info["state"], r["state"])
        assert info["isid"] == r["isid"] and info["tsih"] == r["tsih"], (info, r)
        assert info["reconnects"] == 0 and info["last_error"] is None, info
        before = info["counters"]
        s = uiscsi_session(c, r)
        absorb_ua(s, 1)
        s.read(1, 0, 8)
        info2 = c.session_get(sid)
        assert info2["in_flight"] == 0, info2
        # tgt: MaxCmdSN = ExpCmdSN + 128 from the first response on (B12).
        assert info2["cmdsn_window"] >= 64, info2["cmdsn_window"]
        after = info2["counters"]
        assert all(after.get(k, 0) >= v for k, v in before.items()), (before, after)
        assert any(after.get(k, 0) > v for k, v in before.items()) or \
            (not before and after), (before, after)
        lst = c.session_list()["sessions"]
        assert [x["session"] for x in lst] == [sid], lst
        check_info(lst[0], sid, iqn("disk"), refs=1)
        cl = c.session_close(sid)
        assert cl == {"closed": True, "refs": 0} or (cl["closed"] is True and cl["refs"] == 0), cl
        assert c.session_list()["sessions"] == []
        e = expect_error(SessionNotFound, c.session_get, sid)
        assert e.data.get("session") == sid, e.data
    finally:
        c.close()


def uiscsi_session(c, open_result):
    import uiscsi
    return uiscsi.Session(c, open_result)


# R9, B14: two sessions to the same target from one client with share=false:
# distinct ids and ISIDs, both usable, both listed.
def t_r9_two_sessions_share_false():
    c = D.client()
    try:
        a = opn(c, "disk", share=False)
        b = opn(c, "disk", share=False)
        assert a.id != b.id and not a.info["attached"] and not b.info["attached"]
        assert a.info["isid"] != b.info["isid"], (a.info["isid"], b.info["isid"])
        ids = sorted(x["session"] for x in c.session_list()["sessions"])
        assert ids == sorted([a.id, b.id]), ids
        base = disk_blocks_free_region(1)
        da, db = os.urandom(8 * 512), os.urandom(8 * 512)
        for s in (a, b):
            absorb_ua(s, 1)
        a.write(1, base, 8, da)
        b.write(1, base + 8, 8, db)
        assert b.read(1, base, 8) == da and a.read(1, base + 8, 8) == db
        assert c.session_get(a.id)["refs"] == 1 and c.session_get(b.id)["refs"] == 1
        assert a.close()["closed"] is True
        b.read(1, base, 1)
        assert b.close()["closed"] is True
    finally:
        c.close()


# N1, N5 (and issue 4 shared sessions): share=true from a second client attaches (same id, refs 2);
# closing one handle keeps the session; force close ends it for everyone.
def t_share_attach_and_force_close():
    c1, c2 = D.client(), D.client()
    try:
        a = opn(c1, "disk", share=False)
        r = c2.session_open(P(), iqn("disk"), share=True, timeout_ms=15000)
        assert r["attached"] is True and r["session"] == a.id, r
        assert r["tsih"] == a.info["tsih"] and r["isid"] == a.info["isid"], (r, a.info)
        assert c1.session_get(a.id)["refs"] == 2
        # share=false from the second client makes a new session, even now.
        n = c2.session_open(P(), iqn("disk"), share=False, timeout_ms=15000)
        assert n["attached"] is False and n["session"] != a.id, n
        assert c2.session_close(n["session"])["closed"] is True
        cl = c2.session_close(a.id)
        assert cl["closed"] is False and cl["refs"] == 1, cl
        absorb_ua(a, 1)
        # attach again, then force close from the first client.
        r = c2.session_open(P(), iqn("disk"), timeout_ms=15000)
        assert r["attached"] is True and r["session"] == a.id, r
        assert c1.session_get(a.id)["refs"] == 2
        cl = c1.session_close(a.id, force=True)
        assert cl["closed"] is True, cl
        a.closed = True
        assert c1.session_list()["sessions"] == []
        e = None
        try:
            c2.scsi_test_unit_ready(a.id, 1, timeout_ms=5000)
        except UiscsiError as x:
            e = x
        assert e is not None and e.name in ("SESSION_NOT_FOUND", "SESSION_FAILED"), repr(e)
    finally:
        c1.close()
        c2.close()


CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import uiscsi
rpc, portal, target, lba, hexdata = sys.argv[2:7]
with uiscsi.Client(rpc, timeout=20) as c:
    r = c.session_open(portal, target, timeout_ms=15000)
    print(json.dumps({"open": {k: r[k] for k in ("session", "attached")}}), flush=True)
    data = bytes.fromhex(hexdata)
    c.scsi_write(r["session"], 1, int(lba), len(data) // 512, data)
    print(json.dumps({"written": len(data)}), flush=True)
    sys.stdin.readline()
    print(json.dumps({"close": c.session_close(r["session"])}), flush=True)
"""


def _readline(p, bound=20):
    import select
    r, _, _ = select.select([p.stdout], [], [], bound)
    assert r, "child said nothing within %d s" % bound
    line = p.stdout.readline()
    assert line, "child exited: %s" % p.stderr.read()[-2000:]
    return json.loads(line)


# N5 (issue 4: shared session from two processes): a child process with its own Python
# client attaches, writes, and releases its handle; the parent reads the data.
def t_share_two_processes():
    c = D.client()
    p = None
    try:
        with opn(c, "disk") as s:
            absorb_ua(s, 1)
            lba = disk_blocks_free_region(2)
            data = os.urandom(16 * 512)
            p = subprocess.Popen(["/usr/bin/python3", "-c", CHILD,
                                  os.path.join(ROOT, "clients", "python"), D.rpc, P(),
                                  iqn("disk"), str(lba), data.hex()],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            o = _readline(p)["open"]
            assert o == {"session": s.id, "attached": True}, o
            assert _readline(p) == {"written": len(data)}
            assert c.session_get(s.id)["refs"] == 2
            assert s.read(1, lba, 16) == data
            p.stdin.write("close\n")
            p.stdin.flush()
            cl = _readline(p)["close"]
            assert cl["closed"] is False and cl["refs"] == 1, cl
            assert p.wait(10) == 0
            assert c.session_get(s.id)["refs"] == 1
            s.test_unit_ready(1)
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait(5)
        c.close()


# R6: session.state events for open and close: every event names the session
# and has from/to/reason, transitions chain (from == previous to), the state
# after open is session.get's state, and close ends in another state.
def t_r6_state_events():
    c = D.client()
    try:
        since = last_seq(c)
        s = opn(c, "disk", share=False)
        state = c.session_get(s.id)["state"]
        s.close()
        deadline = time.monotonic() + 5
        evs = []
        while time.monotonic() < deadline:
            evs = [e for e in events_since(c, since, "session.state") if e.get("session") == s.id]
            if evs and evs[-1]["to"] != state:
                break
            time.sleep(0.1)
        assert len(evs) >= 2, evs
        for e in evs:
            for k in ("session", "from", "to", "reason", "seq", "epoch", "ts"):
                assert k in e, (k, e)
        for prev, cur in zip(evs, evs[1:]):
            assert cur["from"] == prev["to"], (prev, cur)
            assert cur["seq"] > prev["seq"]
        assert state in [e["to"] for e in evs], (state, evs)
        assert evs[-1]["to"] != state, evs
        assert evs[-1]["from"] == state or any(e["to"] == state for e in evs[:-1]), evs
    finally:
        c.close()


# N1: protocol.logout ends the session at once whatever the handle count;
# protocol.nop measures an RTT; protocol.confirm_exp_stat_sn answers {}.
def t_n1_protocol_methods():
    c, c2 = D.client(), D.client()
    try:
        s = opn(c, "disk", share=False)
        r = s.nop()
        assert isinstance(r["rtt_us"], int) and r["rtt_us"] > 0, r
        assert s.confirm_exp_stat_sn() == {}
        absorb_ua(s, 1)
        r2 = c2.session_open(P(), iqn("disk"), timeout_ms=15000)
        assert r2["session"] == s.id and c.session_get(s.id)["refs"] == 2
        assert s.logout() == {}
        s.closed = True
        e = None
        try:
            c.scsi_test_unit_ready(s.id, 1, timeout_ms=5000)
        except UiscsiError as x:
            e = x
        assert e is not None and e.name in ("SESSION_NOT_FOUND", "SESSION_FAILED"), repr(e)
        live = [x for x in c.session_list()["sessions"] if x["session"] == s.id]
        assert not live or live[0]["state"] != r2["state"], live
    finally:
        c.close()
        c2.close()


# ================================================================ SCSI

# I1: UNIT ATTENTION 29/00 on the first command per LUN, then clean.
def t_i1_unit_attention_absorbed():
    c = D.client()
    try:
        with opn(c, "multi", share=False) as s:
            for lun in (0, 1, 2, 3, 4):
                absorb_ua(s, lun)
            # nothing left pending: a second pass is clean on every LUN
            for lun in (0, 1, 2, 3, 4):
                s.test_unit_ready(lun)
    finally:
        c.close()


# G5 (short Data-In for a long allocation), issue 4 scsi.inquiry: standard data of a data LUN
# (IET VIRTUAL-DISK, type 0) and of
# LUN 0 (controller, type 0x0c); VPD pages 0x00, 0x80, 0x83, 0xB0.
def t_inquiry_standard_and_vpd():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            absorb_ua(s, 1)
            q = s.inquiry(1)
            for k in ("peripheral_qualifier", "device_type", "device_type_name", "removable",
                      "version", "vendor", "product", "revision"):
                assert k in q, (k, q)
            assert q["peripheral_qualifier"] == 0 and q["device_type"] == 0, q
            assert q["vendor"].strip() == "IET" and q["product"].strip() == "VIRTUAL-DISK", q
            assert q["revision"].strip() == "0001" and q["removable"] is False, q
            assert q["version"] in (5, "SPC-3"), q                       # SPC-3
            assert isinstance(q["device_type_name"], str) and q["device_type_name"], q
            q0 = s.inquiry(0)
            assert q0["device_type"] == 0x0C and q0["peripheral_qualifier"] == 0, q0
            assert q0["device_type_name"] != q["device_type_name"], (q0, q)
            pages = {}
            for page in (0x00, 0x80, 0x83, 0xB0):
                v = s.inquiry(1, evpd=True, page=page)
                assert v["page"] == page, v
                data = bytes(v["data"])
                assert len(data) >= 4 and data[1] == page, (page, data[:8].hex())
                assert (data[2] << 8 | data[3]) + 4 == len(data), (page, data.hex())
                assert set(v) - {"page", "data"}, "no parsed fields for page %#x: %r" % (page, v)
                pages[page] = data
            assert {0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2} <= set(pages[0x00][4:]), pages[0].hex()
            assert len(pages[0x80]) > 4 and pages[0x80][4:].strip(b" \0"), pages[0x80]
            assert len(pages[0x83]) >= 8, pages[0x83].hex()
            assert len(pages[0xB0]) >= 16, pages[0xB0].hex()
            # base64 encoding of the same VPD page gives the same bytes
            r = c.call("scsi.inquiry", session=s.id, lun=1, evpd=True, page=0x83)
            assert base64.b64decode(r["data"]) == pages[0x83]
    finally:
        c.close()


# (no CONFORMANCE id; issue 4 scsi.read_capacity) READ CAPACITY: sizes and block sizes from the
# lab env; LBPME on the thin LUN.
def t_read_capacity():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            want = {1: (int(E["TGT_MULTI1_BYTES"]), 512), 2: (int(E["TGT_MULTI2_BYTES"]),
                                                             int(E["TGT_MULTI2_BLOCK"])),
                    3: (int(E["TGT_MULTI3_BYTES"]), 512), 4: (int(E["TGT_MULTI4_BYTES"]), 512)}
            for lun, (nbytes, bs) in want.items():
                absorb_ua(s, lun)
                r = s.read_capacity(lun)
                for k in ("blocks", "block_size", "bytes", "lbppbe", "lbpme", "lbprz"):
                    assert k in r, (k, r)
                assert r["block_size"] == bs and r["bytes"] == nbytes, (lun, r)
                assert r["blocks"] * bs == nbytes, (lun, r)
                assert bool(r["lbpme"]) == (lun == 4), (lun, r)
        with opn(c, "disk") as s:
            absorb_ua(s, 1)
            r = s.read_capacity(1)
            assert r["bytes"] == int(E["TGT_DISK_BYTES"]), r
            assert r["block_size"] == int(E["TGT_DISK_BLOCK"]), r
            assert r["lbppbe"] == 3, r          # rdwr on /dev/shm: 4 KiB physical blocks
    finally:
        c.close()


# R3 (LUN encodings on the wire), issue 4 scsi.report_luns: multi has LUNs 0..4.
def t_report_luns():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            absorb_ua(s, 0)
            r = s.report_luns()
            assert sorted(r["luns"]) == [0, 1, 2, 3, 4], r
    finally:
        c.close()


# I1: REQUEST SENSE after the UA is absorbed: NO SENSE.
def t_i1_request_sense():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            absorb_ua(s, 1)
            r = s.request_sense(1)
            assert isinstance(r, dict) and r.get("sense_key") == SK_NO_SENSE, r
            assert r.get("asc", 0) == 0 and r.get("ascq", 0) == 0, r
    finally:
        c.close()


# G4, I1: read/write, both encodings, FUA; 4096 B blocks on multi LUN 2; the
# read-only LUN 3 refuses writes with DATA PROTECT 27/00.
def t_g4_read_write_basic():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            for lun in (1, 2, 3):
                absorb_ua(s, lun)
            d = os.urandom(64 * 512)
            write_b64(c, s.id, 1, 100, 64, d)
            assert read_att(c, s.id, 1, 100, 64) == d and read_b64(c, s.id, 1, 100, 64) == d
            d2 = os.urandom(64 * 512)
            r = s.write(1, 100, 64, d2, fua=True)
            assert r["bytes"] == len(d2), r
            assert s.read(1, 100, 64, fua=True) == d2
            assert s.read(1, 100, 0) == b""
            # LUN 2 has 4096 B blocks: blocks count in 4096 B units.
            d4 = os.urandom(8 * 4096)
            write_att(c, s.id, 2, 10, 8, d4)
            back = read_att(c, s.id, 2, 10, 8)
            assert len(back) == 8 * 4096 and back == d4
            assert read_att(c, s.id, 2, 11, 1) == d4[4096:8192]
            e = expect_error(ScsiCheckCondition, s.write, 3, 0, 8, os.urandom(8 * 512))
            check_cc(e, SK_DATA_PROTECT, 0x27, 0x00)
            s.read(3, 0, 8)
            # a write past the end is refused by the target, not by a crash
            blocks = int(E["TGT_MULTI1_BYTES"]) // 512
            e = expect_error(ScsiCheckCondition, s.write, 1, blocks - 1, 2, os.urandom(1024))
            check_cc(e, SK_ILLEGAL_REQUEST, 0x21)
            # a data length that does not match blocks x block_size is refused
            e = expect_error(UiscsiError, s.write, 1, 0, 2, os.urandom(513))
            assert e.code == -32602, repr(e)
            s.test_unit_ready(1)
    finally:
        c.close()


# (no CONFORMANCE id; issue 4) VERIFY, SYNCHRONIZE CACHE (whole LUN and a range), START STOP UNIT.
def t_verify_sync_startstop():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            absorb_ua(s, 1)
            assert s.verify(1, 0, 64) == {}
            assert s.synchronize_cache(1) == {}
            assert s.synchronize_cache(1, lba=0, blocks=128) == {}
            assert s.start_stop_unit(1, True) == {}
            assert s.start_stop_unit(1, False) == {}
            assert s.start_stop_unit(1, True) == {}
            s.test_unit_ready(1)
    finally:
        c.close()


# I1 (sense of the refused UNMAP), issue 4: WRITE SAME (and unmap=true on the thin LUN 4),
# UNMAP on LUN 4,
# UNMAP refused on the fully provisioned LUN 1.
def t_write_same_unmap():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            for lun in (1, 4):
                absorb_ua(s, lun)
            blk = os.urandom(512)
            assert s.write_same(1, 2048, 32, blk) == {}
            assert s.read(1, 2048, 32) == blk * 32
            s.write(4, 4096, 64, os.urandom(64 * 512))
            assert s.write_same(4, 4096, 64, bytes(512), unmap=True) == {}
            assert s.read(4, 4096, 64) == bytes(64 * 512)
            s.write(4, 8192, 2048, os.urandom(2048 * 512))
            assert s.unmap(4, [{"lba": 8192, "blocks": 2048}]) == {}
            assert s.unmap(4, [{"lba": 16384, "blocks": 8}, {"lba": 20480, "blocks": 8}]) == {}
            e = expect_error(ScsiCheckCondition, s.unmap, 1, [{"lba": 0, "blocks": 8}])
            check_cc(e, SK_ILLEGAL_REQUEST, 0x20, 0x00)
    finally:
        c.close()


# I1, issue 4: COMPARE AND WRITE is not implemented by tgt: CHECK CONDITION, ILLEGAL
# REQUEST, invalid opcode 20/00.
def t_compare_and_write_tgt():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            absorb_ua(s, 1)
            cur = s.read(1, 3000, 1)
            e = expect_error(ScsiCheckCondition, s.compare_and_write, 1, 3000, 1,
                             cur + os.urandom(512))
            check_cc(e, SK_ILLEGAL_REQUEST, 0x20, 0x00)
            assert s.read(1, 3000, 1) == cur
    finally:
        c.close()


def _mode_select_list(sense, cdb_size):
    """A MODE SELECT parameter list from MODE SENSE data (dbd): the header
    with the mode data length zeroed, then the pages with PS cleared."""
    if cdb_size == 6:
        hdr, bdl = 4, sense[3]
        out = bytearray(4)
    else:
        hdr, bdl = 8, sense[6] << 8 | sense[7]
        out = bytearray(8)
    assert bdl == 0, "block descriptors despite dbd: %s" % sense.hex()
    pages = bytearray(sense[hdr:])
    if pages:
        pages[0] &= 0x3F
    return bytes(out + pages)


# G5 (short Data-In), issue 4: MODE SENSE 6 and 10 (all pages; WP on the read-only LUN), MODE
# SELECT 6/10
# of the control page with its current values.
def t_mode_sense_select():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            for lun in (1, 3):
                absorb_ua(s, lun)
            for lun, wp in ((1, 0), (3, 0x80)):
                m6 = bytes(s.mode_sense(lun, 0x3F, cdb_size=6)["data"])
                assert len(m6) >= 4 and m6[0] + 1 == len(m6), m6.hex()
                assert m6[2] & 0x80 == wp, (lun, m6[:4].hex())
                m10 = bytes(s.mode_sense(lun, 0x3F, cdb_size=10)["data"])
                assert len(m10) >= 8 and (m10[0] << 8 | m10[1]) + 2 == len(m10), m10.hex()
                assert m10[3] & 0x80 == wp, (lun, m10[:4].hex())
                dflt = bytes(s.mode_sense(lun, 0x3F)["data"])
                assert (dflt[0] << 8 | dflt[1]) + 2 == len(dflt), "default cdb_size is 10"
            for size in (6, 10):
                ctl = bytes(s.mode_sense(1, 0x0A, cdb_size=size, dbd=True)["data"])
                hdr = 4 if size == 6 else 8
                assert ctl[hdr] & 0x3F == 0x0A, ctl.hex()
                assert s.mode_select(1, _mode_select_list(ctl, size), cdb_size=size) == {}
                again = bytes(s.mode_sense(1, 0x0A, cdb_size=size, dbd=True)["data"])
                assert again == ctl, (ctl.hex(), again.hex())
    finally:
        c.close()


def _prin_keys(data):
    n = int.from_bytes(data[4:8], "big")
    return [int.from_bytes(data[8 + i:16 + i], "big") for i in range(0, n, 8)]


# (no CONFORMANCE id; issue 4) PERSISTENT RESERVE IN/OUT: register, read keys, reserve, read
# reservation,
# release, clear.
def t_persistent_reservations():
    c = D.client()
    key = 0x1234ABCD
    try:
        with opn(c, "multi") as s:
            absorb_ua(s, 1)
            try:
                assert s.persistent_reserve_out(1, 0, 0, 0, key) == {}            # REGISTER
                r = s.persistent_reserve_in(1, 0)                                  # READ KEYS
                assert key in _prin_keys(bytes(r["data"])), bytes(r["data"]).hex()
                assert set(r) - {"data"}, "no parsed keys: %r" % r
                assert s.persistent_reserve_out(1, 1, 0x01, key, 0) == {}         # RESERVE WE
                r = s.persistent_reserve_in(1, 1)                                  # READ RESV
                d = bytes(r["data"])
                assert int.from_bytes(d[4:8], "big") == 16, d.hex()
                assert int.from_bytes(d[8:16], "big") == key and d[21] == 0x01, d.hex()
                assert set(r) - {"data"}, "no parsed reservation: %r" % r
                # the hex string form of a key is accepted too
                assert s.persistent_reserve_out(1, 2, 0x01, "0x%x" % key, 0) == {}  # RELEASE
                d = bytes(s.persistent_reserve_in(1, 1)["data"])
                assert int.from_bytes(d[4:8], "big") == 0, d.hex()
            finally:
                try:
                    s.persistent_reserve_out(1, 3, 0, key, 0)                      # CLEAR
                except UiscsiError:
                    pass
            assert _prin_keys(bytes(s.persistent_reserve_in(1, 0)["data"])) == []
    finally:
        c.close()


# R4, G5, I1: raw.execute returns the SCSI status instead of raising it:
# INQUIRY by hex CDB, an invalid opcode (status 2 with sense), an
# allocation length beyond what the target returns (underflow, residual),
# and a 32-byte CDB gives a clean error or a status; the session goes on.
def t_r4_raw_execute():
    c = D.client()
    try:
        with opn(c, "multi") as s:
            absorb_ua(s, 1)
            r = s.execute(1, "120000002400", data_in_length=36)
            for k in ("status", "status_name", "sense", "sense_info", "data", "bytes",
                      "residual", "overflow", "underflow"):
                assert k in r, (k, r)
            assert r["status"] == 0 and r["status_name"] == "GOOD", r
            assert r["bytes"] == 36 and bytes(r["data"])[8:16] == b"IET     ", r
            r = c.call("raw.execute", session=s.id, lun=1, cdb="120000002400",
                       data_in_length=36)
            assert base64.b64decode(r["data"])[16:28] == b"VIRTUAL-DISK", r
            r = s.execute(1, bytes.fromhex("12000000ff00"), data_in_length=255)
            assert r["status"] == 0 and r["underflow"] is True and r["overflow"] is False, r
            assert r["bytes"] + r["residual"] == 255 and r["bytes"] == len(r["data"]), r
            r = s.execute(1, "ff0000000000")
            assert r["status"] == 2 and r["status_name"] == "CHECK_CONDITION", r
            assert parse_sense(bytes.fromhex(r["sense"]))[:2] == (SK_ILLEGAL_REQUEST, 0x20), r
            cdb32 = bytes([0x7F, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x09]) + bytes(22)
            try:
                r = s.execute(1, cdb32.hex(), data_in_length=512)
                assert isinstance(r["status"], int), r
            except UiscsiError as e:
                assert e.name not in ("TRANSPORT_ERROR", "SESSION_FAILED", "INTERNAL_ERROR",
                                      "PROTOCOL_ERROR"), repr(e)
            absorb_ua(s, 1)
            assert s.read(1, 0, 1) is not None
    finally:
        c.close()


# M1, M2, M8: tmf.abort_task by tag, on long commands in flight and on an
# already completed one: response 0 or 1, never a transport failure.
def t_m1_abort_task():
    c = D.client()
    try:
        with opn(c, "disk") as s:
            absorb_ua(s, 1)
            s.test_unit_ready(1, tag="done-1")
            r = s.abort_task("done-1")
            assert r["response"] in (0, 1) and isinstance(r["response_name"], str), r
            futs = [c.submit("scsi.read", session=s.id, lun=1, lba=i * 32768, blocks=32768,
                             data_encoding="attachment", tag="long-%d" % i) for i in range(4)]
            r = s.abort_task("long-3")
            assert r["response"] in (0, 1), r
            for f in futs:
                try:
                    f.result()
                except UiscsiError as e:
                    assert e.name not in ("TRANSPORT_ERROR", "SESSION_FAILED"), repr(e)
            info = c.session_get(s.id)
            assert info["reconnects"] == 0 and info["in_flight"] == 0, info
            s.test_unit_ready(1)
    finally:
        c.close()


# M3: LOGICAL UNIT RESET answers 0; the next command sees UA 29/00
# (raw.execute, so nothing absorbs it).
def t_m3_lun_reset():
    c = D.client()
    try:
        with opn(c, "disk") as s:
            absorb_ua(s, 1)
            r = s.lun_reset(1)
            assert r["response"] == 0 and isinstance(r["response_name"], str), r
            r = s.execute(1, "000000000000")
            assert r["status"] == 2, r
            assert parse_sense(bytes.fromhex(r["sense"])) == (SK_UNIT_ATTENTION, 0x29, 0), r
            r = s.execute(1, "000000000000")
            assert r["status"] == 0, r
    finally:
        c.close()


# M4, M7: TARGET WARM RESET: tgt answers "function not supported" (5) ->
# TMF_FAILED with response 5; the session goes on.
def t_m7_warm_reset_unsupported():
    c = D.client()
    try:
        with opn(c, "disk") as s:
            absorb_ua(s, 1)
            e = expect_error(TmfFailed, s.target_warm_reset)
            assert e.data["response"] == 5 and isinstance(e.data["response_name"], str), e.data
            s.test_unit_ready(1)
            assert c.session_get(s.id)["reconnects"] == 0
    finally:
        c.close()


# M3: ABORT TASK SET on a LUN with nothing in flight answers 0 and the
# session goes on (tgt supports it).
def t_m3_abort_task_set():
    c = D.client()
    try:
        with opn(c, "disk") as s:
            absorb_ua(s, 1)
            r = c.tmf_abort_task_set(s.id, 1)
            assert r["response"] == 0 and isinstance(r["response_name"], str), r
            s.test_unit_ready(1)
    finally:
        c.close()


# M7: CLEAR TASK SET and TARGET COLD RESET: tgt answers "function not
# supported" (5) -> TMF_FAILED naming the response; the session survives.
def t_m7_clear_task_set_and_cold_reset_unsupported():
    c = D.client()
    try:
        with opn(c, "disk") as s:
            absorb_ua(s, 1)
            for fn in (lambda: c.tmf_clear_task_set(s.id, 1),
                       lambda: c.tmf_target_cold_reset(s.id)):
                e = expect_error(TmfFailed, fn)
                assert e.data["response"] == 5, e.data
                assert isinstance(e.data["response_name"], str) and e.data["response_name"], e.data
            s.test_unit_ready(1)
            assert c.session_get(s.id)["reconnects"] == 0
    finally:
        c.close()


# O2: session.reconnect drops the connection and logs in again at once with
# the same ISID (ERL 0 reinstatement, TSIH 0); data written before reads
# back after, and the reconnect is counted.
def t_o2_session_reconnect():
    c = D.client()
    try:
        with opn(c, "disk", share=False) as s:
            absorb_ua(s, 1)
            before = c.session_get(s.id)
            data = os.urandom(64 * KiB)
            lba = disk_blocks_free_region(0)
            write_att(c, s.id, 1, lba, len(data) // 512, data)
            assert c.session_reconnect(s.id) == {}
            after = c.session_get(s.id)
            assert after["isid"] == before["isid"], (before["isid"], after["isid"])
            assert after["reconnects"] == before["reconnects"] + 1, after
            assert after["state"] == before["state"], after
            absorb_ua(s, 1)
            assert read_att(c, s.id, 1, lba, len(data) // 512) == data
    finally:
        c.close()


# ================================================================ CHAP

SECRETS = []


def _secret_file(secret):
    import tempfile
    fd, path = tempfile.mkstemp(prefix="uiscsi-it-secret-")
    os.write(fd, secret.encode())
    os.close(fd)
    return path


# C8: a secret file that group or others could read is refused before any
# login (the daemon may hold more privileges than the client naming it);
# the same file at mode 0600 logs in. The error names the param, never the
# secret.
def t_c8_secret_file_permissions():
    c = D.client()
    path = _secret_file(E["TGT_CHAP_SECRET"])
    try:
        a = {"method": "chap", "user": E["TGT_CHAP_USER"], "secret_file": path}
        for mode in (0o644, 0o640, 0o604):
            os.chmod(path, mode)
            e = expect_error(uiscsi.InvalidParams, c.session_open, P(), iqn("chap"), auth=a,
                             share=False)
            assert e.data.get("param") == "params.auth.secret", e.data
            assert E["TGT_CHAP_SECRET"] not in json.dumps(e.data), e.data
        os.chmod(path, 0o600)
        with opn(c, "chap", auth=a, share=False) as s:
            absorb_ua(s, 1)
    finally:
        os.unlink(path)
        c.close()


# C1, C2, C5, C6, C8: one-way CHAP (secret and secret_file), mutual CHAP,
# wrong secret (AUTH_FAILED side target), wrong target secret (side
# initiator); no secret in errors, session.list/get, events or the log.
def t_c_chap_all():
    secrets = [E["TGT_CHAP_SECRET"], E["TGT_MUTUAL_SECRET"], E["TGT_MUTUAL_TARGET_SECRET"],
               "uiscsi-wrong-secret9", "uiscsi-wrong-tsecret9"]
    rec = EventRecorder(D.events)
    time.sleep(0.3)          # let the subscription reach the daemon
    c = D.client()
    since = last_seq(c)
    seen = []                # everything the API returned
    try:
        with opn(c, "chap", auth=chap(E["TGT_CHAP_USER"], E["TGT_CHAP_SECRET"])) as s:
            absorb_ua(s, 1)
            seen.append(c.session_list())
            seen.append(c.session_get(s.id))
        path = _secret_file(E["TGT_CHAP_SECRET"])
        try:
            a = {"method": "chap", "user": E["TGT_CHAP_USER"], "secret_file": path,
                 "algorithms": ["MD5"]}
            with opn(c, "chap", auth=a, share=False) as s:
                absorb_ua(s, 1)
                seen.append(c.session_get(s.id))
        finally:
            os.unlink(path)
        m = chap(E["TGT_MUTUAL_USER"], E["TGT_MUTUAL_SECRET"],
                 target_user=E["TGT_MUTUAL_TARGET_USER"],
                 target_secret=E["TGT_MUTUAL_TARGET_SECRET"])
        with opn(c, "mutual", auth=m) as s:
            absorb_ua(s, 1)
            s.write(1, 0, 8, os.urandom(4096))
            seen.append(c.session_list())
            seen.append(c.session_get(s.id))
        e = expect_error(AuthFailed, c.session_open, P(), iqn("chap"),
                         auth=chap(E["TGT_CHAP_USER"], "uiscsi-wrong-secret9"), timeout_ms=10000)
        assert e.data["side"] == "target", e.data
        assert (e.data["status_class"], e.data["status_detail"]) == (2, 1), e.data
        seen.append(e.data)
        seen.append(str(e))
        bad = dict(m, target_secret="uiscsi-wrong-tsecret9")
        e = expect_error(AuthFailed, c.session_open, P(), iqn("mutual"), auth=bad,
                         timeout_ms=10000)
        assert e.data["side"] == "initiator", e.data
        seen.append(e.data)
        seen.append(str(e))
        # a user bound to one target cannot log in to another
        e = expect_error(AuthFailed, c.session_open, P(), iqn("mutual"),
                         auth=chap(E["TGT_CHAP_USER"], E["TGT_CHAP_SECRET"]), timeout_ms=10000)
        assert e.data["side"] == "target", e.data
        seen.append(str(e))
        assert c.session_list()["sessions"] == [], "a failed login left a session"
        time.sleep(0.3)
        ring = events_since(c, since)
        assert ring, "no events at all during the CHAP logins"
    finally:
        rec.stop()
        c.close()
    blobs = {"api results": json.dumps(seen).encode(), "event stream": rec.blob(),
             "events.get": json.dumps(ring).encode(), "daemon log": D.logtext(0).encode()}
    for where, blob in blobs.items():
        for sec in secrets:
            assert sec.encode() not in blob, "a secret appears in the %s" % where
            assert sec.encode().hex().encode() not in blob.lower(), "a hex secret in " + where


# ================================================================ digests, NOP

# D1, A2: HeaderDigest and DataDigest CRC32C both negotiated on the digest
# target, shown by session.get, with data integrity across PDU sizes.
def t_d1_digests_crc32c():
    c = D.client()
    try:
        with opn(c, "digest", share=False,
                 negotiate={"HeaderDigest": "CRC32C", "DataDigest": "CRC32C"}) as s:
            neg = c.session_get(s.id)["negotiated"]
            assert neg["HeaderDigest"] == "CRC32C" and neg["DataDigest"] == "CRC32C", neg
            assert s.info["negotiated"]["DataDigest"] == "CRC32C", s.info
            absorb_ua(s, 1)
            sizes = [512, 1024, 1536, 2048, 2560, 7680, 8192, 8704, 65536, 262144 + 512, 1 * MiB]
            bad, _ = integrity(c, s.id, 1, 512, sizes)
            assert bad == [], bad
            s.nop()
            info = c.session_get(s.id)
            assert info["reconnects"] == 0 and info["last_error"] is None, info
    finally:
        c.close()


# J3: the nop target pings every second and drops after 3 misses: an idle
# session for 6 s must stay up (the daemon answers) with no reconnect.
def t_j3_target_nop_pings():
    c = D.client()
    try:
        with opn(c, "nop", share=False) as s:
            absorb_ua(s, 1)
            d = os.urandom(4096)
            s.write(1, 0, 8, d)
            time.sleep(6.5)
            assert s.read(1, 0, 8) == d
            info = c.session_get(s.id)
            assert info["reconnects"] == 0 and info["last_error"] is None, info
    finally:
        c.close()


# ================================================================ integrity matrix

DEF_BOUNDS = [8192, 65536, 262144]        # tgt MRDSL, FirstBurstLength, MaxBurstLength
R2T_BOUNDS = [4096, 8192, 16384]          # the r2t target's


# B10, H1, H5, H6, H7, H8, G4: random data, byte-exact, 512 B .. 16 MiB, one
# block around MRDSL / FirstBurst / MaxBurst, on the disk target with defaults.
def t_h6_integrity_disk_defaults():
    c = D.client()
    try:
        with opn(c, "disk", share=False) as s:
            absorb_ua(s, 1)
            bad, _ = integrity(c, s.id, 1, 512, boundary_sizes(512, DEF_BOUNDS, extra=(MiB,)),
                               base_lba=disk_blocks_free_region(3))
            assert bad == [], bad
    finally:
        c.close()


# H2, H8, H9, B9: the r2t target (InitialR2T=Yes, ImmediateData=No, MRDSL
# 4096, FirstBurst 8192, MaxBurst 16384): every write through many R2Ts.
def t_h2_integrity_r2t_target():
    c = D.client()
    try:
        with opn(c, "r2t", share=False) as s:
            neg = s.info["negotiated"]
            assert yes(neg["InitialR2T"]) is True and yes(neg["ImmediateData"]) is False, neg
            assert num(neg["MaxBurstLength"]) <= 16384, neg
            assert num(neg["FirstBurstLength"]) <= 8192, neg
            absorb_ua(s, 1)
            bad, _ = integrity(c, s.id, 1, 512, boundary_sizes(512, R2T_BOUNDS, extra=(MiB,)))
            assert bad == [], bad
    finally:
        c.close()


TUNED = {"MaxRecvDataSegmentLength": 262144, "FirstBurstLength": 262144,
         "MaxBurstLength": 1048576, "ImmediateData": "Yes", "InitialR2T": "No"}


# B9, B10, B11: tuned proposals against tgt's defaults: min/AND/OR results,
# and data integrity around the negotiated bounds.
def t_b11_integrity_tuned_params():
    c = D.client()
    try:
        with opn(c, "disk", share=False, negotiate=dict(TUNED)) as s:
            neg = s.info["negotiated"]
            assert num(neg["MaxBurstLength"]) == 262144, neg      # min(1048576, 262144)
            assert num(neg["FirstBurstLength"]) == 65536, neg     # min(262144, 65536)
            assert yes(neg["ImmediateData"]) is True, neg         # Yes AND Yes
            assert yes(neg["InitialR2T"]) is True, neg            # No OR Yes
            absorb_ua(s, 1)
            bad, _ = integrity(c, s.id, 1, 512, boundary_sizes(512, DEF_BOUNDS, hi=4 * MiB),
                               base_lba=disk_blocks_free_region(4))
            assert bad == [], bad
    finally:
        c.close()


COMBO_KEYS = ("ImmediateData", "InitialR2T", "MaxRecvDataSegmentLength", "MaxBurstLength",
              "FirstBurstLength")


# H1, H2, H3, H4, H5, H6, H7, B9, B11: all four ImmediateData x InitialR2T
# combinations (changed on the target with tgtadm, new sessions only), then
# large target bursts so the tuned proposals take effect; integrity around
# every bound; the target's values are restored afterwards.
def t_h3_integrity_immediate_initialr2t_matrix():
    orig = LAB.target_params(1)
    c = D.client()
    try:
        for imm in ("Yes", "No"):
            for r2t in ("Yes", "No"):
                LAB.target_update(1, "ImmediateData", imm)
                LAB.target_update(1, "InitialR2T", r2t)
                with opn(c, "disk", share=False,
                         negotiate={"ImmediateData": imm, "InitialR2T": r2t}) as s:
                    neg = s.info["negotiated"]
                    assert yes(neg["ImmediateData"]) == (imm == "Yes"), (imm, r2t, neg)
                    assert yes(neg["InitialR2T"]) == (r2t == "Yes"), (imm, r2t, neg)
                    absorb_ua(s, 1)
                    bad, _ = integrity(c, s.id, 1, 512,
                                       boundary_sizes(512, DEF_BOUNDS, hi=2 * MiB),
                                       base_lba=disk_blocks_free_region(5))
                    assert bad == [], (imm, r2t, bad)
        for k, v in (("MaxRecvDataSegmentLength", 262144), ("MaxBurstLength", 1048576),
                     ("FirstBurstLength", 262144), ("ImmediateData", "Yes"),
                     ("InitialR2T", "No")):
            LAB.target_update(1, k, v)
        with opn(c, "disk", share=False, negotiate=dict(TUNED)) as s:
            neg = s.info["negotiated"]
            assert num(neg["MaxBurstLength"]) == 1048576, neg
            assert num(neg["FirstBurstLength"]) == 262144, neg
            assert yes(neg["ImmediateData"]) is True and yes(neg["InitialR2T"]) is False, neg
            absorb_ua(s, 1)
            bad, _ = integrity(c, s.id, 1, 512,
                               boundary_sizes(512, [262144, 1048576], extra=(8192, 65536)),
                               base_lba=disk_blocks_free_region(6))
            assert bad == [], bad
    finally:
        c.close()
        for k in COMBO_KEYS:
            if k in orig:
                LAB.target_update(1, k, orig[k])
    now = LAB.target_params(1)
    assert all(now.get(k) == orig.get(k) for k in COMBO_KEYS), (orig, now)


# R1, E4, B12: 64 commands in flight from 4 clients at once (2 attached to a
# shared session, 2 on sessions of their own), each region verified.
def t_r1_64_in_flight_four_clients():
    owner = D.client()
    clients = [D.client() for _ in range(4)]
    errors = []
    try:
        main = opn(owner, "disk", share=False)
        absorb_ua(main, 1)
        # The attaching opens come first, while main is the only session.
        opened = {}
        for i in range(2):
            r = clients[i].session_open(P(), iqn("disk"), share=True, timeout_ms=15000)
            assert r["attached"] is True and r["session"] == main.id, r
            opened[i] = r
        for i in range(2, 4):
            r = clients[i].session_open(P(), iqn("disk"), share=False, timeout_ms=15000)
            assert r["attached"] is False and r["session"] != main.id, r
            absorb_ua(uiscsi_session(clients[i], r), 1)
            opened[i] = r
        assert owner.session_get(main.id)["refs"] == 3
        barrier = threading.Barrier(4, timeout=30)
        base = disk_blocks_free_region(7)

        def worker(i):
            c = clients[i]
            sid = opened[i]["session"]
            try:
                datas = [os.urandom(64 * KiB) for _ in range(16)]
                lbas = [base + (i * 16 + k) * 256 for k in range(16)]
                barrier.wait()
                wf = [c.submit("scsi.write", session=sid, lun=1, lba=lba, blocks=128, data=d)
                      for lba, d in zip(lbas, datas)]
                for f in wf:
                    assert f.result()["bytes"] == 64 * KiB
                barrier.wait()
                rf = [c.submit("scsi.read", session=sid, lun=1, lba=lba, blocks=128,
                               data_encoding="attachment") for lba in lbas]
                for k, f in enumerate(rf):
                    got = bytes(f.result()["data"])
                    off = first_diff(datas[k], got)
                    assert off is None, "client %d region %d differs at %s" % (i, k, off)
                c.session_close(sid)
            except BaseException as e:
                errors.append("client %d: %r" % (i, e))
                barrier.abort()

        th = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(4)]
        for t in th:
            t.start()
        for t in th:
            t.join(60)
        assert not any(t.is_alive() for t in th), "a client hung"
        assert not errors, errors
        info = owner.session_get(main.id)
        assert info["refs"] == 1 and info["in_flight"] == 0 and info["reconnects"] == 0, info
        assert [x["session"] for x in owner.session_list()["sessions"]] == [main.id]
        main.close()
    finally:
        owner.close()
        for c in clients:
            c.close()


# ================================================================ negative params

# B11 (negotiate keys are checked), API.md: unknown params and out-of-range keys are
# INVALID_PARAMS.
def t_open_invalid_params():
    c = D.client()
    try:
        for kw in ({"negotiate": {"MaxRecvDataSegmentLenght": 8192}},
                   {"negotiate": {"MaxRecvDataSegmentLength": 16777216}},
                   {"shared": True}, {"auth": {"method": "kerberos"}}):
            e = expect_error(UiscsiError, c.call, "session.open",
                             dict(portal=P(), target=iqn("disk"), **kw))
            assert e.code == -32602, (kw, e)
        assert c.session_list()["sessions"] == []
    finally:
        c.close()


TESTS = [
    t_b17_discovery_ipv4, t_b16_discovery_ipv6, t_b17_discovery_acl, t_r8_unreachable_portal,
    t_b6_no_such_target, t_b6_acl_login, t_open_invalid_params,
    t_b1_open_get_list_close, t_r9_two_sessions_share_false, t_share_attach_and_force_close,
    t_share_two_processes, t_r6_state_events, t_n1_protocol_methods,
    t_i1_unit_attention_absorbed, t_inquiry_standard_and_vpd, t_read_capacity, t_report_luns,
    t_i1_request_sense, t_g4_read_write_basic, t_verify_sync_startstop, t_write_same_unmap,
    t_compare_and_write_tgt, t_mode_sense_select, t_persistent_reservations, t_r4_raw_execute,
    t_m1_abort_task, t_m3_lun_reset, t_m7_warm_reset_unsupported,
    t_m3_abort_task_set, t_m7_clear_task_set_and_cold_reset_unsupported, t_o2_session_reconnect,
    t_c8_secret_file_permissions,
    t_c_chap_all, t_d1_digests_crc32c, t_j3_target_nop_pings,
    t_h6_integrity_disk_defaults, t_h2_integrity_r2t_target, t_b11_integrity_tuned_params,
    t_h3_integrity_immediate_initialr2t_matrix, t_r1_64_in_flight_four_clients,
]


def main():
    return run_lab_suite(globals(), TESTS, "tgt", 3261, total_s=285, per_test_s=60)


if __name__ == "__main__":
    sys.exit(main())
