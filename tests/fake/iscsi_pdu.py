"""Independent iSCSI PDU codec for the project's fake target (RFC 7143 §11).

Written from the RFC, not from the initiator's C code.  Stdlib only.

Contents:
  * crc32c()               table-driven CRC32C (Castagnoli, RFC 7143 §13.1 / RFC 3385)
  * Pdu                    one PDU: opcode, named BHS fields, AHS, data segment
  * encode_pdu()           Pdu -> wire bytes (with optional digests)
  * decode_bhs()           48-byte BHS -> Pdu (fields only)
  * Framer                 incremental stream parser (digests, limits)
  * parse_text()/build_text()   key=value\\0 text segments (RFC 7143 §6.1)
"""

import struct

# ---------------------------------------------------------------- CRC32C
_CRC_POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _make_table():
    tbl = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _CRC_POLY if c & 1 else c >> 1
        tbl.append(c)
    return tbl


_CRC_TABLE = _make_table()


def crc32c(data, crc=0):
    """CRC32C of data (bytes-like); crc chains a previous result."""
    c = crc ^ 0xFFFFFFFF
    t = _CRC_TABLE
    for b in bytes(data):
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def digest_bytes(data, order="little"):
    """The 4 digest bytes as sent on the wire.  RFC 7143 §13.1 (and the
    CRC's bit-reflected definition) give little-endian; 'big' is offered to
    provoke byte-order bugs."""
    return crc32c(data).to_bytes(4, order)


# ---------------------------------------------------------------- opcodes
OP_NOP_OUT = 0x00
OP_SCSI_CMD = 0x01
OP_TMF_REQ = 0x02
OP_LOGIN_REQ = 0x03
OP_TEXT_REQ = 0x04
OP_DATA_OUT = 0x05
OP_LOGOUT_REQ = 0x06
OP_SNACK = 0x10
OP_NOP_IN = 0x20
OP_SCSI_RSP = 0x21
OP_TMF_RSP = 0x22
OP_LOGIN_RSP = 0x23
OP_TEXT_RSP = 0x24
OP_DATA_IN = 0x25
OP_LOGOUT_RSP = 0x26
OP_R2T = 0x31
OP_ASYNC = 0x32
OP_REJECT = 0x3F

OP_NAMES = {
    OP_NOP_OUT: "NOP-Out", OP_SCSI_CMD: "SCSI-Command", OP_TMF_REQ: "TMF-Request",
    OP_LOGIN_REQ: "Login-Request", OP_TEXT_REQ: "Text-Request",
    OP_DATA_OUT: "Data-Out", OP_LOGOUT_REQ: "Logout-Request", OP_SNACK: "SNACK",
    OP_NOP_IN: "NOP-In", OP_SCSI_RSP: "SCSI-Response", OP_TMF_RSP: "TMF-Response",
    OP_LOGIN_RSP: "Login-Response", OP_TEXT_RSP: "Text-Response",
    OP_DATA_IN: "Data-In", OP_LOGOUT_RSP: "Logout-Response", OP_R2T: "R2T",
    OP_ASYNC: "Async-Message", OP_REJECT: "Reject",
}

RSVD_TAG = 0xFFFFFFFF

# TMF functions (RFC 7143 §11.5.1)
TMF_ABORT_TASK = 1
TMF_ABORT_TASK_SET = 2
TMF_CLEAR_ACA = 3
TMF_CLEAR_TASK_SET = 4
TMF_LUN_RESET = 5
TMF_TARGET_WARM_RESET = 6
TMF_TARGET_COLD_RESET = 7
TMF_TASK_REASSIGN = 8

# Reject reasons (RFC 7143 §11.17.1)
REJ_DATA_DIGEST = 0x02
REJ_SNACK_REJECT = 0x03
REJ_PROTOCOL_ERROR = 0x04
REJ_CMD_NOT_SUPPORTED = 0x05
REJ_IMMEDIATE_REJECTED = 0x06
REJ_TASK_IN_PROGRESS = 0x07
REJ_INVALID_DATA_ACK = 0x08
REJ_INVALID_PDU_FIELD = 0x09
REJ_OUT_OF_RESOURCES = 0x0A
REJ_WAITING_FOR_LOGOUT = 0x0C

# SNACK types (RFC 7143 §11.16.1)
SNACK_DATA_R2T = 0
SNACK_STATUS = 1
SNACK_DATA_ACK = 2
SNACK_RDATA = 3

# ---------------------------------------------------------------- layouts
# Named multi-byte fields: (name, offset, size).  Sizes 1/2/4/6/8/16 bytes;
# 1/2/4 are big-endian ints, 6/8/16 are bytes ("isid", "lun", "cdb").
_COMMON = [("lun", 8, 8), ("itt", 16, 4)]
_RSP = [("statsn", 24, 4), ("expcmdsn", 28, 4), ("maxcmdsn", 32, 4)]

FIELDS = {
    OP_NOP_OUT: _COMMON + [("ttt", 20, 4), ("cmdsn", 24, 4), ("expstatsn", 28, 4)],
    OP_SCSI_CMD: _COMMON + [("edtl", 20, 4), ("cmdsn", 24, 4), ("expstatsn", 28, 4),
                            ("cdb", 32, 16)],
    OP_TMF_REQ: _COMMON + [("rtt", 20, 4), ("cmdsn", 24, 4), ("expstatsn", 28, 4),
                           ("refcmdsn", 32, 4), ("expdatasn", 36, 4)],
    OP_LOGIN_REQ: [("version_max", 2, 1), ("version_min", 3, 1), ("isid", 8, 6),
                   ("tsih", 14, 2), ("itt", 16, 4), ("cid", 20, 2), ("cmdsn", 24, 4),
                   ("expstatsn", 28, 4)],
    OP_TEXT_REQ: _COMMON + [("ttt", 20, 4), ("cmdsn", 24, 4), ("expstatsn", 28, 4)],
    OP_DATA_OUT: _COMMON + [("ttt", 20, 4), ("expstatsn", 28, 4), ("datasn", 36, 4),
                            ("bufferoffset", 40, 4)],
    OP_LOGOUT_REQ: [("itt", 16, 4), ("cid", 20, 2), ("cmdsn", 24, 4), ("expstatsn", 28, 4)],
    OP_SNACK: _COMMON + [("ttt", 20, 4), ("expstatsn", 28, 4), ("begrun", 40, 4),
                         ("runlength", 44, 4)],
    OP_NOP_IN: _COMMON + [("ttt", 20, 4)] + _RSP,
    OP_SCSI_RSP: [("response", 2, 1), ("status", 3, 1), ("itt", 16, 4), ("snacktag", 20, 4)]
    + _RSP + [("expdatasn", 36, 4), ("bidi_residual", 40, 4), ("residual", 44, 4)],
    OP_TMF_RSP: [("response", 2, 1), ("itt", 16, 4)] + _RSP,
    OP_LOGIN_RSP: [("version_max", 2, 1), ("version_active", 3, 1), ("isid", 8, 6),
                   ("tsih", 14, 2), ("itt", 16, 4)] + _RSP
    + [("status_class", 36, 1), ("status_detail", 37, 1)],
    OP_TEXT_RSP: _COMMON + [("ttt", 20, 4)] + _RSP,
    OP_DATA_IN: [("status", 3, 1)] + _COMMON + [("ttt", 20, 4)] + _RSP
    + [("datasn", 36, 4), ("bufferoffset", 40, 4), ("residual", 44, 4)],
    OP_LOGOUT_RSP: [("response", 2, 1), ("itt", 16, 4)] + _RSP
    + [("time2wait", 40, 2), ("time2retain", 42, 2)],
    OP_R2T: _COMMON + [("ttt", 20, 4)] + _RSP
    + [("r2tsn", 36, 4), ("bufferoffset", 40, 4), ("ddtl", 44, 4)],
    OP_ASYNC: _COMMON + _RSP + [("async_event", 36, 1), ("async_vcode", 37, 1),
                                ("param1", 38, 2), ("param2", 40, 2), ("param3", 42, 2)],
    OP_REJECT: [("reason", 2, 1), ("itt", 16, 4)] + _RSP + [("datasn", 36, 4)],
}

# Named bits / bit-fields of byte 1: (name, mask).  Value = (b1 & mask) >> shift.
BITS = {
    OP_NOP_OUT: [("F", 0x80)],
    OP_SCSI_CMD: [("F", 0x80), ("R", 0x40), ("W", 0x20), ("attr", 0x07)],
    OP_TMF_REQ: [("F", 0x80), ("function", 0x7F)],
    OP_LOGIN_REQ: [("T", 0x80), ("C", 0x40), ("csg", 0x0C), ("nsg", 0x03)],
    OP_TEXT_REQ: [("F", 0x80), ("C", 0x40)],
    OP_DATA_OUT: [("F", 0x80)],
    OP_LOGOUT_REQ: [("F", 0x80), ("reason_code", 0x7F)],
    OP_SNACK: [("F", 0x80), ("snack_type", 0x0F)],
    OP_NOP_IN: [("F", 0x80)],
    OP_SCSI_RSP: [("F", 0x80), ("bidi_o", 0x10), ("bidi_u", 0x08), ("O", 0x04), ("U", 0x02)],
    OP_TMF_RSP: [("F", 0x80)],
    OP_LOGIN_RSP: [("T", 0x80), ("C", 0x40), ("csg", 0x0C), ("nsg", 0x03)],
    OP_TEXT_RSP: [("F", 0x80), ("C", 0x40)],
    OP_DATA_IN: [("F", 0x80), ("A", 0x40), ("O", 0x04), ("U", 0x02), ("S", 0x01)],
    OP_LOGOUT_RSP: [("F", 0x80)],
    OP_R2T: [("F", 0x80)],
    OP_ASYNC: [("F", 0x80)],
    OP_REJECT: [("F", 0x80)],
}

# Byte-1 bits that are fixed to 1 by the RFC for these opcodes (F always set).
_FIXED_F = {OP_TMF_REQ, OP_LOGOUT_REQ, OP_SNACK, OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP,
            OP_LOGOUT_RSP, OP_R2T, OP_ASYNC, OP_REJECT, OP_NOP_OUT}


# Pdu attributes that are not BHS fields.
_PLAIN = {"opcode", "immediate", "data", "ahs", "corrupt_hdigest", "corrupt_ddigest",
          "dsl_override", "raw_bhs", "bhs_rest", "raw", "pad", "keep_sn", "meta",
          "digest_error"}


def _shift(mask):
    s = 0
    while not (mask >> s) & 1:
        s += 1
    return s


class CodecError(Exception):
    """Malformed PDU or unknown field."""


class DigestError(Exception):
    """Header or data digest mismatch.  .kind is 'header' or 'data'; .pdu is
    the decoded PDU (for data digest errors) or None."""

    def __init__(self, kind, pdu=None, raw=b""):
        super().__init__("%s digest error" % kind)
        self.kind = kind
        self.pdu = pdu
        self.raw = raw


class Pdu:
    """One iSCSI PDU.

    pdu.opcode (6-bit), pdu.immediate (I bit), pdu.flags (byte 1 raw),
    named fields from FIELDS/BITS as attributes (pdu.itt, pdu.F, pdu.csg...),
    pdu.ahs (bytes, multiple of 4), pdu.data (bytes).

    Encoding knobs (scripting): corrupt_hdigest, corrupt_ddigest (flip a bit
    of the digest), dsl_override (lie in DataSegmentLength), raw_bhs (send
    these 48 bytes verbatim).
    """

    def __init__(self, opcode, data=b"", ahs=b"", immediate=False, flags=None, **fields):
        object.__setattr__(self, "_f", {})
        self.opcode = opcode & 0x3F
        self.immediate = bool(immediate)
        self.data = bytes(data)
        self.ahs = bytes(ahs)
        self.corrupt_hdigest = False
        self.corrupt_ddigest = False
        self.dsl_override = None
        self.raw_bhs = None
        self.bhs_rest = bytes(48)  # unknown / reserved bytes (decoded PDUs keep them)
        self.raw = None
        self.pad = b""
        self.keep_sn = None   # None: target fills StatSN/ExpCmdSN/MaxCmdSN; "statsn"; "all"
        self.meta = {}
        self.digest_error = None
        if flags is None:
            flags = 0x80 if self.opcode in _FIXED_F else 0
        self._f["flags"] = flags & 0xFF
        for k, v in fields.items():
            setattr(self, k, v)

    # ---- attribute access to named fields
    def _layout(self):
        return FIELDS.get(self.opcode, [("lun", 8, 8), ("itt", 16, 4)])

    def _bits(self):
        return BITS.get(self.opcode, [("F", 0x80)])

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        f = object.__getattribute__(self, "_f")
        if name == "flags":
            return f["flags"]
        for bname, mask in self._bits():
            if bname == name:
                return (f["flags"] & mask) >> _shift(mask)
        for fname, _off, size in self._layout():
            if fname == name:
                if fname in f:
                    return f[fname]
                return bytes(size) if size in (6, 8, 16) else 0
        raise AttributeError("%s has no field %r" % (self.name, name))

    def __setattr__(self, name, value):
        if name in _PLAIN or name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        f = self._f
        if name == "flags":
            f["flags"] = value & 0xFF
            return
        for bname, mask in self._bits():
            if bname == name:
                s = _shift(mask)
                f["flags"] = (f["flags"] & ~mask) | ((int(value) << s) & mask)
                return
        for fname, _off, size in self._layout():
            if fname == name:
                if size in (6, 8, 16):
                    value = bytes(value)
                    if fname == "cdb":
                        value = value[:16].ljust(16, b"\0")
                    if len(value) != size:
                        raise CodecError("%s must be %d bytes" % (name, size))
                else:
                    value = int(value) & ((1 << (8 * size)) - 1)
                f[fname] = value
                return
        raise CodecError("%s has no field %r" % (self.name, name))

    @property
    def name(self):
        return OP_NAMES.get(self.opcode, "Opcode-0x%02x" % self.opcode)

    def fields(self):
        """All named fields as a dict (for logs and assertions)."""
        d = {"opcode": self.opcode, "I": int(self.immediate), "flags": self.flags,
             "dsl": len(self.data), "ahslen": len(self.ahs)}
        for bname, _m in self._bits():
            d[bname] = getattr(self, bname)
        for fname, _o, _s in self._layout():
            d[fname] = getattr(self, fname)
        return d

    def copy(self):
        p = Pdu(self.opcode, data=self.data, ahs=self.ahs, immediate=self.immediate)
        p._f = dict(self._f)
        p.bhs_rest = self.bhs_rest
        return p

    def bhs(self):
        """The 48-byte BHS."""
        if self.raw_bhs is not None:
            return bytes(self.raw_bhs)
        b = bytearray(self.bhs_rest)
        b[0] = (0x40 if self.immediate else 0) | self.opcode
        b[1] = self._f["flags"]
        if len(self.ahs) % 4:
            raise CodecError("AHS length must be a multiple of 4")
        b[4] = (len(self.ahs) // 4) & 0xFF
        dsl = len(self.data) if self.dsl_override is None else self.dsl_override
        b[5:8] = (dsl & 0xFFFFFF).to_bytes(3, "big")
        for fname, off, size in self._layout():
            v = getattr(self, fname)
            if size in (6, 8, 16):
                b[off:off + size] = v
            else:
                b[off:off + size] = v.to_bytes(size, "big")
        return bytes(b)

    def text(self):
        """Data segment parsed as key=value pairs (list of tuples)."""
        return parse_text(self.data)

    def keys(self):
        """Data segment as a dict (last value wins)."""
        return dict(parse_text(self.data))

    def __repr__(self):
        parts = ["%s=%s" % (k, (v.hex() if isinstance(v, bytes) else hex(v) if
                                k in ("itt", "ttt", "rtt") else v))
                 for k, v in self.fields().items() if k not in ("opcode",)]
        return "<%s %s>" % (self.name, " ".join(parts))


def pad4(n):
    return (4 - n % 4) % 4


def encode_pdu(pdu, hd=False, dd=False, order="little"):
    """Serialise a Pdu: BHS, AHS, [header digest], data, zero pad,
    [data digest if data present].  RFC 7143 §11.2, §13.1: digest covers
    BHS+AHS; data digest covers data + padding; no data digest when DSL=0."""
    hdr = pdu.bhs() + pdu.ahs
    out = bytearray(hdr)
    if hd:
        dg = bytearray(digest_bytes(hdr, order))
        if pdu.corrupt_hdigest:
            dg[0] ^= 0x01
        out += dg
    if pdu.data:
        seg = pdu.data + bytes(pad4(len(pdu.data)))
        out += seg
        if dd:
            dg = bytearray(digest_bytes(seg, order))
            if pdu.corrupt_ddigest:
                dg[0] ^= 0x01
            out += dg
    return bytes(out)


def decode_bhs(bhs):
    """Decode a 48-byte BHS into a Pdu (without AHS and data)."""
    if len(bhs) != 48:
        raise CodecError("BHS must be 48 bytes")
    op = bhs[0] & 0x3F
    p = Pdu(op, immediate=bool(bhs[0] & 0x40), flags=bhs[1])
    p.bhs_rest = bytes(bhs)
    for fname, off, size in p._layout():
        raw = bhs[off:off + size]
        p._f[fname] = bytes(raw) if size in (6, 8, 16) else int.from_bytes(raw, "big")
    return p


def bhs_lengths(bhs):
    """(total AHS length in bytes, data segment length) from a BHS."""
    return bhs[4] * 4, int.from_bytes(bhs[5:8], "big")


def decode_pdu(buf, hd=False, dd=False, order="little"):
    """Decode one complete PDU from bytes; returns (pdu, consumed).  Raises
    CodecError if incomplete, DigestError on a digest mismatch."""
    fr = Framer(hd=hd, dd=dd, order=order)
    fr.feed(buf)
    p = fr.next()
    if p is None:
        raise CodecError("incomplete PDU")
    return p, len(buf) - len(fr.buf)


class Framer:
    """Incremental parser: feed() bytes, next() returns a Pdu or None.

    pdu.raw holds the exact wire bytes.  max_dsl bounds the data segment
    (CodecError if exceeded, before anything is allocated)."""

    def __init__(self, hd=False, dd=False, order="little", max_dsl=16 * 1024 * 1024):
        self.hd = hd
        self.dd = dd
        self.order = order
        self.max_dsl = max_dsl
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data

    def need(self):
        """Bytes needed to complete the next PDU (>0), or 0 if one is ready."""
        if len(self.buf) < 48:
            return 48 - len(self.buf)
        total = self.frame_len(self.buf[:48])
        return max(0, total - len(self.buf))

    def frame_len(self, bhs):
        ahs, dsl = bhs_lengths(bhs)
        if dsl > self.max_dsl:
            raise CodecError("DataSegmentLength %d exceeds limit %d" % (dsl, self.max_dsl))
        n = 48 + ahs + (4 if self.hd else 0)
        if dsl:
            n += dsl + pad4(dsl) + (4 if self.dd else 0)
        return n

    def next(self):
        if self.need():
            return None
        bhs = bytes(self.buf[:48])
        ahs_len, dsl = bhs_lengths(bhs)
        total = self.frame_len(bhs)
        raw = bytes(self.buf[:total])
        del self.buf[:total]
        pos = 48 + ahs_len
        pdu = decode_bhs(bhs)
        pdu.ahs = raw[48:pos]
        if self.hd:
            got = raw[pos:pos + 4]
            if got != digest_bytes(raw[:pos], self.order):
                raise DigestError("header", None, raw)
            pos += 4
        if dsl:
            seg = raw[pos:pos + dsl + pad4(dsl)]
            pdu.data = seg[:dsl]
            pdu.pad = seg[dsl:]
            pos += len(seg)
            if self.dd:
                if raw[pos:pos + 4] != digest_bytes(seg, self.order):
                    pdu.raw = raw
                    raise DigestError("data", pdu, raw)
        pdu.raw = raw
        return pdu


# ---------------------------------------------------------------- text keys
def parse_text(data):
    """key=value\\0... -> list of (key, value).  Tolerates a missing final NUL
    and skips empty entries.  Items without '=' get value None."""
    out = []
    for item in bytes(data).split(b"\0"):
        if not item:
            continue
        s = item.decode("utf-8", "replace")
        if "=" in s:
            k, v = s.split("=", 1)
        else:
            k, v = s, None
        out.append((k, v))
    return out


def build_text(pairs):
    """list of (key, value) or dict -> bytes, every pair NUL-terminated."""
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    return b"".join(("%s=%s" % (k, v)).encode() + b"\0" for k, v in pairs)


# ---------------------------------------------------------------- helpers
def lun_bytes(lun):
    """SAM LUN encoding for the LUN field: peripheral (<256) or flat space
    (<16384) addressing, first level only."""
    if lun < 256:
        return bytes([0, lun]) + bytes(6)
    if lun < 16384:
        return bytes([0x40 | (lun >> 8), lun & 0xFF]) + bytes(6)
    raise ValueError("LUN out of range")


def lun_number(lunb):
    """Inverse of lun_bytes for the first level (peripheral / flat)."""
    lunb = bytes(lunb)
    am = lunb[0] >> 6
    if am in (0, 1):
        return ((lunb[0] & 0x3F) << 8) | lunb[1]
    return -1


def sna_lt(a, b):
    """Serial number arithmetic a < b (RFC 1982, 32 bits)."""
    return a != b and ((a < b and b - a < 2 ** 31) or (a > b and a - b > 2 ** 31))


def sna_le(a, b):
    return a == b or sna_lt(a, b)


def sna_add(a, n):
    return (a + n) & 0xFFFFFFFF


__all__ = [n for n in dir() if not n.startswith("_")] + ["struct"]
