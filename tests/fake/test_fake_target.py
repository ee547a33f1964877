#!/usr/bin/python3
"""Self-test of the fake iSCSI target (tests/fake).

Runs: codec round trips and CRC32C vectors; independent interop with
libiscsi's tools (Debian libiscsi-bin: iscsi-ls, iscsi-inq,
iscsi-readcapacity16, iscsi-perf); and a small raw-socket initiator (written
here from RFC 7143 with the codec) for writes/R2T, NOP, TMF, SNACK, ERL 2,
logout, digests and the named scripts.

    /usr/bin/python3 tests/fake/test_fake_target.py [-v] [name-substring]

Ends with "N passed, N failed"; exit status 1 on any failure.
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from iscsi_pdu import *  # noqa: F401,F403,E402
from iscsi_pdu import (  # noqa: E402
    Pdu, Framer, DigestError, encode_pdu, decode_pdu, crc32c, digest_bytes, build_text,
    parse_text, lun_bytes, lun_number, OP_NAMES, FIELDS, BITS, RSVD_TAG,
)
import iscsi_pdu as P  # noqa: E402
from fake_target import (  # noqa: E402
    FakeTarget, DROP, HOLD, OMIT, Truncate, apply_script, chap_response,
    encode_chap, decode_chap, SCRIPTS,
)

TNAME = "iqn.2024-01.org.uiscsi:fake"
INAME = "iqn.2024-01.org.uiscsi:selftest"
VERBOSE = "-v" in sys.argv
HAVE_LIBISCSI = shutil.which("iscsi-inq") is not None

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Fail(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def eq(a, b, msg=""):
    if a != b:
        raise Fail("%s: %r != %r" % (msg or "eq", a, b))


# ====================================================================
# raw-socket initiator (independent of the target's logic; RFC 7143)
# ====================================================================
class Ini:
    """Minimal initiator: one connection, blocking, every wait bounded."""

    def __init__(self, port, isid=b"\x80\x12\x34\x56\x00\x01", tsih=0, cid=1, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect((host, port))
        self.fr = Framer()
        self.hd = self.dd = False
        self.isid, self.tsih, self.cid = isid, tsih, cid
        self.itt = 0x10
        self.cmdsn = 0x100
        self.expstatsn = 0
        self.maxcmdsn = 0
        self.keys = {}
        self.tgt_mrdsl = 8192
        self.inbox = []
        self.order = "little"

    def next_itt(self):
        self.itt += 1
        return self.itt

    def send(self, p):
        self.sock.sendall(encode_pdu(p, self.hd, self.dd, self.order))

    def recv(self, timeout=3.0):
        """Next PDU from the wire (the inbox is only used by wait_op)."""
        self.fr.hd, self.fr.dd, self.fr.order = self.hd, self.dd, self.order
        deadline = time.monotonic() + timeout
        while self.fr.need():
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("timeout waiting for a PDU")
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                raise Fail("timeout waiting for a PDU")
            if not b:
                raise EOFError("connection closed by target")
            self.fr.feed(b)
        p = self.fr.next()
        if "statsn" in p.fields() and p.opcode not in (OP_R2T,) and not (
                p.opcode == OP_DATA_IN and not p.S) and not (
                p.opcode == OP_NOP_IN and p.itt == RSVD_TAG):
            self.expstatsn = (p.statsn + 1) & 0xFFFFFFFF
        if "maxcmdsn" in p.fields() and p.opcode != OP_LOGIN_RSP:
            self.maxcmdsn = p.maxcmdsn
        return p

    def closed(self, timeout=2.0):
        """True when the target closes the connection within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                return True
            if not b:
                return True
            self.fr.feed(b)
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- login
    def login_pdu(self, csg, nsg, T, pairs, C=0):
        return Pdu(OP_LOGIN_REQ, immediate=True, T=T, C=C, csg=csg, nsg=nsg, isid=self.isid,
                   tsih=self.tsih, itt=self.itt, cid=self.cid, cmdsn=self.cmdsn,
                   expstatsn=self.expstatsn, data=build_text(pairs))

    def exchange(self, csg, nsg, T, pairs, split=0):
        """One login request (split over C-bit PDUs if split) -> (resp, keys);
        reads the target's C-bit continuations too."""
        data = build_text(pairs)
        if split and len(data) > split:
            chunks = [data[i:i + split] for i in range(0, len(data), split)]
            for ch in chunks[:-1]:
                p = self.login_pdu(csg, nsg, 0, [], C=1)
                p.data = ch
                self.send(p)
                r = self.recv()
                check(r.opcode == OP_LOGIN_RSP and not r.data, "empty response to C=1")
            p = self.login_pdu(csg, nsg, T, [])
            p.data = chunks[-1]
        else:
            p = self.login_pdu(csg, nsg, T, pairs)
        self.send(p)
        acc = b""
        for _ in range(64):
            r = self.recv()
            check(r.opcode == OP_LOGIN_RSP, "login response expected, got %s" % r.name)
            acc += r.data
            if not r.C:
                break
            self.send(self.login_pdu(csg, nsg, 0, []))
        keys = dict(parse_text(acc))
        self.last_login = r
        if r.status_class:
            return r, keys
        return r, keys

    def login(self, target=TNAME, op=None, auth=None, discovery=False, chap_a="5",
              user="user", secret="secretsecret", mutual=None, split=0):
        """Full login; returns the final response (or the failing one)."""
        base = [("InitiatorName", INAME)]
        if discovery:
            base.append(("SessionType", "Discovery"))
        else:
            base += [("SessionType", "Normal"), ("TargetName", target)]
        op = list(op or [])
        if auth is None:
            r, k = self.exchange(0, 1, 1, base + [("AuthMethod", "None")])
            if r.status_class:
                return r
        else:
            r, k = self.exchange(0, 1, 0, base + [("AuthMethod", "CHAP,None")])
            if r.status_class:
                return r
            eq(k.get("AuthMethod"), "CHAP", "AuthMethod")
            r, k = self.exchange(0, 1, 0, [("CHAP_A", chap_a)])
            if r.status_class:
                return r
            alg = int(k["CHAP_A"])
            self.chap_seen = k
            ident = int(k["CHAP_I"])
            chal = decode_chap(k["CHAP_C"])
            hname = {5: "md5", 6: "sha1", 7: "sha256", 8: "sha3_256"}[alg]
            pairs = [("CHAP_N", user),
                     ("CHAP_R", encode_chap(chap_response(hname, ident, secret.encode(), chal)))]
            if mutual:
                mychal = os.urandom(16)
                pairs += [("CHAP_I", "77"), ("CHAP_C", encode_chap(mychal))]
            r, k = self.exchange(0, 1, 1, pairs)
            if r.status_class:
                return r
            if mutual:
                want = chap_response(hname, 77, mutual[1].encode(), mychal)
                self.mutual_ok = (k.get("CHAP_N") == mutual[0]
                                  and decode_chap(k.get("CHAP_R", "0x")) == want)
        self.keys.update(k)
        while not (r.T and r.nsg == 3):
            r, k = self.exchange(1, 3, 1, op, split=split)
            if r.status_class:
                return r
            self.keys.update(k)
            op = []
        self.tsih = r.tsih
        self.expcmdsn = r.expcmdsn
        self.maxcmdsn = r.maxcmdsn
        self.tgt_mrdsl = int(self.keys.get("MaxRecvDataSegmentLength", 8192))
        self.hd = self.keys.get("HeaderDigest") == "CRC32C"
        self.dd = self.keys.get("DataDigest") == "CRC32C"
        return r

    def p(self, key, default):
        v = self.keys.get(key, default)
        return v

    # ---- full feature phase
    def cmd(self, cdb, lun=0, edtl=0, R=0, W=0, data=b"", F=1, itt=None, immediate=False):
        p = Pdu(OP_SCSI_CMD, F=F, R=R, W=W, attr=1, lun=lun_bytes(lun),
                itt=itt if itt is not None else self.next_itt(), edtl=edtl,
                cmdsn=self.cmdsn, expstatsn=self.expstatsn, cdb=cdb, data=data,
                immediate=immediate)
        if not immediate:
            self.cmdsn += 1
        self.send(p)
        return p

    def read(self, lun, lba, blocks, bs=512, timeout=3.0):
        """READ(10); returns (data, final status PDU, [Data-In PDUs])."""
        cdb = struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)
        c = self.cmd(cdb, lun, blocks * bs, R=1)
        buf = bytearray(blocks * bs)
        dins = []
        for _ in range(100000):
            r = self.recv(timeout)
            if r.opcode == OP_DATA_IN and r.itt == c.itt:
                dins.append(r)
                buf[r.bufferoffset:r.bufferoffset + len(r.data)] = r.data
                if r.S:
                    return bytes(buf), r, dins
            elif r.opcode == OP_SCSI_RSP and r.itt == c.itt:
                return bytes(buf), r, dins
            else:
                self.inbox.append(r)
                if len(self.inbox) > 1000:
                    raise Fail("too many unrelated PDUs")
        raise Fail("read did not finish")

    def write(self, lun, lba, data, bs=512, corrupt_first_dataout=False):
        """WRITE(10) following the negotiated ImmediateData/InitialR2T/FBL/MRDSL.
        Returns (status PDU, [sent PDUs], [R2Ts])."""
        edtl = len(data)
        cdb = struct.pack(">BBIBHB", 0x2A, 0, lba, 0, edtl // bs, 0)
        fbl = int(self.p("FirstBurstLength", "65536"))
        mrdsl = self.tgt_mrdsl
        imm = min(fbl, mrdsl, edtl) if self.p("ImmediateData", "Yes") == "Yes" else 0
        unsol_end = min(fbl, edtl) if self.p("InitialR2T", "Yes") == "No" else imm
        sent = []
        c = self.cmd(cdb, lun, edtl, W=1, data=data[:imm], F=int(unsol_end <= imm))
        sent.append(c)
        pos, dsn = imm, 0
        first = [corrupt_first_dataout]
        while pos < unsol_end:
            n = min(mrdsl, unsol_end - pos)
            d = Pdu(OP_DATA_OUT, F=int(pos + n >= unsol_end), lun=lun_bytes(lun), itt=c.itt,
                    ttt=RSVD_TAG, expstatsn=self.expstatsn, datasn=dsn, bufferoffset=pos,
                    data=data[pos:pos + n])
            self.send(d)
            sent.append(d)
            pos += n
            dsn += 1
        r2ts = []
        for _ in range(10000):
            r = self.recv()
            if r.opcode == OP_R2T and r.itt == c.itt:
                r2ts.append(r)
                off, end, dsn = r.bufferoffset, r.bufferoffset + r.ddtl, 0
                while off < end:
                    n = min(mrdsl, end - off)
                    d = Pdu(OP_DATA_OUT, F=int(off + n >= end), lun=lun_bytes(lun),
                            itt=c.itt, ttt=r.ttt, expstatsn=self.expstatsn, datasn=dsn,
                            bufferoffset=off, data=data[off:off + n])
                    if first[0]:
                        d.corrupt_ddigest = True
                        first[0] = False
                    self.send(d)
                    sent.append(d)
                    off += n
                    dsn += 1
            elif r.opcode == OP_SCSI_RSP and r.itt == c.itt:
                return r, sent, r2ts
            else:
                self.inbox.append(r)
        raise Fail("write did not finish")

    def nop(self, data=b"hello", immediate=True):
        p = Pdu(OP_NOP_OUT, immediate=immediate, F=1, itt=self.next_itt(), ttt=RSVD_TAG,
                cmdsn=self.cmdsn, expstatsn=self.expstatsn, data=data)
        if not immediate:
            self.cmdsn += 1
        self.send(p)
        return p

    def tmf(self, function, rtt=RSVD_TAG, lun=0, refcmdsn=0, expdatasn=0):
        p = Pdu(OP_TMF_REQ, immediate=True, function=function, lun=lun_bytes(lun),
                itt=self.next_itt(), rtt=rtt, cmdsn=self.cmdsn, expstatsn=self.expstatsn,
                refcmdsn=refcmdsn, expdatasn=expdatasn)
        self.send(p)
        return p

    def logout(self, reason=0, cid=None):
        p = Pdu(OP_LOGOUT_REQ, immediate=True, reason_code=reason, itt=self.next_itt(),
                cid=self.cid if cid is None else cid, cmdsn=self.cmdsn,
                expstatsn=self.expstatsn)
        self.send(p)
        return p

    def wait_op(self, opcode, timeout=3.0, where=None):
        for i, q in enumerate(self.inbox):
            if q.opcode == opcode and (where is None or where(q)):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            r = self.recv(max(0.01, deadline - time.monotonic()))
            if r.opcode == opcode and (where is None or where(r)):
                return r
            self.inbox.append(r)
        raise Fail("no %s" % OP_NAMES.get(opcode))


def target(**kw):
    kw.setdefault("verbose", VERBOSE and "-vv" in sys.argv)
    t = FakeTarget(**kw)
    t.start()
    return t


def no_violations(t):
    check(not t.internal_errors, "internal errors: %r" % t.internal_errors)
    check(not t.violations, "violations: %r" % t.violations)


def libiscsi(args, timeout=20):
    r = subprocess.run(["timeout", "-k", "2", str(timeout)] + args, capture_output=True,
                       text=True, timeout=timeout + 5)
    if VERBOSE:
        print("   $ %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.stdout[-600:],
                                       r.stderr[-600:]))
    return r


def url(port, lun=0, cred="", q=""):
    return "iscsi://%s127.0.0.1:%d/%s/%d%s" % (cred, port, TNAME, lun, q)


# ====================================================================
# codec
# ====================================================================
@test
def crc32c_vectors():
    eq(crc32c(bytes(32)), 0x8A9136AA, "32 zero bytes")
    eq(digest_bytes(bytes(32)), bytes([0xAA, 0x36, 0x91, 0x8A]), "wire order")
    eq(digest_bytes(bytes(32), "big"), bytes([0x8A, 0x91, 0x36, 0xAA]), "big order")
    eq(crc32c(b"123456789"), 0xE3069283, "check value")
    eq(crc32c(b"\xff" * 32), 0x62A8AB43, "32 0xff bytes (RFC 3720 B.4)")
    eq(crc32c(bytes(range(32))), 0x46DD794E, "incrementing (RFC 3720 B.4)")
    eq(crc32c(b"6789", crc32c(b"12345")), 0xE3069283, "chained")


def _sample_fields(op):
    kw = {}
    for i, (name, _off, size) in enumerate(FIELDS[op]):
        if size in (6, 8, 16):
            kw[name] = bytes((i * 7 + j) & 0xFF for j in range(size))
        else:
            kw[name] = (0x01020304 * (i + 1) + op) & ((1 << (8 * size)) - 1)
    return kw


@test
def codec_roundtrip_every_opcode():
    for op in sorted(FIELDS):
        for hd, dd in ((False, False), (True, True), (True, False), (False, True)):
            for data in (b"", b"x", b"ab", b"abc", b"abcde", bytes(range(256)) * 3):
                kw = _sample_fields(op)
                p = Pdu(op, data=data, immediate=op < 0x20 and op != OP_DATA_OUT, **kw)
                for bname, mask in BITS[op]:
                    setattr(p, bname, 1)
                raw = encode_pdu(p, hd, dd)
                exp_len = 48 + (4 if hd else 0) + len(data) + P.pad4(len(data)) + \
                    (4 if dd and data else 0)
                eq(len(raw), exp_len, "%s length" % p.name)
                q, n = decode_pdu(raw, hd, dd)
                eq(n, len(raw))
                eq(q.fields(), p.fields(), "%s fields" % p.name)
                eq(q.data, data)
                eq(encode_pdu(q, hd, dd), raw, "%s re-encode" % p.name)
                if data and P.pad4(len(data)):
                    pad = raw[48 + (4 if hd else 0) + len(data):][:P.pad4(len(data))]
                    eq(pad, bytes(len(pad)), "zero padding")
                if dd and data:
                    seg = data + bytes(P.pad4(len(data)))
                    eq(raw[-4:], digest_bytes(seg), "data digest covers data+pad")
                if hd:
                    eq(raw[48:52], digest_bytes(raw[:48]), "header digest")
    # byte layout spot checks against RFC 7143 §11
    p = Pdu(OP_SCSI_CMD, F=1, R=1, attr=1, itt=0x11223344, edtl=4096, cmdsn=7, expstatsn=9,
            cdb=b"\x28" + bytes(9), lun=lun_bytes(1))
    b = p.bhs()
    eq(b[0], 0x01)
    eq(b[1], 0xC1)
    eq(b[8:10], b"\x00\x01")
    eq(b[16:20], b"\x11\x22\x33\x44")
    eq(b[20:24], struct.pack(">I", 4096))
    eq(b[32], 0x28)
    s = Pdu(OP_SNACK, snack_type=1, itt=RSVD_TAG, begrun=5, runlength=4).bhs()
    eq(s[1], 0x81)
    eq(s[40:48], struct.pack(">II", 5, 4), "SNACK BegRun/RunLength at 40/44")
    l = Pdu(OP_LOGIN_RSP, T=1, csg=1, nsg=3, status_class=2, status_detail=1).bhs()
    eq(l[1], 0x87)
    eq(l[36:38], b"\x02\x01")
    a = Pdu(OP_ASYNC, async_event=2, param1=1, param2=2, param3=20).bhs()
    eq(a[36:44], bytes([2, 0, 0, 1, 0, 2, 0, 20]))
    lo = Pdu(OP_LOGOUT_RSP, time2wait=3, time2retain=30).bhs()
    eq(lo[40:44], bytes([0, 3, 0, 30]))


@test
def codec_unknown_opcode_ahs_and_framing():
    p = Pdu(0x1C, data=b"zz", itt=5)
    raw = encode_pdu(p, True, True)
    q, _ = decode_pdu(raw, True, True)
    eq(q.opcode, 0x1C)
    eq(q.itt, 5)
    # AHS: header digest covers BHS + AHS (A4)
    ahs = struct.pack(">HBB", 8, 1, 0) + bytes(range(8))
    p = Pdu(OP_SCSI_CMD, ahs=ahs[:12], itt=1, cdb=bytes(16))
    raw = encode_pdu(p, True, False)
    eq(raw[4], 3)
    eq(raw[60:64], digest_bytes(raw[:60]))
    q, _ = decode_pdu(raw, True, False)
    eq(q.ahs, ahs[:12])
    # byte-at-a-time and 3-in-one framing (A1)
    pdus = [Pdu(OP_NOP_IN, itt=i, ttt=RSVD_TAG, data=b"d" * i) for i in range(3)]
    stream = b"".join(encode_pdu(x, True, True) for x in pdus)
    fr = Framer(hd=True, dd=True)
    got = []
    for i in range(len(stream)):
        fr.feed(stream[i:i + 1])
        x = fr.next()
        if x:
            got.append(x)
    eq([x.itt for x in got], [0, 1, 2])
    fr = Framer(hd=True, dd=True)
    fr.feed(stream)
    eq([fr.next().itt for _ in range(3)], [0, 1, 2])
    # digest errors detected
    bad = bytearray(encode_pdu(pdus[2], True, True))
    bad[-1] ^= 1
    try:
        decode_pdu(bytes(bad), True, True)
        raise Fail("data digest error not detected")
    except DigestError as e:
        eq(e.kind, "data")
    bad = bytearray(encode_pdu(pdus[2], True, True))
    bad[49] ^= 1
    try:
        decode_pdu(bytes(bad), True, True)
        raise Fail("header digest error not detected")
    except DigestError as e:
        eq(e.kind, "header")
    # oversized DSL refused before allocation
    big = Pdu(OP_DATA_IN, itt=1)
    big.dsl_override = 0xFFFFFF
    fr = Framer(max_dsl=65536)
    fr.feed(big.bhs())
    try:
        fr.next()
        raise Fail("oversized DSL accepted")
    except P.CodecError:
        pass
    # text keys
    eq(parse_text(b"A=1\0B=x=y\0\0C\0"), [("A", "1"), ("B", "x=y"), ("C", None)])
    eq(build_text([("K", "v"), ("L", "")]), b"K=v\0L=\0")
    eq(lun_number(lun_bytes(300)), 300)
    eq(lun_bytes(300)[:2], b"\x41\x2c")
    check(P.sna_lt(0xFFFFFFF0, 3) and not P.sna_lt(3, 0xFFFFFFF0), "serial arithmetic")


# ====================================================================
# libiscsi interop (independent initiator)
# ====================================================================
@test
def libiscsi_discovery_inquiry_readcap():
    if not HAVE_LIBISCSI:
        raise Fail("libiscsi-bin not installed")
    t = target(luns={0: 4096, 1: 8192})
    try:
        r = libiscsi(["iscsi-ls", "-s", "iscsi://127.0.0.1:%d" % t.port])
        eq(r.returncode, 0, "iscsi-ls rc")
        check("Target:%s Portal:127.0.0.1:%d,1" % (TNAME, t.port) in r.stdout, r.stdout)
        check("Lun:0" in r.stdout and "Lun:1" in r.stdout, r.stdout)
        # libiscsi prints floor(last_lba * block_size / MiB)
        check("Lun:0    Type:DIRECT_ACCESS (Size:1M)" in r.stdout, r.stdout)
        r = libiscsi(["iscsi-inq", url(t.port, 1)])
        eq(r.returncode, 0, "iscsi-inq rc")
        check("Vendor:UISFAKE" in r.stdout and "Product:RAMDISK" in r.stdout, r.stdout)
        r = libiscsi(["iscsi-inq", "-e", "1", "-c", "128", url(t.port, 1)])
        eq(r.returncode, 0, "iscsi-inq VPD 80 rc")
        check("FAKE00008192" in r.stdout, r.stdout)
        r = libiscsi(["iscsi-readcapacity16", url(t.port, 1)])
        eq(r.returncode, 0, "readcapacity16 rc")
        check("RETURNED LOGICAL BLOCK ADDRESS:8191" in r.stdout, r.stdout)
        check("LOGICAL BLOCK LENGTH IN BYTES:512" in r.stdout, r.stdout)
        # the discovery session carried SendTargets=All in a Text Request
        st = t.received(OP_TEXT_REQ)
        check(st and ("SendTargets", "All") in st[0].text(), "SendTargets=All")
        eq(st[0].F, 1)
        eq(st[0].ttt, RSVD_TAG)
        no_violations(t)
    finally:
        t.stop()


@test
def libiscsi_discovery_split_text():
    # Finding: libiscsi 1.19 cannot read a SendTargets answer spread over
    # several Text Responses, neither with C=1 nor split at key boundaries
    # (F=0, C=0, TTT set): "unsupported flags in text reply 40" / "00".  The
    # split itself is verified with the raw initiator (discovery_raw_and_ipv6).
    for mode, flags in (("c-bit", "40"), ("keys", "00")):
        t = target(text_split=40, text_split_mode=mode, targets=[TNAME, TNAME + "2"])
        try:
            r = libiscsi(["iscsi-ls", "iscsi://127.0.0.1:%d" % t.port])
            rs = t.sent(OP_TEXT_RSP)
            eq((rs[0].F, rs[0].C), (0, int(mode == "c-bit")), "first Text Response flags")
            check(rs[0].ttt != RSVD_TAG, "TTT set on a partial response")
            check(r.returncode != 0 and "unsupported flags in text reply %s" % flags
                  in r.stderr, "libiscsi behaviour changed: rc=%d %s" % (r.returncode,
                                                                        r.stderr))
        finally:
            t.stop()


@test
def libiscsi_chap_md5():
    t = target(auth="chap", chap_user="alice", chap_secret="alicesecret1",
               chap_challenge_len=49)
    try:
        r = libiscsi(["iscsi-inq", url(t.port, 0, "alice%alicesecret1@")])
        eq(r.returncode, 0, "CHAP login rc: " + r.stderr)
        check(t.chap_log and t.chap_log[-1]["ok"] and t.chap_log[-1]["alg"] == 5, t.chap_log)
        r = libiscsi(["iscsi-inq", url(t.port, 0, "alice%wrongsecret1@")])
        check(r.returncode != 0, "wrong secret must fail")
        fails = t.sent(OP_LOGIN_RSP, where=lambda p: p.status_class == 2)
        check(fails and fails[-1].status_detail == 1, "status 0x0201")
        r = libiscsi(["iscsi-inq", url(t.port, 0)])
        check(r.returncode != 0, "no credentials must fail")
    finally:
        t.stop()


@test
def libiscsi_mutual_chap():
    t = target(auth="chap", chap_user="alice", chap_secret="alicesecret1",
               mutual_user="tgt", mutual_secret="targetsecret2")
    try:
        q = "?target_user=tgt&target_password=targetsecret2"
        r = libiscsi(["iscsi-inq", url(t.port, 0, "alice%alicesecret1@", q)])
        eq(r.returncode, 0, "mutual CHAP rc: " + r.stderr)
        lr = [p for p in t.received(OP_LOGIN_REQ) if "CHAP_C" in p.keys()]
        check(lr, "initiator sent CHAP_C (mutual)")
        t.cfg.chap_bad_mutual_response = True
        r = libiscsi(["iscsi-inq", url(t.port, 0, "alice%alicesecret1@", q)])
        check(r.returncode != 0, "libiscsi must refuse a wrong target CHAP_R")
        t.cfg.chap_bad_mutual_response = False
        r = libiscsi(["iscsi-inq", url(t.port, 0, "alice%alicesecret1@",
                                      "?target_user=tgt&target_password=otherpassword")])
        check(r.returncode != 0, "wrong target secret must fail")
    finally:
        t.stop()


@test
def libiscsi_perf_read():
    t = target(luns={0: 65536})
    try:
        # iscsi-perf runs until killed; 2 s of reads, then SIGTERM from timeout
        r = libiscsi(["iscsi-perf", "-m", "8", "-b", "16", url(t.port, 0)], timeout=2)
        check(r.returncode in (0, 124, 143), "iscsi-perf rc %d %s" % (r.returncode, r.stderr))
        reads = t.received(OP_SCSI_CMD, where=lambda p: p.cdb[0] in (0x28, 0x88))
        check(len(reads) > 50, "iscsi-perf issued %d reads" % len(reads))
        dins = t.sent(OP_DATA_IN)
        check(all(len(d.data) <= 262144 for d in dins), "Data-In <= initiator MRDSL")
        no_violations(t)
        if VERBOSE:
            print("   iscsi-perf: %d reads in 2 s" % len(reads))
    finally:
        t.stop()


@test
def libiscsi_header_digest():
    # RFC list rule: libiscsi offers "None,CRC32C" -> the first the target
    # supports: None
    t = target(header_digest=("CRC32C", "None"))
    try:
        r = libiscsi(["iscsi-inq", url(t.port)])
        eq(r.returncode, 0)
        off = [p for p in t.received(OP_LOGIN_REQ) if "HeaderDigest" in p.keys()]
        eq(off[-1].keys()["HeaderDigest"], "None,CRC32C", "libiscsi offer")
        ans = [p for p in t.sent(OP_LOGIN_RSP) if "HeaderDigest" in p.keys()]
        eq(ans[-1].keys()["HeaderDigest"], "None", "RFC choice")
    finally:
        t.stop()
    # tgt-like target preference: CRC32C wins, every FFP PDU carries a digest
    t = target(header_digest=("CRC32C", "None"), digest_choice="target")
    try:
        r = libiscsi(["iscsi-readcapacity16", url(t.port)])
        eq(r.returncode, 0, "libiscsi with header digest: " + r.stderr)
        ans = [p for p in t.sent(OP_LOGIN_RSP) if "HeaderDigest" in p.keys()]
        eq(ans[-1].keys()["HeaderDigest"], "CRC32C")
        cmds = t.recs("in", OP_SCSI_CMD)
        check(cmds, "commands seen")
        for rec in cmds:
            eq(len(rec.raw), 52, "48 + header digest")
            eq(rec.raw[48:52], digest_bytes(rec.raw[:48]), "libiscsi header CRC (LE)")
        for rec in t.recs("out", OP_DATA_IN):
            eq(rec.raw[48:52], digest_bytes(rec.raw[:48]))
        no_violations(t)
    finally:
        t.stop()
    # informational: libiscsi 1.19 still offers "None,CRC32C" with the URL
    # argument header_digest=crc32c, so a CRC32C-only offer cannot be produced
    t = target()
    try:
        r = libiscsi(["iscsi-inq", url(t.port, q="?header_digest=crc32c")])
        off = [p.keys()["HeaderDigest"] for p in t.received(OP_LOGIN_REQ)
               if "HeaderDigest" in p.keys()]
        if VERBOSE:
            print("   header_digest=crc32c: rc=%d offered %s" % (r.returncode, off))
    finally:
        t.stop()


# ====================================================================
# raw initiator against the fake
# ====================================================================
def ffp(t, op=None, **kw):
    i = Ini(t.port)
    r = i.login(op=op, **kw)
    eq(r.status_class, 0, "login status")
    return i


@test
def login_basic_fields():
    t = target(cmd_window=64, initial_statsn=0xFFFFFFFE)
    try:
        i = ffp(t, op=[("MaxRecvDataSegmentLength", "65536"), ("X-vendor-key", "1"),
                       ("MaxBurstLength", "99999999")])
        eq(i.keys.get("X-vendor-key"), "NotUnderstood")
        eq(i.keys.get("MaxBurstLength"), "Reject", "out of range offer rejected")
        eq(i.keys.get("TargetPortalGroupTag"), "1")
        rs = t.sent(OP_LOGIN_RSP)
        eq([x.statsn for x in rs], [0xFFFFFFFE, 0xFFFFFFFF], "StatSN +1 per login response")
        eq(rs[-1].maxcmdsn, (rs[-1].expcmdsn + 63) & 0xFFFFFFFF, "window 64")
        check(rs[-1].tsih != 0 and rs[0].tsih == 0, "TSIH on the final response only")
        eq(i.maxcmdsn, (i.cmdsn + 63) & 0xFFFFFFFF)
        # StatSN wraps
        _, st, _ = i.read(0, 0, 1)
        eq(st.statsn, 0)
        no_violations(t)
        i.close()
    finally:
        t.stop()


@test
def login_cbit_both_ways_and_extra_rounds():
    t = target(login_resp_split=64, op_extra_rounds=1,
               extra_keys=[("X-fake-offer", "1"), ("MaxOutstandingR2T", "4")],
               key_policy={"DataPDUInOrder": "Irrelevant", "DefaultTime2Wait": OMIT,
                           "IFMarker": "Reject"})
    try:
        i = Ini(t.port)
        op = [("X-pad-%d" % k, "v" * 30) for k in range(6)] + [
            ("DataPDUInOrder", "Yes"), ("DefaultTime2Wait", "0"), ("IFMarker", "No")]
        r = i.login(op=op, split=100)
        eq(r.status_class, 0)
        reqs = t.received(OP_LOGIN_REQ)
        check(any(q.C for q in reqs), "initiator C bit seen")
        rs = t.sent(OP_LOGIN_RSP)
        check(any(x.C and not x.T for x in rs), "target C bit continuation")
        opr = [x for x in rs if x.csg == 1]
        check(any(not x.T and not x.C for x in opr), "T=0 extra round")
        eq(i.keys.get("DataPDUInOrder"), "Irrelevant")
        check("DefaultTime2Wait" not in i.keys, "omitted key")
        eq(i.keys.get("IFMarker"), "Reject")
        eq(i.keys.get("X-fake-offer"), "1")
        no_violations(t)
        i.close()
    finally:
        t.stop()


@test
def login_status_redirect_and_omitted_mrdsl():
    t = target(omit_default_mrdsl=True)
    try:
        apply_script(t, "redirect-once")
        i = Ini(t.port)
        r = i.login()
        eq((r.status_class, r.status_detail), (1, 1))
        eq(dict(parse_text(r.data)).get("TargetAddress"), "127.0.0.1:%d,1" % t.port)
        check(i.closed(), "target closes after redirect")
        i = ffp(t)
        check("MaxRecvDataSegmentLength" not in i.keys, "tgt-like: MRDSL 8192 omitted")
        i.close()
        t.cfg.login_status = (3, 2)
        t.cfg.login_status_count = 1
        i = Ini(t.port)
        r = i.login()
        eq((r.status_class, r.status_detail), (3, 2))
        i.close()
        i = Ini(t.port)
        r = i.login(target="iqn.nope")
        eq((r.status_class, r.status_detail), (2, 3), "unknown target")
        i.close()
    finally:
        t.stop()


@test
def chap_all_algorithms_raw():
    for alg in ("5", "6", "7", "8"):
        t = target(auth="chap", mutual_user="tg", mutual_secret="mutualsecret9",
                   chap_encoding="base64" if alg == "8" else "hex")
        try:
            i = Ini(t.port)
            r = i.login(auth="chap", chap_a=alg, mutual=("tg", "mutualsecret9"))
            eq(r.status_class, 0, "CHAP_A=%s" % alg)
            check(i.mutual_ok, "mutual response verifies for alg %s" % alg)
            if alg == "8":
                check(i.chap_seen["CHAP_C"].startswith("0b"), "base64 challenge")
            i.close()
        finally:
            t.stop()
    # reflection, zero and short challenges, bad identifier
    t = target(auth="chap", mutual_user="tg", mutual_secret="mutualsecret9")
    try:
        i = Ini(t.port)
        i.login(auth="chap", mutual=("tg", "mutualsecret9"))
        mine = t.last_initiator_challenge
        i.close()
        t.cfg.chap_reflect = True
        i = Ini(t.port)
        i.login(auth="chap", mutual=("tg", "mutualsecret9"))
        eq(decode_chap(i.chap_seen["CHAP_C"]), mine, "reflected challenge")
        i.close()
        t.cfg.chap_reflect = False
        t.cfg.chap_challenge_zero = True
        t.cfg.chap_challenge_len = 8
        t.cfg.chap_identifier = "256"
        i = Ini(t.port)
        i.sock.settimeout(2)
        i.exchange(0, 1, 0, [("InitiatorName", INAME), ("SessionType", "Normal"),
                             ("TargetName", TNAME), ("AuthMethod", "CHAP")])
        _, k = i.exchange(0, 1, 0, [("CHAP_A", "7,5")])
        eq(k["CHAP_A"], "7", "first of the initiator's list")
        eq(k["CHAP_C"], "0x" + "00" * 8)
        eq(k["CHAP_I"], "256")
        i.close()
    finally:
        t.stop()


@test
def write_paths_r2t():
    cases = [("Yes", "Yes"), ("No", "Yes"), ("Yes", "No"), ("No", "No")]
    for imm, ir2t in cases:
        for size in (512, 8192, 20480, 3 * 65536 + 1024):
            t = target(params={"MaxBurstLength": "65536", "FirstBurstLength": "16384",
                               "MaxOutstandingR2T": "2", "InitialR2T": "No"},
                       luns={0: 4096})
            try:
                i = ffp(t, op=[("ImmediateData", imm), ("InitialR2T", ir2t),
                               ("MaxBurstLength", "262144"), ("FirstBurstLength", "65536"),
                               ("MaxOutstandingR2T", "4")])
                eq(i.keys.get("MaxBurstLength"), "65536")
                eq(i.keys.get("FirstBurstLength"), "16384")
                eq(i.keys.get("MaxOutstandingR2T"), "2")
                data = os.urandom(size)
                st, sent, r2ts = i.write(0, 8, data)
                eq((st.response, st.status), (0, 0), "write %s/%s %d" % (imm, ir2t, size))
                back, rs, _ = i.read(0, 8, size // 512 + (1 if size % 512 else 0))
                eq(back[:size], data, "read back")
                cmd = t.last_received(OP_SCSI_CMD, where=lambda p: p.W)
                fbl = 16384
                if imm == "Yes":
                    eq(len(cmd.data), min(size, 8192, fbl), "immediate length")
                else:
                    eq(len(cmd.data), 0)
                if ir2t == "No" and size > len(cmd.data):
                    eq(cmd.F, 0, "F=0 when unsolicited Data-Out follows")
                r2t_rx = t.sent(OP_R2T)
                unsol = min(fbl, size) if ir2t == "No" else len(cmd.data)
                eq(sum(r.ddtl for r in r2t_rx), size - unsol, "R2T total")
                eq([r.r2tsn for r in r2t_rx], list(range(len(r2t_rx))), "R2TSN")
                check(all(r.ddtl <= 65536 for r in r2t_rx), "R2T <= MaxBurstLength")
                if r2t_rx:
                    eq(r2t_rx[0].bufferoffset, unsol, "first R2T offset")
                no_violations(t)
                i.close()
            finally:
                t.stop()


@test
def r2t_outstanding_plan_and_recovery():
    # MaxOutstandingR2T=4: 4 R2Ts before any data
    t = target(params={"MaxOutstandingR2T": "4", "MaxBurstLength": "8192"}, luns={0: 4096})
    try:
        i = ffp(t, op=[("ImmediateData", "No"), ("MaxOutstandingR2T", "8"),
                       ("MaxBurstLength", "65536")])
        eq((i.keys["MaxOutstandingR2T"], i.keys["MaxBurstLength"]), ("4", "8192"))
        cdb = struct.pack(">BBIBHB", 0x2A, 0, 0, 0, 128, 0)
        i.cmd(cdb, 0, 65536, W=1)
        first = [i.wait_op(OP_R2T) for _ in range(4)]
        eq([r.bufferoffset for r in first], [0, 8192, 16384, 24576])
        check(not i.closed(0.2) and not i.inbox, "no 5th R2T while 4 are outstanding")
        i.close()
    finally:
        t.stop()
    # explicit out-of-order R2T plan
    t = target(luns={0: 4096})
    try:
        t.on_command(lambda c, task: setattr(task, "r2t_plan", [(4096, 4096), (0, 4096)])
                     if task.write else None)
        i = ffp(t, op=[("ImmediateData", "No")])
        data = os.urandom(8192)
        st, sent, r2ts = i.write(0, 0, data)
        eq(st.status, 0)
        eq([r.bufferoffset for r in r2ts], [4096, 0])
        eq(bytes(t.disk.luns[0].data[:8192]), data)
        i.close()
    finally:
        t.stop()
    # D6: a Data-Out with a bad data digest at ERL 1 -> Reject 0x02 + recovery R2T
    t = target(data_digest=("CRC32C", "None"), luns={0: 4096})
    try:
        i = ffp(t, op=[("ImmediateData", "No"), ("ErrorRecoveryLevel", "1"),
                       ("DataDigest", "CRC32C")])
        check(i.dd, "data digest negotiated")
        data = os.urandom(16384)
        st, sent, r2ts = i.write(0, 0, data, corrupt_first_dataout=True)
        eq(st.status, 0)
        rej = i.wait_op(OP_REJECT, timeout=0.5) if not [
            x for x in i.inbox if x.opcode == OP_REJECT] else [
            x for x in i.inbox if x.opcode == OP_REJECT][0]
        eq(rej.reason, 2)
        eq(rej.data[:48], sent[1].bhs(), "rejected BHS in the data segment")
        eq([(r.bufferoffset, r.ddtl) for r in r2ts], [(0, 16384), (0, 8192)], "recovery R2T")
        eq(bytes(t.disk.luns[0].data[:16384]), data)
        eq([v for v in t.violations if "digest" not in v], [])
        i.close()
    finally:
        t.stop()


@test
def reads_status_variants_and_scsi():
    t = target(luns={0: 4096, 3: 100}, unit_attention=True)
    try:
        i = ffp(t, op=[("MaxRecvDataSegmentLength", "4096")])
        # UA 29/00 on the first command (like tgt)
        _, st, _ = i.read(0, 0, 1)
        eq(st.status, 2)
        eq(st.data[2 + 2] & 0xF, 6, "UNIT ATTENTION")
        eq(st.data[2 + 12:2 + 14], b"\x29\x00")
        t.disk.luns[0].data[:16384] = bytes(range(256)) * 64
        data, st, dins = i.read(0, 0, 32)
        eq(data, bytes(range(256)) * 64)
        eq(len(dins), 4, "segmented at the initiator's MRDSL")
        eq([d.datasn for d in dins], [0, 1, 2, 3])
        eq((dins[-1].S, dins[-1].F, dins[0].S, dins[0].F), (1, 1, 0, 0), "status in data")
        # separate status, underflow, overflow, unknown ITT, iSCSI response 1
        t.cfg.status_in_data = False
        _, st, dins = i.read(0, 0, 2)
        eq(st.opcode, OP_SCSI_RSP)
        eq(dins[-1].S, 0)
        hooks = []
        hooks.append(t.on_command(lambda c, task: setattr(task, "residual", ("U", 512))))
        _, st, _ = i.read(0, 0, 2)
        eq((st.U, st.residual), (1, 512))
        hooks.pop()()
        hooks.append(t.on_command(lambda c, task: setattr(task, "response", 1)))
        _, st, _ = i.read(0, 0, 1)
        eq((st.response, st.status), (1, 0))
        hooks.pop()()
        # unknown opcode / LUN
        i.cmd(bytes([0xC7]) + bytes(15), 0, 0)
        st = i.wait_op(OP_SCSI_RSP)
        eq(st.status, 2)
        eq((st.data[4] & 0xF, st.data[14], st.data[15]), (5, 0x20, 0x00))
        i.cmd(bytes([0x00]) + bytes(15), 9, 0)
        st = i.wait_op(OP_SCSI_RSP)
        eq(st.data[14], 0x25, "LOGICAL UNIT NOT SUPPORTED")
        # COMPARE AND WRITE miscompare; VPD pages; REPORT LUNS
        cw = bytes([0x89, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0])
        i.cmd(cw, 0, 1024, W=1, data=bytes(1024), F=1)
        st = i.wait_op(OP_SCSI_RSP)
        eq((st.status, st.data[4] & 0xF), (2, 0xE), "MISCOMPARE")
        t.cfg.status_in_data = True
        for page in (0x00, 0x80, 0x83, 0xB0):
            i.cmd(bytes([0x12, 1, page, 0, 255, 0]) + bytes(10), 0, 255, R=1)
            d = i.wait_op(OP_DATA_IN)
            eq(d.data[1], page)
        i.cmd(bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]) + bytes(4), 0, 256, R=1)
        d = i.wait_op(OP_DATA_IN)
        eq(d.data[:4], struct.pack(">I", 16))
        eq(d.data[8:10] + d.data[16:18], b"\x00\x00\x00\x03")
        i.close()
    finally:
        t.stop()


@test
def nop_both_directions_and_storm():
    t = target()
    try:
        i = ffp(t)
        p = i.nop(b"abc")
        r = i.wait_op(OP_NOP_IN)
        eq((r.itt, r.ttt, r.data), (p.itt, RSVD_TAG, b"abc"))
        # target ping: reply ITT=0xffffffff, TTT echoed, LUN and data echoed
        t.send_nop_in(ping=True, lun=2, data=b"ping!")
        r = i.wait_op(OP_NOP_IN)
        check(r.ttt != RSVD_TAG and r.itt == RSVD_TAG, "target ping fields")
        i.send(Pdu(OP_NOP_OUT, immediate=True, F=1, itt=RSVD_TAG, ttt=r.ttt, lun=r.lun,
                   cmdsn=i.cmdsn, expstatsn=i.expstatsn, data=r.data))
        t.wait_for(lambda: not t.conn().nop_pending, 2)
        eq(t.conn().nop_pending, {}, "ping answered")
        no_violations(t)
        i.close()
    finally:
        t.stop()
    t = target()
    try:
        apply_script(t, "nop-storm", interval=0.05, drop_after=3)
        i = ffp(t)
        check(i.closed(2.0), "connection dropped after 3 unanswered pings")
        eq(len(t.sent(OP_NOP_IN)), 3)
    finally:
        t.stop()


@test
def tmf_abort_lun_reset_and_responses():
    t = target(luns={0: 1000, 1: 1000})
    try:
        t.on_command(lambda c, task: setattr(task, "withhold_status", True)
                     if task.cdb[0] == 0x28 and task.cdb[5] == 7 else None)
        i = ffp(t)
        c = i.cmd(struct.pack(">BBIBHB", 0x28, 0, 7, 0, 1, 0), 1, 512, R=1)
        i.wait_op(OP_DATA_IN)
        tm = i.tmf(1, rtt=c.itt, lun=1, refcmdsn=c.cmdsn)
        r = i.wait_op(OP_TMF_RSP)
        eq((r.itt, r.response), (tm.itt, 0), "ABORT TASK of a live task")
        i.tmf(1, rtt=c.itt, lun=1, refcmdsn=c.cmdsn)
        eq(i.wait_op(OP_TMF_RSP).response, 1, "task does not exist")
        i.tmf(5, lun=1)
        eq(i.wait_op(OP_TMF_RSP).response, 0, "LUN RESET")
        i.cmd(bytes(16), 1, 0)
        st = i.wait_op(OP_SCSI_RSP)
        eq((st.status, st.data[14], st.data[15]), (2, 0x29, 0x03), "UA after LUN reset")
        i.tmf(2, lun=5)
        eq(i.wait_op(OP_TMF_RSP).response, 2, "LUN does not exist")
        i.tmf(8, rtt=c.itt)
        eq(i.wait_op(OP_TMF_RSP).response, 4, "reassign at ERL 0")
        i.tmf(0x7F)
        eq(i.wait_op(OP_TMF_RSP).response, 255)
        t.cfg.tmf_response[4] = 5
        i.tmf(4, lun=0)
        eq(i.wait_op(OP_TMF_RSP).response, 5, "scripted response")
        i.tmf(6)
        eq(i.wait_op(OP_TMF_RSP).response, 0)
        check(i.closed(), "warm reset drops the session")
    finally:
        t.stop()


@test
def logout_reasons_and_times():
    t = target(time2wait=3, time2retain=30)
    try:
        i = ffp(t)
        lo = i.logout(0)
        r = i.wait_op(OP_LOGOUT_RSP)
        eq((r.itt, r.response, r.time2wait, r.time2retain), (lo.itt, 0, 3, 30))
        check(i.closed(), "target closes after logout")
        i = ffp(t)
        i.logout(1, cid=99)
        eq(i.wait_op(OP_LOGOUT_RSP).response, 1, "CID not found")
        i.logout(2, cid=i.cid)
        eq(i.wait_op(OP_LOGOUT_RSP).response, 2, "recovery not supported at ERL 0")
        t.cfg.logout_response = 3
        i.logout(0)
        eq(i.wait_op(OP_LOGOUT_RSP).response, 3, "scripted cleanup failed")
        i.close()
    finally:
        t.stop()


@test
def cmdsn_window_zero_then_open():
    t = target()
    try:
        apply_script(t, "window-zero-then-open", after=0.3, window=8)
        i = ffp(t)
        eq(i.maxcmdsn, (i.cmdsn - 1) & 0xFFFFFFFF, "zero window at login")
        r = i.wait_op(OP_NOP_IN, timeout=2)
        eq((r.itt, r.ttt), (RSVD_TAG, RSVD_TAG))
        eq(r.maxcmdsn, (i.cmdsn + 7) & 0xFFFFFFFF, "window reopened")
        # a command beyond MaxCmdSN is ignored and reported
        i.cmdsn += 20
        i.cmd(bytes(16), 0, 0)
        i.cmdsn -= 21
        check(not i.closed(0.2) and not i.inbox, "no response outside the window")
        check(any("MaxCmdSN" in v for v in t.violations), "violation recorded")
        # out-of-order CmdSN inside the window is queued until the gap fills
        a = Pdu(OP_SCSI_CMD, F=1, itt=0x900, cmdsn=i.cmdsn + 1, expstatsn=i.expstatsn,
                cdb=bytes(16))
        b = Pdu(OP_SCSI_CMD, F=1, itt=0x901, cmdsn=i.cmdsn, expstatsn=i.expstatsn,
                cdb=bytes(16))
        i.send(a)
        i.send(b)
        r1, r2 = i.wait_op(OP_SCSI_RSP), i.wait_op(OP_SCSI_RSP)
        eq((r1.itt, r2.itt), (0x901, 0x900), "executed in CmdSN order")
        i.close()
    finally:
        t.stop()


@test
def cmdsn_wrap():
    t = target(cmd_window=8)
    try:
        i = Ini(t.port)
        i.cmdsn = 0xFFFFFFF0
        eq(i.login().status_class, 0)
        for k in range(40):
            i.cmdsn &= 0xFFFFFFFF
            c = i.cmd(bytes(16), 0, 0)
            r = i.wait_op(OP_SCSI_RSP)
            eq(r.itt, c.itt)
            eq(r.expcmdsn, (c.cmdsn + 1) & 0xFFFFFFFF, "ExpCmdSN across the wrap")
            eq(r.maxcmdsn, (c.cmdsn + 8) & 0xFFFFFFFF)
        no_violations(t)
        i.close()
    finally:
        t.stop()


@test
def erl1_datasn_gap_snacks():
    t = target(luns={0: 1000})
    try:
        apply_script(t, "datasn-gap")
        i = ffp(t, op=[("ErrorRecoveryLevel", "1")])
        eq(i.keys.get("ErrorRecoveryLevel"), "1")
        _, st, dins = i.read(0, 0, 64)
        eq([d.datasn for d in dins], [0, 2, 3], "DataSN 1 missing")
        i.send(Pdu(OP_SNACK, snack_type=0, itt=st.itt, ttt=RSVD_TAG, begrun=1, runlength=1,
                   expstatsn=i.expstatsn))
        d = i.wait_op(OP_DATA_IN)
        eq((d.datasn, d.bufferoffset, len(d.data)), (1, 8192, 8192), "retransmitted")
        # Status SNACK: the response again with the same StatSN
        i.send(Pdu(OP_SNACK, snack_type=1, itt=RSVD_TAG, ttt=RSVD_TAG, begrun=st.statsn,
                   runlength=1, expstatsn=st.statsn))
        r = i.wait_op(OP_SCSI_RSP)
        eq((r.itt, r.statsn), (st.itt, st.statsn))
        # R-Data SNACK after an MRDSL change: resegmented + SNACK Tag
        t.conn().peer_mrdsl = 16384
        i.send(Pdu(OP_SNACK, snack_type=3, itt=st.itt, ttt=0x55, begrun=0, runlength=0,
                   expstatsn=i.expstatsn))
        ds = [i.wait_op(OP_DATA_IN) for _ in range(2)]
        eq([len(x.data) for x in ds], [16384, 16384])
        eq(i.wait_op(OP_SCSI_RSP).snacktag, 0x55)
        # DataACK is accepted silently; SNACK at ERL 0 is rejected
        i.send(Pdu(OP_SNACK, snack_type=2, itt=RSVD_TAG, ttt=7, begrun=4, expstatsn=i.expstatsn))
        i.close()
        i = ffp(t)
        i.send(Pdu(OP_SNACK, snack_type=1, itt=RSVD_TAG, ttt=RSVD_TAG, begrun=0,
                   expstatsn=i.expstatsn))
        eq(i.wait_op(OP_REJECT).reason, 4, "SNACK at ERL 0")
        i.close()
    finally:
        t.stop()


@test
def erl2_connection_reinstatement_and_reassign():
    t = target(luns={0: 1000})
    try:
        t.disk.luns[0].data[:4096] = b"Q" * 4096
        t.on_command(lambda c, task: setattr(task, "withhold_status", True)
                     if task.cdb[0] == 0x28 and task.cdb[5] == 0 else None)
        i = ffp(t, op=[("ErrorRecoveryLevel", "2")])
        c = i.cmd(struct.pack(">BBIBHB", 0x28, 0, 0, 0, 8, 0), 0, 4096, R=1)
        d = i.wait_op(OP_DATA_IN)
        eq(d.S, 0)
        tsih = i.tsih
        i.close()  # connection lost, status never arrived
        t.wait_for(lambda: t.sessions[0].dead_cids, 2)
        j = Ini(t.port, tsih=tsih, cid=i.cid + 1)  # new CID
        j.cmdsn = i.cmdsn
        j.expstatsn = i.expstatsn
        r = j.login(op=[("ErrorRecoveryLevel", "2")])
        eq((r.status_class, r.tsih), (0, tsih), "same TSIH")
        j.logout(2, cid=i.cid)
        eq(j.wait_op(OP_LOGOUT_RSP).response, 0, "logout for recovery names the old CID")
        j.logout(2, cid=i.cid)
        eq(j.wait_op(OP_LOGOUT_RSP).response, 1, "CID no longer known")
        j.tmf(8, rtt=c.itt, refcmdsn=c.cmdsn, expdatasn=1)
        eq(j.wait_op(OP_TMF_RSP).response, 0, "TASK REASSIGN")
        st = j.wait_op(OP_SCSI_RSP)
        eq((st.itt, st.status), (c.itt, 0), "task completes with its original ITT")
        eq(len(t.sessions), 1)
        j.close()
        # session reinstatement: same ISID, TSIH 0 closes the old session
        k = ffp(t)
        eq(len(t.sessions), 1, "old session replaced")
        check(k.tsih != tsih)
        k.close()
    finally:
        t.stop()


@test
def digests_every_pdu_and_corruption():
    t = target(header_digest=("CRC32C",), data_digest=("CRC32C",), luns={0: 100})
    try:
        i = ffp(t, op=[("HeaderDigest", "CRC32C,None"), ("DataDigest", "CRC32C,None")])
        check(i.hd and i.dd, "both digests")
        i.nop(b"x")
        i.wait_op(OP_NOP_IN)
        i.write(0, 0, os.urandom(1024))
        i.read(0, 0, 2)
        i.tmf(1, rtt=0x7777)
        i.wait_op(OP_TMF_RSP)
        for rec in t.recs():
            if rec.pdu.opcode in (OP_LOGIN_REQ, OP_LOGIN_RSP) or rec.note:
                continue
            eq(rec.raw[48:52], digest_bytes(rec.raw[:48]), "hdigest on %s" % rec.pdu.name)
            if rec.pdu.data:
                seg = rec.pdu.data + bytes(P.pad4(len(rec.pdu.data)))
                eq(rec.raw[-4:], digest_bytes(seg), "ddigest on %s" % rec.pdu.name)
            else:
                eq(len(rec.raw), 52, "no data digest when DSL=0")
        # a corrupted header digest from the initiator: dropped connection (ERL 0)
        bad = Pdu(OP_NOP_OUT, immediate=True, F=1, itt=3, ttt=RSVD_TAG, cmdsn=i.cmdsn)
        bad.corrupt_hdigest = True
        i.send(bad)
        check(i.closed(), "header digest error closes the connection")
        check(any("header digest" in v for v in t.violations))
        # the fake corrupts its own digest on demand
        i = ffp(t, op=[("HeaderDigest", "CRC32C"), ("DataDigest", "CRC32C")])
        apply_script(t, "hdigest-corrupt-once")
        try:
            i.read(0, 0, 1)
            raise Fail("corrupted header digest not detected")
        except DigestError as e:
            eq(e.kind, "header")
        i.close()
    finally:
        t.stop()
    # big-endian digest option (to provoke byte-order bugs)
    t = target(header_digest=("CRC32C",), digest_order="big")
    try:
        i = ffp(t, op=[("HeaderDigest", "CRC32C")])
        i.order = "big"
        i.nop()
        i.wait_op(OP_NOP_IN)
        rec = t.recs("out", OP_NOP_IN)[-1]
        eq(rec.raw[48:52], digest_bytes(rec.raw[:48], "big"))
        i.close()
    finally:
        t.stop()


@test
def hooks_drop_dup_reorder_truncate_inject():
    t = target(luns={0: 100})
    try:
        i = ffp(t)
        # duplicate + reorder
        rm = t.before_send(lambda c, p: [p, p], opcode=OP_NOP_IN)
        p = i.nop(b"d")
        a, b = i.wait_op(OP_NOP_IN), i.wait_op(OP_NOP_IN)
        eq((a.itt, b.itt), (p.itt, p.itt), "duplicated")
        rm()
        rm = t.before_send(lambda c, p: HOLD if p.data == b"first" else None, opcode=OP_NOP_IN)
        i.nop(b"first")
        i.nop(b"second")
        eq([i.wait_op(OP_NOP_IN).data, i.wait_op(OP_NOP_IN).data], [b"second", b"first"])
        rm()
        # drop: a withheld NOP-In reply
        rm = t.before_send(lambda c, p: DROP, opcode=OP_NOP_IN)
        i.nop()
        check(not i.closed(0.2) and not i.inbox, "dropped")
        check(t.pdus("out", OP_NOP_IN, include_unsent=True)[-1] is not None)
        rm()
        # unknown opcode, oversized DSL, Reject with BHS, async messages
        t.send_pdu(Pdu(0x3C, itt=1))
        eq(i.recv().opcode, 0x3C)
        t.send_reject(9, Pdu(OP_SCSI_CMD, itt=0x42, cdb=bytes(16)))
        r = i.wait_op(OP_REJECT)
        eq((r.reason, r.itt, r.data[16:20]), (9, RSVD_TAG, b"\x00\x00\x00\x42"))
        for ev in (0, 1, 2, 3, 4, 255):
            t.send_async(ev, param1=1, param2=2, param3=5, sense=b"\x70" + bytes(17)
                         if ev == 0 else None)
            r = i.wait_op(OP_ASYNC)
            eq((r.async_event, r.param3, r.itt), (ev, 5, RSVD_TAG))
            if ev == 0:
                eq(r.data[:2], b"\x00\x12")
        big = Pdu(OP_DATA_IN, itt=0x99)
        big.dsl_override = 0x800000
        t.send_pdu(big)
        raw = i.sock.recv(48)
        eq(raw[5:8], b"\x80\x00\x00")
        i.close()
        # truncate mid-PDU with RST
        i = ffp(t)
        t.before_send(lambda c, p: Truncate(30, rst=True), opcode=OP_NOP_IN)
        i.nop()
        try:
            check(i.closed(), "closed after truncation")
        except ConnectionResetError:
            pass
        eq(len(i.fr.buf) if i.fr.buf else 30, 30)
        check(any(r.note == "truncated" and len(r.raw) == 30 for r in t.records))
    finally:
        t.stop()


@test
def named_scripts_and_queries():
    for name in ("drop-after-login", "async-logout", "reject-first-command",
                 "status-withheld"):
        t = target()
        try:
            apply_script(t, name)
            i = ffp(t)
            if name == "drop-after-login":
                check(i.closed(2.0), name)
            elif name == "async-logout":
                r = i.wait_op(OP_ASYNC, timeout=2)
                eq((r.async_event, r.param3), (1, 5))
            elif name == "reject-first-command":
                c = i.cmd(bytes(16), 0, 0)
                r = i.wait_op(OP_REJECT)
                eq((r.reason, r.data[16:20]), (4, struct.pack(">I", c.itt)))
                i.cmd(bytes(16), 0, 0)
                eq(i.wait_op(OP_SCSI_RSP).status, 0, "second command runs")
            elif name == "status-withheld":
                i.cmd(bytes(16), 0, 0)
                check(not i.closed(0.2) and not i.inbox, "no status")
                task = list(t.sessions[0].tasks.values())[0]
                t.conn().call_soon(lambda c: c.complete_held(task))
                eq(i.wait_op(OP_SCSI_RSP).itt, task.itt)
            i.close()
            # query helpers
            eq(t.received(OP_LOGIN_REQ)[0].opcode, OP_LOGIN_REQ)
            check(t.last_sent(OP_LOGIN_RSP).T == 1)
            check(all(r.t > 0 and r.raw is not None for r in t.records))
        finally:
            t.stop()
    check(len(SCRIPTS) >= 6)


@test
def discovery_raw_and_ipv6():
    t = target(portals=["[::1]:3260,1", "127.0.0.1:3260,1"], text_split=30)
    try:
        i = Ini(t.port)
        r = i.login(discovery=True)
        eq(r.status_class, 0)
        p = Pdu(OP_TEXT_REQ, F=1, itt=0x77, ttt=RSVD_TAG, cmdsn=i.cmdsn, expstatsn=i.expstatsn,
                data=build_text([("SendTargets", "All")]))
        i.cmdsn += 1
        i.send(p)
        acc = b""
        for _ in range(50):
            r = i.wait_op(OP_TEXT_RSP)
            acc += r.data
            if r.F:
                break
            i.send(Pdu(OP_TEXT_REQ, F=1, itt=0x77, ttt=r.ttt, cmdsn=i.cmdsn,
                       expstatsn=i.expstatsn))
            i.cmdsn += 1
        eq(parse_text(acc), [("TargetName", TNAME), ("TargetAddress", "[::1]:3260,1"),
                             ("TargetAddress", "127.0.0.1:3260,1")])
        i.cmd(bytes(16), 0, 0)
        eq(i.wait_op(OP_REJECT).reason, 4, "SCSI command in discovery session")
        i.close()
    finally:
        t.stop()
    if socket.has_ipv6:
        try:
            t = target(ipv6=True)
        except OSError:
            return  # no ::1 in this sandbox
        try:
            i = Ini(t.port, host="::1")
            eq(i.login().status_class, 0)
            i.close()
        finally:
            t.stop()


@test
def cli_lists_and_runs():
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(["timeout", "-k", "2", "10", sys.executable,
                        os.path.join(here, "fake_target.py"), "--list-scripts"],
                       capture_output=True, text=True, timeout=15)
    eq(r.returncode, 0)
    for n in ("drop-after-login", "datasn-gap", "async-logout", "redirect-once",
              "window-zero-then-open", "nop-storm"):
        check(n in r.stdout, n)
    pr = subprocess.Popen(["timeout", "-k", "2", "10", sys.executable,
                           os.path.join(here, "fake_target.py"), "--port", "0",
                           "--script", "plain", "--duration", "5"],
                          stdout=subprocess.PIPE, text=True)
    try:
        line = pr.stdout.readline()
        port = int(line.split("127.0.0.1:")[1].split()[0])
        i = Ini(port)
        eq(i.login().status_class, 0)
        i.close()
    finally:
        pr.terminate()
        pr.wait(5)


def main():
    sel = [a for a in sys.argv[1:] if not a.startswith("-")]
    passed = failed = 0
    t0 = time.monotonic()
    for fn in TESTS:
        if sel and not any(s in fn.__name__ for s in sel):
            continue
        t1 = time.monotonic()
        try:
            fn()
            passed += 1
            print("PASS %-45s %.2fs" % (fn.__name__, time.monotonic() - t1), flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            import traceback
            print("FAIL %-45s %s: %s" % (fn.__name__, type(e).__name__, e), flush=True)
            if VERBOSE:
                traceback.print_exc()
    print("total %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
