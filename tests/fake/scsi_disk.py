"""RAM-disk LUN model for the fake iSCSI target (SPC-4 / SBC-3 subset).

Disk(luns={0: 2048, 1: 4096}, block_size=512) -> execute(lun, cdb, data_out,
nexus) returns a Result(status, data, sense).  Unknown opcodes give CHECK
CONDITION ILLEGAL REQUEST 20/00.  Sense is fixed format (0x70) unless
descriptor_sense=True (0x72).
"""

import struct
import threading
import zlib

GOOD = 0x00
CHECK_CONDITION = 0x02
CONDITION_MET = 0x04
BUSY = 0x08
RESERVATION_CONFLICT = 0x18
TASK_SET_FULL = 0x28
ACA_ACTIVE = 0x30
TASK_ABORTED = 0x40

NO_SENSE = 0x0
NOT_READY = 0x2
MEDIUM_ERROR = 0x3
ILLEGAL_REQUEST = 0x5
UNIT_ATTENTION = 0x6
DATA_PROTECT = 0x7
ABORTED_COMMAND = 0xB
MISCOMPARE = 0xE


class Result:
    def __init__(self, status=GOOD, data=b"", sense=b""):
        self.status = status
        self.data = bytes(data)
        self.sense = bytes(sense)

    def __repr__(self):
        return "<Result status=0x%02x data=%d sense=%s>" % (self.status, len(self.data),
                                                           self.sense.hex())


def make_sense(key, asc, ascq, info=None, descriptor=False):
    """Fixed (0x70) or descriptor (0x72) sense data."""
    if descriptor:
        s = bytearray(8)
        s[0] = 0x72
        s[1] = key & 0xF
        s[2] = asc
        s[3] = ascq
        if info is not None:
            d = bytearray(12)
            d[0] = 0x00
            d[1] = 0x0A
            d[2] = 0x80
            d[4:12] = info.to_bytes(8, "big")
            s += d
            s[7] = len(d)
        return bytes(s)
    s = bytearray(18)
    s[0] = 0x70 | (0x80 if info is not None else 0)
    s[2] = key & 0xF
    if info is not None:
        s[3:7] = (info & 0xFFFFFFFF).to_bytes(4, "big")
    s[7] = 10
    s[12] = asc
    s[13] = ascq
    return bytes(s)


class Lun:
    """One LUN: a bytearray of blocks * block_size."""

    def __init__(self, blocks, block_size=512, ptype=0, readonly=False, serial=None):
        self.blocks = blocks
        self.block_size = block_size
        self.ptype = ptype
        self.readonly = readonly
        self.data = bytearray(blocks * block_size) if ptype == 0 else bytearray()
        self.serial = serial or "FAKE%08d" % blocks
        self.mode_pages = {0x08: bytearray([0x08, 0x12, 0x04] + [0] * 17),  # caching, WCE
                           0x0A: bytearray([0x0A, 0x0A, 0x02] + [0] * 9)}   # control
        self.started = True
        self.pr_keys = {}         # nexus -> key
        self.pr_holder = None     # nexus
        self.pr_type = 0
        self.pr_generation = 0
        self.ua = {}              # nexus -> (asc, ascq) pending unit attention
        self.unmapped = 0


class Disk:
    """A set of LUNs.  luns: dict lun -> blocks (or Lun objects)."""

    def __init__(self, luns=None, block_size=512, descriptor_sense=False,
                 vendor="UISFAKE", product="RAMDISK", revision="0001"):
        if luns is None:
            luns = {0: 16384}
        self.luns = {}
        for n, v in luns.items():
            self.luns[n] = v if isinstance(v, Lun) else Lun(v, block_size)
        self.descriptor_sense = descriptor_sense
        self.vendor, self.product, self.revision = vendor, product, revision
        self.lock = threading.Lock()
        self.commands = []  # (lun, opcode) history

    # ---------------------------------------------------------- helpers
    def sense(self, key, asc, ascq, info=None):
        return Result(CHECK_CONDITION, b"", make_sense(key, asc, ascq, info,
                                                       self.descriptor_sense))

    def illegal(self, asc=0x24, ascq=0):
        return self.sense(ILLEGAL_REQUEST, asc, ascq)

    def set_unit_attention(self, lun=None, asc=0x29, ascq=0x00, nexus="*"):
        for n, l in self.luns.items():
            if lun is None or n == lun:
                l.ua[nexus] = (asc, ascq)

    @staticmethod
    def transfer_length(cdb):
        """Expected data-out length in blocks/bytes is computed by the target
        from EDTL; this returns the number of blocks for READ/WRITE/VERIFY."""
        op = cdb[0]
        if op in (0x08, 0x0A):
            n = cdb[4]
            return 256 if n == 0 else n
        if op in (0x28, 0x2A, 0x2F, 0x2E, 0x41, 0x35):
            return struct.unpack(">H", cdb[7:9])[0]
        if op in (0x88, 0x8A, 0x8F, 0x8E, 0x93, 0x91):
            return struct.unpack(">I", cdb[10:14])[0]
        if op == 0x89:
            return cdb[13]
        return 0

    @staticmethod
    def lba(cdb):
        op = cdb[0]
        if op in (0x08, 0x0A):
            return ((cdb[1] & 0x1F) << 16) | (cdb[2] << 8) | cdb[3]
        if op in (0x28, 0x2A, 0x2F, 0x2E, 0x41, 0x35, 0x34):
            return struct.unpack(">I", cdb[2:6])[0]
        return struct.unpack(">Q", cdb[2:10])[0]

    # ---------------------------------------------------------- dispatcher
    def execute(self, lun, cdb, data_out=b"", nexus="i"):
        """Run one CDB.  Never raises for bad input (returns CHECK CONDITION)."""
        cdb = bytes(cdb)
        with self.lock:
            self.commands.append((lun, cdb[0] if cdb else None))
            if not cdb:
                return self.illegal(0x20, 0)
            op = cdb[0]
            l = self.luns.get(lun)
            if op == 0x12:  # INQUIRY works for any LUN
                return self.inquiry(l, cdb)
            if op == 0xA0:
                return self.report_luns(cdb)
            if op == 0x03:
                return self.request_sense(l, cdb, nexus)
            if l is None:
                return self.sense(ILLEGAL_REQUEST, 0x25, 0x00)
            ua = l.ua.pop(nexus, None) or l.ua.pop("*", None)
            if ua:
                return self.sense(UNIT_ATTENTION, ua[0], ua[1])
            fn = self.HANDLERS.get(op)
            if fn is None:
                return self.illegal(0x20, 0x00)
            try:
                return fn(self, l, cdb, bytes(data_out), nexus)
            except (IndexError, struct.error, ValueError):
                return self.illegal(0x24, 0x00)

    # ---------------------------------------------------------- commands
    def inquiry(self, l, cdb):
        alloc = struct.unpack(">H", cdb[3:5])[0]
        if l is None:
            ptype = 0x7F  # peripheral qualifier 011b: no LU
            data = bytes([ptype, 0, 6, 0x02, 31]) + bytes(31)
            return Result(GOOD, data[:alloc])
        if cdb[1] & 1:
            page = cdb[2]
            if page == 0x00:
                pages = bytes([0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2])
                data = bytes([l.ptype, 0, 0, len(pages)]) + pages
            elif page == 0x80:
                sn = l.serial.encode()
                data = bytes([l.ptype, 0x80, 0, len(sn)]) + sn
            elif page == 0x83:
                naa = bytes([0x01, 0x03, 0x00, 0x08]) + bytes([0x60]) + \
                    (zlib.crc32(l.serial.encode()).to_bytes(7, "big"))
                t10 = b"UISFAKE " + l.serial.encode()
                d2 = bytes([0x02, 0x01, 0x00, len(t10)]) + t10
                body = naa + d2
                data = bytes([l.ptype, 0x83]) + struct.pack(">H", len(body)) + body
            elif page == 0xB0:
                body = bytearray(60)
                body[1] = 1  # max COMPARE AND WRITE length (blocks)
                struct.pack_into(">H", body, 2, 1)       # opt xfer granularity
                struct.pack_into(">I", body, 4, 0x4000)  # max transfer length
                struct.pack_into(">I", body, 16, 0x2000)  # max unmap LBA count
                struct.pack_into(">I", body, 20, 16)     # max unmap descriptors
                struct.pack_into(">Q", body, 32, 0xFFFF)  # max write same length
                data = bytes([l.ptype, 0xB0]) + struct.pack(">H", len(body)) + bytes(body)
            elif page == 0xB1:
                body = bytearray(60)
                struct.pack_into(">H", body, 0, 1)  # non-rotating
                data = bytes([l.ptype, 0xB1]) + struct.pack(">H", len(body)) + bytes(body)
            elif page == 0xB2:
                body = bytes([0, 0xE0, 0x02, 0])  # LBPU, LBPWS, LBPWS10, thin
                data = bytes([l.ptype, 0xB2]) + struct.pack(">H", len(body)) + body
            else:
                return self.illegal(0x24, 0)
            return Result(GOOD, data[:alloc])
        if cdb[2]:
            return self.illegal(0x24, 0)
        d = bytearray(96)
        d[0] = l.ptype
        d[2] = 0x06  # SPC-4
        d[3] = 0x12  # HiSup, format 2
        d[4] = len(d) - 5
        d[5] = 0x00  # no 3PC, TPGS or PROTECT
        d[7] = 0x02  # CmdQue
        d[8:16] = self.vendor.encode().ljust(8)[:8]
        d[16:32] = self.product.encode().ljust(16)[:16]
        d[32:36] = self.revision.encode().ljust(4)[:4]
        return Result(GOOD, bytes(d[:alloc]))

    def report_luns(self, cdb):
        alloc = struct.unpack(">I", cdb[6:10])[0]
        from iscsi_pdu import lun_bytes
        body = b"".join(lun_bytes(n) for n in sorted(self.luns))
        data = struct.pack(">I", len(body)) + bytes(4) + body
        return Result(GOOD, data[:alloc])

    def request_sense(self, l, cdb, nexus):
        alloc = cdb[4]
        if l is not None:
            ua = l.ua.pop(nexus, None) or l.ua.pop("*", None)
            if ua:
                return Result(GOOD, make_sense(UNIT_ATTENTION, ua[0], ua[1], None,
                                               self.descriptor_sense)[:alloc])
        return Result(GOOD, make_sense(NO_SENSE, 0, 0, None, self.descriptor_sense)[:alloc])

    def tur(self, l, cdb, d, nexus):
        if not l.started:
            return self.sense(NOT_READY, 0x04, 0x02)
        return Result()

    def read_capacity10(self, l, cdb, d, nexus):
        last = min(l.blocks - 1, 0xFFFFFFFF)
        return Result(GOOD, struct.pack(">II", last, l.block_size))

    def service_action_in(self, l, cdb, d, nexus):
        if cdb[1] & 0x1F != 0x10:
            return self.illegal(0x24, 0)
        alloc = struct.unpack(">I", cdb[10:14])[0]
        data = bytearray(32)
        struct.pack_into(">QI", data, 0, l.blocks - 1, l.block_size)
        data[14] = 0xC0  # LBPME | LBPRZ
        return Result(GOOD, bytes(data[:alloc]))

    def _range(self, l, lba, n):
        if lba + n > l.blocks:
            return self.sense(ILLEGAL_REQUEST, 0x21, 0x00)
        return None

    def read(self, l, cdb, d, nexus):
        lba, n = self.lba(cdb), self.transfer_length(cdb)
        err = self._range(l, lba, n)
        if err:
            return err
        bs = l.block_size
        return Result(GOOD, bytes(l.data[lba * bs:(lba + n) * bs]))

    def write(self, l, cdb, d, nexus):
        lba, n = self.lba(cdb), self.transfer_length(cdb)
        err = self._range(l, lba, n)
        if err:
            return err
        if l.readonly:
            return self.sense(DATA_PROTECT, 0x27, 0x00)
        if not self._pr_write_ok(l, nexus):
            return Result(RESERVATION_CONFLICT)
        bs = l.block_size
        need = n * bs
        if len(d) < need:
            # the initiator sent less than the CDB asks for
            return self.sense(ILLEGAL_REQUEST, 0x24, 0x00)
        l.data[lba * bs:lba * bs + need] = d[:need]
        return Result()

    def verify(self, l, cdb, d, nexus):
        lba, n = self.lba(cdb), self.transfer_length(cdb)
        err = self._range(l, lba, n)
        if err:
            return err
        bytchk = (cdb[1] >> 1) & 3
        if bytchk == 1:
            bs = l.block_size
            if bytes(l.data[lba * bs:(lba + n) * bs]) != d[:n * bs]:
                return self.sense(MISCOMPARE, 0x1D, 0x00)
        return Result()

    def sync_cache(self, l, cdb, d, nexus):
        return Result()

    def write_same(self, l, cdb, d, nexus):
        if cdb[0] == 0x41:
            lba, n = self.lba(cdb), struct.unpack(">H", cdb[7:9])[0]
        else:
            lba, n = self.lba(cdb), struct.unpack(">I", cdb[10:14])[0]
        if n == 0:
            n = l.blocks - lba
        err = self._range(l, lba, n)
        if err:
            return err
        bs = l.block_size
        if cdb[1] & 0x08:  # UNMAP bit
            block = bytes(bs)
        else:
            if len(d) < bs:
                return self.sense(ILLEGAL_REQUEST, 0x24, 0)
            block = d[:bs]
        l.data[lba * bs:(lba + n) * bs] = block * n
        return Result()

    def unmap(self, l, cdb, d, nexus):
        if len(d) < 8:
            return Result() if len(d) == 0 else self.illegal(0x26, 0)
        bdl = struct.unpack(">H", d[2:4])[0]
        bs = l.block_size
        for i in range(min(bdl // 16, 256)):
            off = 8 + i * 16
            if off + 16 > len(d):
                break
            lba, n = struct.unpack(">QI", d[off:off + 12])
            err = self._range(l, lba, n)
            if err:
                return err
            l.data[lba * bs:(lba + n) * bs] = bytes(n * bs)
            l.unmapped += n
        return Result()

    def compare_and_write(self, l, cdb, d, nexus):
        lba, n = self.lba(cdb), cdb[13]
        err = self._range(l, lba, n)
        if err:
            return err
        bs = l.block_size
        if len(d) < 2 * n * bs:
            return self.illegal(0x24, 0)
        cur = bytes(l.data[lba * bs:(lba + n) * bs])
        cmp_ = d[:n * bs]
        if cur != cmp_:
            off = next(i for i in range(len(cur)) if cur[i] != cmp_[i])
            return Result(CHECK_CONDITION, b"", make_sense(MISCOMPARE, 0x1D, 0x00, off,
                                                           self.descriptor_sense))
        l.data[lba * bs:(lba + n) * bs] = d[n * bs:2 * n * bs]
        return Result()

    def _mode_pages(self, l, page):
        if page == 0x3F:
            return b"".join(bytes(l.mode_pages[p]) for p in sorted(l.mode_pages))
        if page in l.mode_pages:
            return bytes(l.mode_pages[page])
        return None

    def mode_sense6(self, l, cdb, d, nexus):
        page = cdb[2] & 0x3F
        pages = self._mode_pages(l, page)
        if pages is None:
            return self.illegal(0x24, 0)
        dbd = cdb[1] & 0x08
        bd = b"" if dbd else struct.pack(">I", min(l.blocks, 0xFFFFFFFF)) + \
            struct.pack(">I", l.block_size)
        wp = 0x80 if l.readonly else 0
        hdr = bytes([len(bd) + len(pages) + 3, 0, wp, len(bd)])
        return Result(GOOD, (hdr + bd + pages)[:cdb[4]])

    def mode_sense10(self, l, cdb, d, nexus):
        page = cdb[2] & 0x3F
        pages = self._mode_pages(l, page)
        if pages is None:
            return self.illegal(0x24, 0)
        dbd = cdb[1] & 0x08
        bd = b"" if dbd else struct.pack(">I", min(l.blocks, 0xFFFFFFFF)) + \
            struct.pack(">I", l.block_size)
        wp = 0x80 if l.readonly else 0
        hdr = struct.pack(">HBBBBH", len(bd) + len(pages) + 6, 0, wp, 0, 0, len(bd))
        alloc = struct.unpack(">H", cdb[7:9])[0]
        return Result(GOOD, (hdr + bd + pages)[:alloc])

    def mode_select(self, l, cdb, d, nexus):
        if cdb[0] == 0x15:
            hl, bdl = 4, d[3] if len(d) >= 4 else 0
        else:
            hl, bdl = 8, struct.unpack(">H", d[6:8])[0] if len(d) >= 8 else 0
        pos = hl + bdl
        while pos + 2 <= len(d):
            code, plen = d[pos] & 0x3F, d[pos + 1]
            if code not in l.mode_pages or plen + 2 != len(l.mode_pages[code]):
                return self.illegal(0x26, 0)
            l.mode_pages[code][2:] = d[pos + 2:pos + 2 + plen]
            pos += 2 + plen
        return Result()

    def start_stop(self, l, cdb, d, nexus):
        l.started = bool(cdb[4] & 1)
        return Result()

    # PERSISTENT RESERVE IN / OUT (SPC-4 §6.15/6.16), basic subset
    def _pr_write_ok(self, l, nexus):
        if l.pr_holder is None or l.pr_holder == nexus:
            return True
        if l.pr_type in (5, 6, 7, 8) and nexus in l.pr_keys:
            return True  # registrants-only / all-registrants
        return False

    def pr_in(self, l, cdb, d, nexus):
        sa = cdb[1] & 0x1F
        alloc = struct.unpack(">H", cdb[7:9])[0]
        if sa == 0:
            keys = b"".join(struct.pack(">Q", k) for k in l.pr_keys.values())
            data = struct.pack(">II", l.pr_generation, len(keys)) + keys
        elif sa == 1:
            if l.pr_holder is not None:
                body = struct.pack(">Q", l.pr_keys.get(l.pr_holder, 0)) + bytes(5) + \
                    bytes([l.pr_type & 0xF]) + bytes(2)
            else:
                body = b""
            data = struct.pack(">II", l.pr_generation, len(body)) + body
        elif sa == 2:
            data = struct.pack(">HBBH", 8, 0x10, 0x81, 0xEA01) + bytes(2)
        else:
            return self.illegal(0x24, 0)
        return Result(GOOD, data[:alloc])

    def pr_out(self, l, cdb, d, nexus):
        sa = cdb[1] & 0x1F
        ptype = cdb[2] & 0xF
        if len(d) < 24:
            return self.illegal(0x1A, 0)
        rkey, sakey = struct.unpack(">QQ", d[:16])
        cur = l.pr_keys.get(nexus)
        if sa in (0, 6):  # REGISTER, REGISTER AND IGNORE
            if sa == 0 and (cur or 0) != rkey:
                return Result(RESERVATION_CONFLICT)
            if sakey == 0:
                l.pr_keys.pop(nexus, None)
                if l.pr_holder == nexus:
                    l.pr_holder = None
            else:
                l.pr_keys[nexus] = sakey
            l.pr_generation += 1
            return Result()
        if cur is None or cur != rkey:
            return Result(RESERVATION_CONFLICT)
        if sa == 1:  # RESERVE
            if l.pr_holder not in (None, nexus):
                return Result(RESERVATION_CONFLICT)
            l.pr_holder, l.pr_type = nexus, ptype
        elif sa == 2:  # RELEASE
            if l.pr_holder == nexus:
                l.pr_holder, l.pr_type = None, 0
        elif sa == 3:  # CLEAR
            l.pr_keys.clear()
            l.pr_holder, l.pr_type = None, 0
            l.pr_generation += 1
        elif sa == 4:  # PREEMPT
            for n, k in list(l.pr_keys.items()):
                if k == sakey and n != nexus:
                    del l.pr_keys[n]
                    if l.pr_holder == n:
                        l.pr_holder, l.pr_type = nexus, ptype
            l.pr_generation += 1
        else:
            return self.illegal(0x24, 0)
        return Result()

    HANDLERS = {
        0x00: tur, 0x25: read_capacity10, 0x9E: service_action_in,
        0x08: read, 0x28: read, 0x88: read,
        0x0A: write, 0x2A: write, 0x8A: write,
        0x2F: verify, 0x8F: verify,
        0x35: sync_cache, 0x91: sync_cache,
        0x41: write_same, 0x93: write_same,
        0x42: unmap, 0x89: compare_and_write,
        0x1A: mode_sense6, 0x5A: mode_sense10, 0x15: mode_select, 0x55: mode_select,
        0x1B: start_stop, 0x5E: pr_in, 0x5F: pr_out,
    }


def data_direction(cdb):
    """'r', 'w' or None for a CDB (used only for logging/sanity)."""
    op = cdb[0]
    if op in (0x0A, 0x2A, 0x8A, 0x41, 0x93, 0x42, 0x89, 0x15, 0x55, 0x5F, 0x2F, 0x8F):
        return "w"
    if op in (0x00, 0x35, 0x91, 0x1B):
        return None
    return "r"
