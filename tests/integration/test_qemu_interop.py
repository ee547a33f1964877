#!/usr/bin/python3
"""Interop of uiscsid with QEMU's iSCSI client (libiscsi) on the same tgt LUNs.

Data written through uiscsid is read back by `qemu-img convert` (the whole
LUN, compared with what uiscsid reads), and data written by `qemu-io` /
`qemu-img convert -n` is read back through uiscsid, byte for byte. Runs on
the digest target (uiscsid with CRC32C header and data digests; QEMU without)
and on the r2t target (every uiscsid write through R2T). Needs Debian
qemu-utils and qemu-block-extra; every external tool runs under timeout -k.

usage: test_qemu_interop.py UISCSID [--port 3262] [--only SUBSTRING]
Prints "ok NAME" / "FAIL NAME" lines and ends with "N passed, N failed".
"""
import hashlib
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib_daemon import (MiB, Daemon, Lab, Runner, absorb_ua, close_all_sessions,  # noqa: E402
                        first_diff, run_tool)

D = None
LAB = None
E = {}
TMP = None
LUN = 1
QEMU_S = 60          # bound of each qemu tool run


def url(target):
    return "iscsi://%s/%s/%d" % (E["TGT_PORTAL"], E["TGT_IQN_" + target.upper()], LUN)


def opn(c, target):
    neg = {"HeaderDigest": "CRC32C", "DataDigest": "CRC32C"} if target == "digest" else None
    s = c.session(E["TGT_PORTAL"], E["TGT_IQN_" + target.upper()], share=False,
                  negotiate=neg, timeout_ms=15000)
    if target == "digest":
        n = s.info["negotiated"]
        assert n["HeaderDigest"] == "CRC32C" and n["DataDigest"] == "CRC32C", n
    absorb_ua(s, LUN)
    return s


def read_lun(s, nbytes, chunk=4 * MiB):
    """The whole LUN through uiscsid, 4 MiB per read; returns its sha256."""
    h = hashlib.sha256()
    for off in range(0, nbytes, chunk):
        n = min(chunk, nbytes - off)
        data = s.read(LUN, off // 512, n // 512)
        assert len(data) == n, (off, len(data))
        h.update(data)
    return h.hexdigest()


def qemu_reads_what_uiscsid_wrote(target):
    c = D.client(timeout=60)
    try:
        with opn(c, target) as s:
            size = s.read_capacity(LUN)["bytes"]
            assert size == int(E["TGT_SMALL_BYTES"]), size
            regions = [(2 * MiB, os.urandom(MiB)), (7 * MiB + 512, os.urandom(4096 + 512)),
                       (size - 64 * 1024, os.urandom(64 * 1024))]
            for off, data in regions:
                s.write(LUN, off // 512, len(data) // 512, data)
            s.synchronize_cache(LUN)
            img = os.path.join(TMP, "lun.img")
            run_tool(["qemu-img", "convert", "-f", "raw", "-O", "raw", url(target), img], QEMU_S)
            with open(img, "rb") as f:
                whole = f.read()
            os.unlink(img)
            assert len(whole) == size, (len(whole), size)
            for off, data in regions:
                d = first_diff(data, whole[off:off + len(data)])
                assert d is None, "region at %d differs at +%s" % (off, d)
            assert read_lun(s, size) == hashlib.sha256(whole).hexdigest(), \
                "uiscsid and qemu-img read different LUN contents"
    finally:
        c.close()


def uiscsid_reads_what_qemu_wrote(target):
    c = D.client(timeout=60)
    try:
        with opn(c, target) as s:
            run_tool(["qemu-io", "-f", "raw", "-c", "write -P 0xab 8M 1M", url(target)], QEMU_S)
            assert s.read(LUN, 8 * MiB // 512, MiB // 512) == b"\xab" * MiB
            run_tool(["qemu-io", "-f", "raw", "-c", "write -P 0x5c 9437696 3584", url(target)],
                     QEMU_S)
            got = s.read(LUN, 9437696 // 512 - 1, 9)
            assert got[512:512 + 3584] == b"\x5c" * 3584, got[512:520]
            src = os.path.join(TMP, "rand.bin")
            data = os.urandom(3 * MiB + 4096)
            with open(src, "wb") as f:
                f.write(data)
            run_tool(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, url(target)],
                     QEMU_S)
            os.unlink(src)
            back = s.read(LUN, 0, len(data) // 512)
            assert first_diff(data, back) is None, first_diff(data, back)
    finally:
        c.close()


# D1, G4, H8: QEMU reads what uiscsid wrote with CRC32C digests (digest target).
def t_qemu_reads_uiscsid_digest():
    qemu_reads_what_uiscsid_wrote("digest")


# D1, G4: uiscsid (digests on) reads what qemu-io / qemu-img wrote.
def t_uiscsid_reads_qemu_digest():
    uiscsid_reads_what_qemu_wrote("digest")


# H2, H8: QEMU reads what uiscsid wrote through R2T (r2t target).
def t_qemu_reads_uiscsid_r2t():
    qemu_reads_what_uiscsid_wrote("r2t")


# H2, G4: uiscsid reads what QEMU wrote on the r2t target.
def t_uiscsid_reads_qemu_r2t():
    uiscsid_reads_what_qemu_wrote("r2t")


TESTS = [t_qemu_reads_uiscsid_digest, t_uiscsid_reads_qemu_digest, t_qemu_reads_uiscsid_r2t,
         t_uiscsid_reads_qemu_r2t]


def main():
    global D, LAB, E, TMP
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    binary = os.path.abspath(args[0])
    port = int(args[args.index("--port") + 1]) if "--port" in args else 3262
    only = args[args.index("--only") + 1] if "--only" in args else None
    runner = Runner(total_s=240, per_test_s=90, between=lambda: close_all_sessions(D))
    missing = [t for t in ("qemu-img", "qemu-io") if not shutil.which(t)]
    if missing:
        runner.fail("setup", "missing %s: apt-get install -y qemu-utils qemu-block-extra" %
                    " ".join(missing))
        return runner.summary()
    TMP = tempfile.mkdtemp(prefix="uiscsi-qemu-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                           else None)
    LAB = Lab("tgt", port)
    try:
        try:
            E = LAB.start()
            D = Daemon(binary)
        except Exception as e:
            runner.fail("setup (tgt lab on port %d, daemon)" % port, repr(e))
            return runner.summary()
        # The lab itself works with QEMU before the initiator is blamed.
        runner.run("qemu_io_sees_lab", lambda: run_tool(
            ["qemu-io", "-f", "raw", "-c", "read 0 4k", url("digest")], QEMU_S))
        for t in TESTS:
            if only and only not in t.__name__:
                continue
            runner.run(t.__name__, t)
        ok = D.alive()
        rc = D.stop()
        if not ok or rc != 0:
            runner.fail("daemon clean stop", "exit status %s\n%s" % (rc, D.logtext()))
    finally:
        if D and D.alive():
            D.stop()
        try:
            LAB.stop()
        except Exception as e:
            runner.fail("tgt lab stop", repr(e))
        shutil.rmtree(TMP, ignore_errors=True)
    return runner.summary()


if __name__ == "__main__":
    sys.exit(main())
