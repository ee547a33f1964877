#!/usr/bin/python3
"""Black-box end-to-end test of uiscsid against istgt, the second target (issue 4).

Written only from ../shared/API.md, docs/api.md and tests/targets/README.md.
It starts its own istgt lab (tests/targets/istgt-lab start PORT; istgt also
takes PORT+1 for its unit-control portal) and its own uiscsid, and stops both.
istgt's LUN 0 is the data LUN; mutual CHAP is enforced on istgt-mutual; istgt
implements COMPARE AND WRITE. istgt has interop quirks, so every call has a
short timeout_ms. The whole file stays well under 5 minutes.

usage: test_iscsi_istgt.py UISCSID [--port 3280] [--only SUBSTRING]
Prints one "ok NAME" / "FAIL NAME" line per test and ends with
"N passed, N failed" (exit status 1 when something failed).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib_daemon import (run_lab_suite, MiB, SK_MISCOMPARE, AuthFailed, Daemon, Lab,  # noqa: E402
                        ScsiCheckCondition, Runner, absorb_ua, boundary_sizes, check_cc,
                        close_all_sessions, expect_error, integrity)

D = None
LAB = None
E = {}
LUN = 0
SHORT = 8000        # timeout_ms of logins and discovery against istgt


def P():
    return E["ISTGT_PORTAL"]


def opn(c, iqn_key, **kw):
    kw.setdefault("timeout_ms", SHORT)
    return c.session(P(), E[iqn_key], **kw)


def chap(user, secret, **kw):
    a = {"method": "chap", "user": user, "secret": secret}
    a.update(kw)
    return a


def mutual_auth(target_secret=None):
    return chap(E["ISTGT_MUTUAL_USER"], E["ISTGT_MUTUAL_SECRET"],
                target_user=E["ISTGT_MUTUAL_TARGET_USER"],
                target_secret=target_secret or E["ISTGT_MUTUAL_TARGET_SECRET"])


# B17: SendTargets against istgt lists its three targets on its portal.
def t_b17_istgt_discovery():
    c = D.client(timeout=15)
    try:
        t0 = time.monotonic()
        r = c.discovery_send_targets(P(), timeout_ms=SHORT)
        assert time.monotonic() - t0 < SHORT / 1000.0 + 1
        names = {t["name"]: t for t in r["targets"]}
        for k in ("ISTGT_IQN_DISK", "ISTGT_IQN_CHAP", "ISTGT_IQN_MUTUAL"):
            assert E[k] in names, (k, sorted(names))
        ports = {p["port"] for p in names[E["ISTGT_IQN_DISK"]]["portals"]}
        assert int(E["ISTGT_PORT"]) in ports, names[E["ISTGT_IQN_DISK"]]
        assert all(set(p) >= {"address", "port", "tpgt"}
                   for t in r["targets"] for p in t["portals"]), r
    finally:
        c.close()


# B1, B8, B9: open a session to istgt-disk; INQUIRY and READ CAPACITY of LUN 0.
def t_b1_istgt_open_inquiry_capacity():
    c = D.client(timeout=15)
    try:
        with opn(c, "ISTGT_IQN_DISK", share=False) as s:
            assert s.info["attached"] is False and s.info["negotiated"], s.info
            absorb_ua(s, LUN)
            q = s.inquiry(LUN)
            assert q["device_type"] == 0 and q["peripheral_qualifier"] == 0, q
            assert q["vendor"].strip() and q["product"].strip(), q
            cap = s.read_capacity(LUN)
            assert cap["bytes"] == int(E["ISTGT_DISK_BYTES"]), cap
            assert cap["blocks"] * cap["block_size"] == cap["bytes"], cap
            assert cap["block_size"] == 512, cap
            info = c.session_get(s.id)
            assert info["target"] == E["ISTGT_IQN_DISK"] and info["refs"] == 1, info
            r = s.nop()
            assert r["rtt_us"] > 0, r
    finally:
        c.close()


# G4, H3, H6, B10: random data written and read back byte-exact at a few sizes
# (istgt offers MRDSL/FirstBurst 262144 and MaxBurst 1 MiB), with defaults and
# with tuned proposals.
def t_g4_istgt_integrity():
    c = D.client(timeout=30)
    try:
        sizes = boundary_sizes(512, [8192, 262144, MiB], hi=4 * MiB)
        with opn(c, "ISTGT_IQN_DISK", share=False) as s:
            absorb_ua(s, LUN)
            bad, nxt = integrity(c, s.id, LUN, 512, sizes)
            assert bad == [], bad
        tuned = {"MaxRecvDataSegmentLength": 262144, "FirstBurstLength": 262144,
                 "MaxBurstLength": 1048576, "ImmediateData": "Yes", "InitialR2T": "No"}
        with opn(c, "ISTGT_IQN_DISK", share=False, negotiate=tuned) as s:
            absorb_ua(s, LUN)
            bad, _ = integrity(c, s.id, LUN, 512, sizes, base_lba=nxt)
            assert bad == [], bad
    finally:
        c.close()


# C1, C5: one-way CHAP on istgt-chap; a wrong secret is AUTH_FAILED side "target".
def t_c1_istgt_chap():
    c = D.client(timeout=15)
    try:
        with opn(c, "ISTGT_IQN_CHAP", auth=chap(E["ISTGT_CHAP_USER"],
                                                E["ISTGT_CHAP_SECRET"])) as s:
            absorb_ua(s, LUN)
            d = os.urandom(8192)
            s.write(LUN, 0, 16, d)
            assert s.read(LUN, 0, 16) == d
        e = expect_error(AuthFailed, c.session_open, P(), E["ISTGT_IQN_CHAP"],
                         auth=chap(E["ISTGT_CHAP_USER"], "uiscsi-wrong-secret9"),
                         timeout_ms=SHORT)
        assert e.data["side"] == "target", e.data
        assert c.session_list()["sessions"] == []
    finally:
        c.close()


# C6: mutual CHAP enforced on istgt-mutual: with the target credentials the
# login works; one-way CHAP is refused by the target; a wrong target secret
# is refused by us (AUTH_FAILED side "initiator").
def t_c6_istgt_mutual_chap():
    c = D.client(timeout=15)
    try:
        with opn(c, "ISTGT_IQN_MUTUAL", auth=mutual_auth()) as s:
            absorb_ua(s, LUN)
            s.read(LUN, 0, 8)
        e = expect_error(AuthFailed, c.session_open, P(), E["ISTGT_IQN_MUTUAL"],
                         auth=chap(E["ISTGT_MUTUAL_USER"], E["ISTGT_MUTUAL_SECRET"]),
                         timeout_ms=SHORT)
        assert e.data["side"] == "target", e.data
        e = expect_error(AuthFailed, c.session_open, P(), E["ISTGT_IQN_MUTUAL"],
                         auth=mutual_auth("uiscsi-wrong-tsecret9"), timeout_ms=SHORT)
        assert e.data["side"] == "initiator", e.data
        assert c.session_list()["sessions"] == []
    finally:
        c.close()


# I1 (MISCOMPARE sense), issue 4: COMPARE AND WRITE on istgt: a match writes; a mismatch is
# SCSI_CHECK_CONDITION with sense key MISCOMPARE (1D/00) and writes nothing.
def t_istgt_compare_and_write():
    c = D.client(timeout=15)
    try:
        with opn(c, "ISTGT_IQN_DISK") as s:
            absorb_ua(s, LUN)
            lba = 400000
            a, b, x = os.urandom(512), os.urandom(512), os.urandom(512)
            s.write(LUN, lba, 1, a)
            assert s.compare_and_write(LUN, lba, 1, a + b) == {}
            assert s.read(LUN, lba, 1) == b
            e = expect_error(ScsiCheckCondition, s.compare_and_write, LUN, lba, 1, a + x)
            check_cc(e, SK_MISCOMPARE, 0x1D, 0x00)
            assert s.read(LUN, lba, 1) == b
            # two blocks at once
            a2, b2 = os.urandom(1024), os.urandom(1024)
            s.write(LUN, lba + 8, 2, a2)
            assert s.compare_and_write(LUN, lba + 8, 2, a2 + b2) == {}
            assert s.read(LUN, lba + 8, 2) == b2
    finally:
        c.close()


TESTS = [t_b17_istgt_discovery, t_b1_istgt_open_inquiry_capacity, t_g4_istgt_integrity,
         t_c1_istgt_chap, t_c6_istgt_mutual_chap, t_istgt_compare_and_write]


def main():
    return run_lab_suite(globals(), TESTS, "istgt", 3280, total_s=240, per_test_s=45)


if __name__ == "__main__":
    sys.exit(main())
