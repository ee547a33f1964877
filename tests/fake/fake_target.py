#!/usr/bin/python3
"""Scripted fake iSCSI target for the uiscsid tests (RFC 7143).

Library use (see README.md in this folder):

    from fake_target import FakeTarget, DROP
    with FakeTarget(luns={0: 2048}, auth="chap", chap_user="u",
                    chap_secret="s3cret-s3cret") as t:
        port = t.port
        t.before_send(lambda c, p: DROP, opcode=OP_NOP_IN)
        ... drive the initiator against 127.0.0.1:port ...
        assert t.last_received(OP_NOP_OUT).ttt == 0xffffffff

CLI:  fake_target.py --port 3260 --script datasn-gap [--chap u:s] [--mutual u:s]
"""

import argparse
import base64
import collections
import hashlib
import os
import queue
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from iscsi_pdu import (  # noqa: E402
    OP_NOP_OUT, OP_SCSI_CMD, OP_TMF_REQ, OP_LOGIN_REQ, OP_TEXT_REQ, OP_DATA_OUT,
    OP_LOGOUT_REQ, OP_SNACK, OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP, OP_LOGIN_RSP,
    OP_TEXT_RSP, OP_DATA_IN, OP_LOGOUT_RSP, OP_R2T, OP_ASYNC, OP_REJECT,
    RSVD_TAG, Pdu, Framer, CodecError, DigestError, encode_pdu, parse_text, build_text,
    lun_bytes, lun_number, sna_lt, sna_add, FIELDS,
    TMF_ABORT_TASK, TMF_ABORT_TASK_SET, TMF_CLEAR_ACA, TMF_CLEAR_TASK_SET, TMF_LUN_RESET,
    TMF_TARGET_WARM_RESET, TMF_TARGET_COLD_RESET, TMF_TASK_REASSIGN,
    REJ_DATA_DIGEST, REJ_PROTOCOL_ERROR, REJ_CMD_NOT_SUPPORTED, REJ_TASK_IN_PROGRESS,
    SNACK_DATA_R2T, SNACK_STATUS, SNACK_DATA_ACK, SNACK_RDATA,
)
from scsi_disk import Disk, Result  # noqa: E402

# ------------------------------------------------------------ hook results
DROP = "drop"          # before_send: do not send; on_recv: do not process
HOLD = "hold"          # before_send: send after the next PDU (reorder)
HANDLED = "handled"    # on_recv / on_command: the hook did everything itself
OMIT = object()        # key_policy: do not answer this key
SEND_BLOCK_S = 30.0    # longest wait for the initiator to take sent bytes


class Delay:
    """before_send result: sleep this long, then send (blocks the connection)."""

    def __init__(self, seconds):
        self.seconds = seconds


class Truncate:
    """before_send result: send only the first nbytes of this PDU, then close
    the connection with RST (rst=True, SO_LINGER 0) or FIN."""

    def __init__(self, nbytes, rst=True):
        self.nbytes = nbytes
        self.rst = rst


CHAP_HASH = {5: "md5", 6: "sha1", 7: "sha256", 8: "sha3_256"}

RFC_DEFAULTS = {
    "HeaderDigest": "None", "DataDigest": "None", "MaxConnections": "1",
    "InitialR2T": "Yes", "ImmediateData": "Yes", "MaxRecvDataSegmentLength": "8192",
    "MaxBurstLength": "262144", "FirstBurstLength": "65536", "DefaultTime2Wait": "2",
    "DefaultTime2Retain": "20", "MaxOutstandingR2T": "1", "DataPDUInOrder": "Yes",
    "DataSequenceInOrder": "Yes", "ErrorRecoveryLevel": "0", "IFMarker": "No",
    "OFMarker": "No",
}

# key -> (kind, lo, hi); kinds: min, max, or, and, list, decl
KEY_RULES = {
    "HeaderDigest": ("list", 0, 0), "DataDigest": ("list", 0, 0),
    "MaxConnections": ("min", 1, 65535), "InitialR2T": ("or", 0, 0),
    "ImmediateData": ("and", 0, 0), "MaxRecvDataSegmentLength": ("decl", 512, 16777215),
    "MaxBurstLength": ("min", 512, 16777215), "FirstBurstLength": ("min", 512, 16777215),
    "DefaultTime2Wait": ("max", 0, 3600), "DefaultTime2Retain": ("min", 0, 3600),
    "MaxOutstandingR2T": ("min", 1, 65535), "DataPDUInOrder": ("or", 0, 0),
    "DataSequenceInOrder": ("or", 0, 0), "ErrorRecoveryLevel": ("min", 0, 2),
    "IFMarker": ("and", 0, 0), "OFMarker": ("and", 0, 0),
    "InitiatorName": ("idecl", 0, 0), "InitiatorAlias": ("idecl", 0, 0),
    "TargetName": ("idecl", 0, 0), "SessionType": ("idecl", 0, 0),
    "TargetAlias": ("idecl", 0, 0), "TargetPortalGroupTag": ("idecl", 0, 0),
    "SendTargets": ("idecl", 0, 0), "TargetAddress": ("idecl", 0, 0),
}
FFP_KEYS = {"MaxRecvDataSegmentLength", "SendTargets"}


class Config:
    """All knobs of the fake target; FakeTarget(**kw) overrides any of them."""

    DEFAULTS = dict(
        host="127.0.0.1", ipv6=False, port=0,
        target_name="iqn.2024-01.org.uiscsi:fake",
        targets=None,              # list of target names (default [target_name])
        target_alias=None,
        portal_group_tag=1,
        portals=None,              # SendTargets addresses (default: this portal)
        luns=None,                 # {lun: blocks} (default {0: 16384})
        block_size=512, descriptor_sense=False, unit_attention=False,
        # authentication
        auth="none",               # "none" | "chap" | "none,chap" (accept both)
        chap_user="user", chap_secret="secretsecret",
        mutual_user="target", mutual_secret="targetsecret",
        require_mutual=False,
        chap_algorithms=(5, 6, 7, 8),  # what the target supports
        chap_a_override=None,      # answer this CHAP_A whatever was offered
        chap_challenge_len=16, chap_challenge_zero=False, chap_reflect=False,
        chap_bad_mutual_response=False, chap_identifier=None, chap_encoding="hex",
        # negotiation
        params=None,               # target values, e.g. {"MaxBurstLength": "65536"}
        key_policy=None,           # {key: "value" | OMIT | callable(offered)->value|OMIT}
        extra_keys=(),             # [(key, value)] offered by the target itself
        omit_default_mrdsl=False,  # tgt: do not declare MRDSL when it is 8192
        target_mrdsl=8192,
        header_digest=("None",), data_digest=("None",),
        digest_choice="initiator",  # RFC: first of the initiator's list; "target": ours
        digest_order="little",
        sec_extra_rounds=0, op_extra_rounds=0, skip_op_stage=False,
        login_resp_split=0,        # max bytes per login response (C bit)
        login_status=None, login_status_count=None,   # (class, detail)
        redirect=None, redirect_status=(1, 1), redirect_count=1,
        initial_statsn=0x1000, tsih_start=0x10,
        text_split=0,              # max bytes per SendTargets Text Response
        text_split_mode="c-bit",   # "c-bit": split anywhere, C=1; "keys": whole pairs, C=0
        # full feature phase
        cmd_window=32,
        status_in_data=True, data_in_max=0, data_ack=False,
        nop_interval=0.0, nop_drop_after=0, nop_data=b"fake-ping",
        snack_at_erl0="reject",    # or "close"
        logout_response=0, time2wait=2, time2retain=20, logout_close=True,
        tmf_response=None,         # {function: response code}
        reset_drops=True,
        max_dsl_accept=16 * 1024 * 1024,
        max_edtl=64 * 1024 * 1024,
        violation_close=False,
        verbose=False,
    )

    def __init__(self, **kw):
        for k, v in self.DEFAULTS.items():
            setattr(self, k, v)
        for k, v in kw.items():
            if k not in self.DEFAULTS:
                raise TypeError("unknown FakeTarget option %r" % k)
            setattr(self, k, v)
        if self.luns is None:
            self.luns = {0: 16384}
        if self.targets is None:
            self.targets = [self.target_name]
        self.params = dict(self.params or {})
        self.key_policy = dict(self.key_policy or {})
        self.tmf_response = dict(self.tmf_response or {})


TARGET_PARAM_DEFAULTS = {
    "MaxConnections": "4", "InitialR2T": "Yes", "ImmediateData": "Yes",
    "MaxBurstLength": "262144", "FirstBurstLength": "65536", "DefaultTime2Wait": "2",
    "DefaultTime2Retain": "20", "MaxOutstandingR2T": "8", "DataPDUInOrder": "Yes",
    "DataSequenceInOrder": "Yes", "ErrorRecoveryLevel": "2", "IFMarker": "No",
    "OFMarker": "No",
}


# ------------------------------------------------------------ records
class Record:
    """One PDU seen on a connection: direction 'in'/'out', conn (id), cid,
    t (time.monotonic), pdu (decoded Pdu), raw (wire bytes), note."""

    __slots__ = ("direction", "conn", "cid", "t", "pdu", "raw", "note")

    def __init__(self, direction, conn, cid, pdu, raw, note=""):
        self.direction, self.conn, self.cid = direction, conn, cid
        self.t = time.monotonic()
        self.pdu, self.raw, self.note = pdu, raw, note

    def __repr__(self):
        return "<%s c%d %s %s>" % (self.direction, self.conn, self.note, self.pdu)


class LoginFailed(Exception):
    def __init__(self, cls, detail, keys=()):
        super().__init__("login failed 0x%02x%02x" % (cls, detail))
        self.cls, self.detail, self.keys = cls, detail, list(keys)


class ConnClosed(Exception):
    pass


# ------------------------------------------------------------ task state
class R2tState:
    def __init__(self, ttt, r2tsn, offset, length):
        self.ttt, self.r2tsn, self.offset, self.length = ttt, r2tsn, offset, length
        self.next_datasn = 0
        self.received = 0
        self.pdu = None


class Task:
    """A SCSI command in the target.  Scripting attributes (set them from an
    on_command hook):
      result          scsi_disk.Result to use instead of executing the CDB
      response        iSCSI Response code (default 0)
      withhold_status never send status (the task stays live for TMF tests)
      separate_status True/False: status in a SCSI Response / in the last Data-In
      skip_datasn     set of DataSNs generated but not sent (ERL 1 gaps)
      bad_offset      {datasn: BufferOffset to send instead}
      extra_data      bytes of data beyond EDTL on the last Data-In (no O bit)
      residual        ("U"|"O", count) forced residual
      reply_itt       ITT to put on the status (unknown ITT)
      r2t_plan        [(offset, length)] explicit R2T sequence (any order)
      data_ack        set the A bit on the last PDU of each Data-In burst
      delay           seconds to wait before the response (blocks the connection)
      data_in_max     Data-In segment size override
      duplicate_status send a SCSI Response after an S-bit Data-In (protocol violation)
      status_override SCSI status to report (with sense_override)
    """

    def __init__(self, conn, pdu):
        self.conn = conn
        self.pdu = pdu
        self.itt = pdu.itt
        self.lun = lun_number(pdu.lun)
        self.lun_raw = pdu.lun
        self.cdb = pdu.cdb + (pdu.ahs[4:] if pdu.ahs else b"")
        self.edtl = pdu.edtl
        self.cmdsn = pdu.cmdsn
        self.read = bool(pdu.R)
        self.write = bool(pdu.W)
        self.state = "new"
        self.buf = bytearray()
        self.ranges = []
        self.r2ts = collections.OrderedDict()
        self.r2t_history = {}         # r2tsn -> R2tState
        self.next_r2tsn = 0
        self.next_r2t_offset = 0
        self.unsol_expected = False
        self.unsol_done = True
        self.unsol_next_datasn = 0
        self.datain = []              # Pdu copies, index = DataSN
        self.status_pdu = None
        self.status_statsn = None
        self.result = None
        self.response = 0
        self.withhold_status = False
        self.separate_status = None
        self.skip_datasn = set()
        self.bad_offset = {}
        self.extra_data = 0
        self.residual = None
        self.reply_itt = None
        self.r2t_plan = None
        self.data_ack = None
        self.delay = 0
        self.data_in_max = 0
        self.duplicate_status = False
        self.status_override = None
        self.sense_override = None
        self.rsp_info = (0, 0, 0, b"")
        self.meta = {}

    def received_bytes(self):
        return sum(b - a for a, b in self.ranges)

    def add_range(self, a, b):
        rs = sorted(self.ranges + [(a, b)])
        out = []
        for x, y in rs:
            if out and x <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], y))
            else:
                out.append((x, y))
        self.ranges = out

    def missing(self):
        gaps, pos = [], 0
        for a, b in self.ranges:
            if a > pos:
                gaps.append((pos, a))
            pos = max(pos, b)
        if pos < self.edtl:
            gaps.append((pos, self.edtl))
        return gaps

    def __repr__(self):
        return "<Task itt=0x%x lun=%d op=0x%02x edtl=%d %s>" % (
            self.itt, self.lun, self.cdb[0], self.edtl, self.state)


class Session:
    def __init__(self, target, isid, iname, stype, tname):
        self.target = target
        self.isid, self.iname, self.stype, self.tname = isid, iname, stype, tname
        self.tsih = 0
        self.params = dict(RFC_DEFAULTS)
        self.expcmdsn = 0
        self.window = target.cfg.cmd_window
        self.pending_cmds = {}        # cmdsn -> (conn, pdu) ahead of ExpCmdSN
        self.tasks = {}               # itt -> Task
        self.conns = {}               # cid -> Connection
        self.dead_cids = set()        # failed connections (ERL 2 cleanup)
        self.lock = threading.RLock()
        self.closed = False
        self.ttt = 0x100

    def maxcmdsn(self):
        return sna_add(self.expcmdsn, self.window - 1)

    def new_ttt(self):
        self.ttt = (self.ttt + 1) & 0x7FFFFFFF or 1
        return self.ttt

    def p(self, key):
        return self.params.get(key, RFC_DEFAULTS.get(key))

    def pint(self, key):
        try:
            return int(self.p(key))
        except (TypeError, ValueError):
            return int(RFC_DEFAULTS[key])

    def pbool(self, key):
        return self.p(key) == "Yes"

    @property
    def erl(self):
        return self.pint("ErrorRecoveryLevel")

    def __repr__(self):
        return "<Session isid=%s tsih=0x%x %s conns=%s>" % (
            self.isid.hex(), self.tsih, self.stype, list(self.conns))


# ------------------------------------------------------------ connection
class Connection(threading.Thread):
    def __init__(self, target, sock, peer, conn_id):
        super().__init__(daemon=True, name="fake-conn-%d" % conn_id)
        self.target = target
        self.cfg = target.cfg
        self.sock = sock
        self.peer = peer
        self.id = conn_id
        self.cid = None
        self.session = None
        self.state = "login"
        self.alive = True
        self.hd = False
        self.dd = False
        self.framer = Framer(max_dsl=self.cfg.max_dsl_accept, order=self.cfg.digest_order)
        self.statsn = self.cfg.initial_statsn
        self.exp_statsn_seen = None
        self.peer_mrdsl = 8192
        self.send_lock = threading.RLock()
        self.held = []
        self.calls = queue.Queue()
        self.timers = []
        self.status_history = collections.OrderedDict()
        # login state
        self.login = {"first": True, "keys": [], "pending": [], "final": None,
                      "auth": None, "chap": None, "sec_rounds": self.cfg.sec_extra_rounds,
                      "op_rounds": self.cfg.op_extra_rounds, "op_first": True,
                      "sent_tpgt": False, "answers": {}, "offered": {}}
        self.text_pending = {}        # ttt -> (itt, [chunks])
        self.text_accum = {}          # itt -> bytes (initiator C bit)
        self.nop_pending = {}         # ttt -> send time
        self.nop_missed = 0
        self.last_nop = time.monotonic()
        self.closing = False

    # ---- logging
    def log(self, msg):
        self.target.event("c%d: %s" % (self.id, msg))

    def violation(self, msg):
        self.target.violation("c%d: %s" % (self.id, msg))
        if self.cfg.violation_close:
            self.close(rst=True)

    # ---- scheduling from other threads
    def call_soon(self, fn):
        """Run fn(conn) in this connection's thread (thread-safe)."""
        self.calls.put(fn)

    def schedule(self, delay, fn):
        """Run fn(conn) after delay seconds in this connection's thread."""
        self.timers.append((time.monotonic() + delay, fn))

    # ---- main loop
    def run(self):
        try:
            self.sock.settimeout(0.02)
            while self.alive and not self.target.stopping.is_set():
                self._tick()
                pdu = self._read_pdu()
                if pdu is None:
                    continue
                self._handle(pdu)
        except ConnClosed:
            pass
        except Exception as e:  # pragma: no cover - a bug in the fake itself
            import traceback
            self.target.event("c%d: INTERNAL ERROR %r\n%s" % (self.id, e,
                                                              traceback.format_exc()))
            self.target.internal_errors.append(repr(e))
        finally:
            self._teardown()

    def _tick(self):
        while True:
            try:
                fn = self.calls.get_nowait()
            except queue.Empty:
                break
            self._locked(fn, self)
        now = time.monotonic()
        due = [t for t in self.timers if t[0] <= now]
        if due:
            self.timers = [t for t in self.timers if t[0] > now]
            for _t, fn in due:
                self._locked(fn, self)
        if self.state == "ffp" and self.cfg.nop_interval and \
                now - self.last_nop >= self.cfg.nop_interval:
            self.last_nop = now
            if self.cfg.nop_drop_after and len(self.nop_pending) >= self.cfg.nop_drop_after:
                self.log("%d NOP-In pings unanswered: dropping" % len(self.nop_pending))
                self.close(rst=False)
                raise ConnClosed()
            self.send_nop_in(ping=True)

    def _locked(self, fn, *a):
        s = self.session
        if s is not None:
            with s.lock:
                return fn(*a)
        return fn(*a)

    def _read_pdu(self):
        fr = self.framer
        fr.hd, fr.dd = self.hd, self.dd
        while True:
            try:
                need = fr.need()
            except CodecError as e:
                self.violation("framing: %s" % e)
                self.close(rst=True)
                raise ConnClosed()
            if need == 0:
                break
            try:
                chunk = self.sock.recv(max(need, 65536))
            except socket.timeout:
                return None
            except OSError:
                raise ConnClosed()
            if not chunk:
                if fr.buf:
                    self.log("peer closed with %d bytes of a partial PDU" % len(fr.buf))
                raise ConnClosed()
            fr.feed(chunk)
        try:
            pdu = fr.next()
        except DigestError as e:
            pdu = e.pdu
            raw = e.raw
            if pdu is None:
                from iscsi_pdu import decode_bhs
                pdu = decode_bhs(raw[:48])
            pdu.digest_error = e.kind
            pdu.raw = raw
            self.target.record("in", self, pdu, raw, note="%s-digest-error" % e.kind)
            self._locked(self._digest_error, pdu, e.kind)
            return None
        self.target.record("in", self, pdu, pdu.raw)
        return pdu

    def _handle(self, pdu):
        for op, fn in list(self.target.recv_hooks):
            if op is not None and op != pdu.opcode:
                continue
            r = fn(self, pdu)
            if r in (DROP, HANDLED):
                return
        self._locked(self._dispatch, pdu)

    def _dispatch(self, pdu):
        if self.state == "login":
            self._login(pdu)
            return
        if pdu.opcode != OP_DATA_OUT and pdu.opcode != OP_SNACK:
            self.exp_statsn_seen = pdu.expstatsn if "expstatsn" in pdu.fields() else None
            self._ack_status(pdu)
        h = {
            OP_NOP_OUT: self._nop_out, OP_SCSI_CMD: self._scsi_cmd, OP_TMF_REQ: self._tmf,
            OP_TEXT_REQ: self._text, OP_DATA_OUT: self._data_out,
            OP_LOGOUT_REQ: self._logout, OP_SNACK: self._snack,
        }.get(pdu.opcode)
        if h is None:
            self.violation("unexpected opcode 0x%02x in FFP" % pdu.opcode)
            self.send_reject(REJ_CMD_NOT_SUPPORTED if pdu.opcode != OP_LOGIN_REQ
                             else REJ_PROTOCOL_ERROR, pdu)
            return
        if self.session.stype == "Discovery" and pdu.opcode in (OP_SCSI_CMD, OP_TMF_REQ,
                                                                OP_DATA_OUT, OP_SNACK):
            self.violation("%s in a discovery session" % pdu.name)
            self.send_reject(REJ_PROTOCOL_ERROR, pdu)
            return
        if pdu.opcode in (OP_DATA_OUT, OP_SNACK):
            h(pdu)
            return
        self._ordered(pdu, h)

    def _ack_status(self, pdu):
        e = pdu.expstatsn if "expstatsn" in pdu.fields() else None
        if e is None:
            return
        for sn in list(self.status_history):
            if sna_lt(sn, e):
                del self.status_history[sn]

    # ---- CmdSN ordering (RFC 7143 §4.2.2.1, §3.2.2.1)
    def _ordered(self, pdu, handler):
        s = self.session
        if pdu.immediate:
            handler(pdu)
            return
        cmdsn = pdu.cmdsn
        if sna_lt(cmdsn, s.expcmdsn):
            self.violation("CmdSN 0x%x < ExpCmdSN 0x%x (%s): ignored" % (
                cmdsn, s.expcmdsn, pdu.name))
            return
        if sna_lt(s.maxcmdsn(), cmdsn):
            self.violation("CmdSN 0x%x > MaxCmdSN 0x%x (%s): ignored" % (
                cmdsn, s.maxcmdsn(), pdu.name))
            return
        if cmdsn != s.expcmdsn:
            self.log("CmdSN 0x%x ahead of ExpCmdSN 0x%x: queued" % (cmdsn, s.expcmdsn))
            s.pending_cmds[cmdsn] = (self, pdu, handler)
            return
        s.expcmdsn = sna_add(s.expcmdsn, 1)
        handler(pdu)
        for _ in range(len(s.pending_cmds)):
            nxt = s.pending_cmds.pop(s.expcmdsn, None)
            if nxt is None:
                break
            s.expcmdsn = sna_add(s.expcmdsn, 1)
            nxt[2](nxt[1])

    # ---- sending
    def _advances(self, pdu):
        op = pdu.opcode
        if op in (OP_SCSI_RSP, OP_TMF_RSP, OP_LOGIN_RSP, OP_TEXT_RSP, OP_LOGOUT_RSP,
                  OP_ASYNC, OP_REJECT):
            return True
        if op == OP_DATA_IN:
            return bool(pdu.S)
        if op == OP_NOP_IN:
            return pdu.itt != RSVD_TAG
        return False

    def _fill_sn(self, pdu):
        names = [f[0] for f in FIELDS.get(pdu.opcode, [])]
        if "statsn" in names and pdu.keep_sn is None:
            pdu.statsn = self.statsn
            if self._advances(pdu):
                self.statsn = sna_add(self.statsn, 1)
                if self.state == "ffp":
                    self.status_history[pdu.statsn] = pdu
                    while len(self.status_history) > 4096:
                        self.status_history.popitem(last=False)
        if "maxcmdsn" in names and pdu.keep_sn != "all" and self.session is not None \
                and pdu.opcode != OP_LOGIN_RSP:
            pdu.expcmdsn = self.session.expcmdsn
            pdu.maxcmdsn = self.session.maxcmdsn()

    def send(self, pdu, hooks=True):
        """Fill StatSN/ExpCmdSN/MaxCmdSN (unless pdu.keep_sn), run the
        before_send hooks, encode with the connection's digests, send, record."""
        if not self.alive:
            return False
        with self.send_lock:
            if isinstance(pdu, (bytes, bytearray)):
                return self.send_raw(pdu)
            self._fill_sn(pdu)
            items = [pdu]
            if hooks:
                for op, fn in list(self.target.send_hooks):
                    if op is not None and op != pdu.opcode:
                        continue
                    r = fn(self, pdu)
                    if r is None:
                        continue
                    if r == DROP:
                        self.target.record("out", self, pdu, b"", note="dropped")
                        return True
                    if r == HOLD:
                        self.held.append(pdu)
                        return True
                    if isinstance(r, Delay):
                        time.sleep(r.seconds)
                        continue
                    if isinstance(r, Truncate):
                        raw = encode_pdu(pdu, self.hd, self.dd, self.cfg.digest_order)
                        self.send_raw(raw[:r.nbytes], pdu=pdu, note="truncated")
                        self.close(rst=r.rst)
                        return False
                    if isinstance(r, (list, tuple)):
                        items = list(r)
                        break
            for it in items:
                if isinstance(it, (bytes, bytearray)):
                    self.send_raw(it)
                else:
                    raw = encode_pdu(it, self.hd, self.dd, self.cfg.digest_order)
                    self.send_raw(raw, pdu=it)
            held, self.held = self.held, []
            for h in held:
                raw = encode_pdu(h, self.hd, self.dd, self.cfg.digest_order)
                self.send_raw(raw, pdu=h, note="reordered")
            return True

    def send_raw(self, raw, pdu=None, note="raw"):
        """Write bytes to the socket (recorded)."""
        if not self.alive:
            return False
        with self.send_lock:
            # recorded before the write so that a test that has just received
            # the PDU always finds it in the record
            rec = self.target.record("out", self, pdu, bytes(raw),
                                     note="" if pdu is not None and note == "raw" else note)
            # The initiator may stop reading for a while (raw.stream flow
            # control): wait for room up to SEND_BLOCK_S, as a real target's
            # blocking send would, instead of failing at the socket's short
            # read timeout.
            view = memoryview(bytes(raw))
            deadline = time.monotonic() + SEND_BLOCK_S
            while len(view):
                try:
                    n = self.sock.send(view)
                except (socket.timeout, BlockingIOError, InterruptedError):
                    if (time.monotonic() < deadline and self.alive
                            and not self.target.stopping.is_set()):
                        continue
                    n = -1
                except OSError:
                    n = -1
                if n < 0:
                    rec.note = "send-failed"
                    self.alive = False
                    return False
                view = view[n:]
            return True

    def close(self, rst=False):
        """Close the TCP connection: FIN (shutdown) or RST (SO_LINGER 0)."""
        if not self.alive:
            return
        self.alive = False
        self.log("closing (%s)" % ("RST" if rst else "FIN"))
        try:
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
            else:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def _teardown(self):
        self.close(rst=False)
        s = self.session
        if s is not None:
            with s.lock:
                if s.conns.get(self.cid) is self:
                    del s.conns[self.cid]
                    if self.state == "ffp" and not s.closed:
                        s.dead_cids.add(self.cid)  # awaiting Logout reason 2
        self.target.event("c%d: connection ended" % self.id)

    # ---- generic senders (usable from hooks)
    def send_reject(self, reason, bad_pdu=None, datasn=0):
        hdr = b""
        if bad_pdu is not None:
            hdr = bad_pdu.raw[:48] if bad_pdu.raw else bad_pdu.bhs()
        p = Pdu(OP_REJECT, reason=reason, itt=RSVD_TAG, datasn=datasn, data=hdr)
        return self.send(p)

    def send_nop_in(self, ping=False, ttt=None, lun=0, data=None, itt=RSVD_TAG):
        """Target NOP-In: ping=True asks for a reply (TTT != 0xffffffff)."""
        if ping:
            ttt = ttt if ttt is not None else self.session.new_ttt()
            self.nop_pending[ttt] = time.monotonic()
            data = self.cfg.nop_data if data is None else data
        p = Pdu(OP_NOP_IN, itt=itt, ttt=ttt if ttt is not None else RSVD_TAG,
                lun=lun_bytes(lun), data=data or b"")
        self.send(p)
        return p

    def send_async(self, event, param1=0, param2=0, param3=0, sense=None, lun=0,
                   vcode=0, data=None):
        """Async Message (RFC 7143 §11.9).  event 0 carries sense data."""
        if data is None:
            data = b""
            if sense is not None:
                data = struct.pack(">H", len(sense)) + sense
        p = Pdu(OP_ASYNC, lun=lun_bytes(lun), itt=RSVD_TAG, async_event=event,
                async_vcode=vcode, param1=param1, param2=param2, param3=param3, data=data)
        self.send(p)
        return p

    def send_r2t(self, task, offset, length, ttt=None):
        """Send an R2T for any range of a write task (recovery or out of order)."""
        s = self.session
        st = R2tState(ttt if ttt is not None else s.new_ttt(), task.next_r2tsn, offset, length)
        task.next_r2tsn += 1
        task.r2ts[st.ttt] = st
        task.r2t_history[st.r2tsn] = st
        p = Pdu(OP_R2T, lun=task.lun_raw, itt=task.itt, ttt=st.ttt, r2tsn=st.r2tsn,
                bufferoffset=offset, ddtl=length)
        st.pdu = p
        self.send(p)
        return st

    # ---- digest errors
    def _digest_error(self, pdu, kind):
        s = self.session
        erl = s.erl if s else 0
        self.violation("%s digest error on %s" % (kind, pdu.name))
        if kind == "header" or erl == 0 or self.state != "ffp":
            self.close(rst=True)
            raise ConnClosed()
        self.send_reject(REJ_DATA_DIGEST, pdu)
        if pdu.opcode == OP_DATA_OUT:
            task = s.tasks.get(pdu.itt)
            if task is None:
                return
            st = task.r2ts.get(pdu.ttt)
            if st is not None:
                st.next_datasn = pdu.datasn + 1
                st.received += len(pdu.data)
                if pdu.F:
                    del task.r2ts[pdu.ttt]
            if pdu.ttt == RSVD_TAG:
                task.unsol_next_datasn = pdu.datasn + 1
            self.send_r2t(task, pdu.bufferoffset, len(pdu.data))
            if pdu.ttt == RSVD_TAG and pdu.F:
                task.unsol_done = True
                task.next_r2t_offset = 0
                self._issue_r2ts(task)
        # a SCSI Command with a bad immediate-data digest is not executed and
        # its CmdSN is not consumed: the initiator retries it (RFC 7143 §7.4).

    # ================================================================ login
    def _login_fail(self, pdu, cls, detail, keys=()):
        p = Pdu(OP_LOGIN_RSP, isid=pdu.isid, tsih=pdu.tsih, itt=pdu.itt, status_class=cls,
                status_detail=detail, csg=pdu.csg, nsg=pdu.nsg, data=build_text(list(keys)))
        self._login_sn(p, pdu)
        self.send(p)
        self.log("login failed 0x%02x%02x" % (cls, detail))
        time.sleep(0.05)
        self.close(rst=False)
        raise ConnClosed()

    def _login_sn(self, p, req):
        p.keep_sn = "all"
        p.statsn = self.statsn
        self.statsn = sna_add(self.statsn, 1)
        s = self.session
        exp = s.expcmdsn if s is not None and s.tsih else req.cmdsn
        p.expcmdsn = exp
        p.maxcmdsn = sna_add(exp, (s.window if s else self.cfg.cmd_window) - 1)

    def _login(self, pdu):
        L = self.login
        cfg = self.cfg
        if pdu.opcode != OP_LOGIN_REQ:
            self.violation("%s before login completed" % pdu.name)
            self.close(rst=True)
            raise ConnClosed()
        if L["first"]:
            L["first"] = False
            L["isid"], L["tsih"], L["cid"], L["itt"] = pdu.isid, pdu.tsih, pdu.cid, pdu.itt
            self.cid = pdu.cid
            self.target.login_attempts += 1
        if L["pending"]:
            # we are sending a long response with C=1; the initiator sends empties
            if pdu.data:
                self.violation("login request with data while target continues (C=1)")
            self._send_login_chunk(pdu)
            return
        L["keys"].append(pdu.data)
        if pdu.C:
            p = Pdu(OP_LOGIN_RSP, isid=pdu.isid, tsih=pdu.tsih, itt=pdu.itt,
                    csg=pdu.csg, nsg=pdu.nsg, T=0, C=0)
            self._login_sn(p, pdu)
            self.send(p)
            return
        keys = parse_text(b"".join(L["keys"]))
        L["keys"] = []
        kd = dict(keys)
        if self.session is None:
            self._login_start(pdu, kd)
        for k, v in keys:
            L["offered"][k] = v
        resp = []
        transit = bool(pdu.T)
        nsg = pdu.nsg
        if pdu.csg == 0:
            resp, done = self._security(pdu, keys)
            transit = transit and done
            if transit and cfg.skip_op_stage:
                nsg = 3
            if L["sec_rounds"] > 0 and transit:
                L["sec_rounds"] -= 1
                transit = False
        elif pdu.csg == 1:
            if L["auth"] is None and cfg.auth.split(",")[0] == "chap" \
                    and "none" not in cfg.auth.split(","):
                self._login_fail(pdu, 2, 1)
            resp = self._negotiate(keys, login=True)
            if L["op_rounds"] > 0 and transit:
                L["op_rounds"] -= 1
                transit = False
        else:
            self._login_fail(pdu, 2, 0x0B)
        if not L["sent_tpgt"] and self.session.stype != "Discovery":
            L["sent_tpgt"] = True
            resp.append(("TargetPortalGroupTag", str(cfg.portal_group_tag)))
        final = transit and nsg == 3
        for fn in list(self.target.login_hooks):
            r = fn(self, pdu, resp)
            if r is not None:
                resp = r
        data = build_text(resp)
        L["final"] = (transit, pdu.csg, nsg if transit else 0, final)
        split = cfg.login_resp_split
        if split and len(data) > split:
            L["pending"] = [data[i:i + split] for i in range(0, len(data), split)]
            self._send_login_chunk(pdu)
            return
        L["pending"] = [data]
        self._send_login_chunk(pdu)

    def _send_login_chunk(self, req):
        L = self.login
        chunk = L["pending"].pop(0)
        transit, csg, nsg, final = L["final"]
        last = not L["pending"]
        s = self.session
        p = Pdu(OP_LOGIN_RSP, isid=L["isid"], tsih=L["tsih"], itt=req.itt, csg=csg,
                nsg=nsg if last else 0, T=int(transit and last), C=int(not last), data=chunk)
        if final and last:
            self._login_complete()
            p.tsih = s.tsih
        self._login_sn(p, req)
        self.send(p)
        if final and last:
            self.hd = s.p("HeaderDigest") == "CRC32C"
            self.dd = s.p("DataDigest") == "CRC32C"
            self.state = "ffp"
            self.last_nop = time.monotonic()
            self.log("full feature phase (tsih=0x%x cid=%d hd=%s dd=%s)" % (
                s.tsih, self.cid, self.hd, self.dd))
            for fn in list(self.target.ffp_hooks):
                fn(self)

    def _login_start(self, pdu, kd):
        """First (complete) login request: find or create the session, apply
        redirects and forced statuses."""
        cfg = self.cfg
        t = self.target
        if cfg.redirect and (cfg.redirect_count is None or t.redirects_done < cfg.redirect_count):
            t.redirects_done += 1
            self.session = None
            self._login_fail(pdu, cfg.redirect_status[0], cfg.redirect_status[1],
                             [("TargetAddress", cfg.redirect)])
        if cfg.login_status and (cfg.login_status_count is None
                                 or t.forced_status_done < cfg.login_status_count):
            t.forced_status_done += 1
            self._login_fail(pdu, cfg.login_status[0], cfg.login_status[1])
        stype = kd.get("SessionType", "Normal")
        iname = kd.get("InitiatorName")
        if not iname:
            self._login_fail(pdu, 2, 7)
        tname = kd.get("TargetName")
        if stype == "Normal":
            if not tname:
                self._login_fail(pdu, 2, 7)
            if tname not in cfg.targets:
                self._login_fail(pdu, 2, 3)
        elif stype != "Discovery":
            self._login_fail(pdu, 2, 9)
        if pdu.tsih:
            s = t.find_session(pdu.isid, pdu.tsih)
            if s is None:
                self._login_fail(pdu, 2, 0x0A)
            if pdu.cid in s.conns:
                old = s.conns[pdu.cid]
                self.log("connection reinstatement: closing old c%d (cid %d)" % (old.id, pdu.cid))
                old.close(rst=True)
                del s.conns[pdu.cid]
            elif len(s.conns) >= s.pint("MaxConnections"):
                self._login_fail(pdu, 2, 8)
            self.session = s
            self.login["existing"] = True
            return
        s = Session(t, pdu.isid, iname, stype, tname)
        s.expcmdsn = pdu.cmdsn
        self.session = s
        self.login["existing"] = False

    def _login_complete(self):
        s = self.session
        t = self.target
        if not self.login.get("existing"):
            old = t.find_session(s.isid, None, iname=s.iname, tname=s.tname)
            if old is not None:
                self.log("session reinstatement: closing old session tsih=0x%x" % old.tsih)
                t.remove_session(old)
            s.tsih = t.new_tsih()
            t.add_session(s)
            if self.cfg.unit_attention:
                t.disk.set_unit_attention(nexus=s.isid.hex())
        s.conns[self.cid] = self
        try:
            self.peer_mrdsl = int(self.login["offered"].get("MaxRecvDataSegmentLength", 8192))
        except ValueError:
            self.peer_mrdsl = 8192

    # ---- security stage
    def _security(self, pdu, keys):
        cfg = self.cfg
        L = self.login
        kd = dict(keys)
        resp = []
        allowed = [a.strip().lower() for a in cfg.auth.split(",")]
        done = False
        other = [(k, v) for k, v in keys if not k.startswith("CHAP_") and k != "AuthMethod"]
        if "AuthMethod" in kd:
            offered = [m.strip() for m in (kd["AuthMethod"] or "").split(",")]
            choice = None
            for m in offered:
                if m.lower() in allowed:
                    choice = m
                    break
            if choice is None:
                resp.append(("AuthMethod", "Reject"))
                self._login_fail(pdu, 2, 1, resp)
            L["auth"] = choice.lower()
            resp.append(("AuthMethod", choice))
            if L["auth"] == "none":
                done = True
        if L["auth"] == "none":
            done = True
        elif L["auth"] == "chap":
            done = self._chap(pdu, kd, resp)
        elif L["auth"] is None and "none" in allowed and "AuthMethod" not in kd:
            done = True
        resp += self._negotiate(other, login=True) if other else []
        return resp, done

    def _chap(self, pdu, kd, resp):
        cfg = self.cfg
        L = self.login
        st = L["chap"]
        if st is None:
            st = L["chap"] = {}
        if "CHAP_A" in kd and "alg" not in st:
            offered = []
            for a in (kd["CHAP_A"] or "").split(","):
                try:
                    offered.append(int(a))
                except ValueError:
                    pass
            alg = cfg.chap_a_override
            if alg is None:
                alg = next((a for a in offered if a in cfg.chap_algorithms), None)
            if alg is None:
                resp.append(("CHAP_A", "Reject"))
                self._login_fail(pdu, 2, 1, resp)
            st["alg"] = alg
            st["id"] = os.urandom(1)[0]
            n = cfg.chap_challenge_len
            if cfg.chap_reflect and self.target.last_initiator_challenge:
                chal = self.target.last_initiator_challenge
            elif cfg.chap_challenge_zero:
                chal = bytes(n)
            else:
                chal = os.urandom(n)
            st["chal"] = chal
            resp.append(("CHAP_A", str(alg)))
            resp.append(("CHAP_I", cfg.chap_identifier if cfg.chap_identifier is not None
                         else str(st["id"])))
            resp.append(("CHAP_C", encode_chap(chal, cfg.chap_encoding)))
            return False
        if "CHAP_R" in kd or "CHAP_N" in kd:
            if "alg" not in st:
                self._login_fail(pdu, 2, 1)
            name = kd.get("CHAP_N")
            try:
                got = decode_chap(kd.get("CHAP_R") or "")
            except ValueError:
                self._login_fail(pdu, 2, 1)
            algname = CHAP_HASH.get(st["alg"], "sha1" if st["alg"] == 7 else "md5")
            want = chap_response(algname, st["id"], cfg.chap_secret.encode(), st["chal"])
            self.target.chap_log.append(dict(alg=st["alg"], name=name,
                                             ok=(name == cfg.chap_user and got == want)))
            if name != cfg.chap_user or got != want:
                self._login_fail(pdu, 2, 1)
            if "CHAP_C" in kd:
                try:
                    ichal = decode_chap(kd["CHAP_C"])
                    iid = int(kd.get("CHAP_I", "x"))
                except ValueError:
                    self._login_fail(pdu, 2, 1)
                if not 0 <= iid <= 255:
                    self._login_fail(pdu, 2, 1)
                self.target.last_initiator_challenge = ichal
                r = chap_response(algname, iid, cfg.mutual_secret.encode(), ichal)
                if cfg.chap_bad_mutual_response:
                    r = bytes([r[0] ^ 0xFF]) + r[1:]
                resp.append(("CHAP_N", cfg.mutual_user))
                resp.append(("CHAP_R", encode_chap(r, "hex")))
            elif cfg.require_mutual:
                self._login_fail(pdu, 2, 1)
            st["done"] = True
            return True
        return bool(st.get("done"))

    # ---- operational negotiation (RFC 7143 §6, §13)
    def _negotiate(self, keys, login=True):
        cfg = self.cfg
        L = self.login
        tp = dict(TARGET_PARAM_DEFAULTS)
        tp.update(cfg.params)
        resp = []
        answered = set()
        extra = dict(cfg.extra_keys)
        for k, v in keys:
            if k in answered:
                continue
            answered.add(k)
            if k.startswith("CHAP_") or k == "AuthMethod":
                continue
            if k in extra and L.get("extra_sent"):
                # the initiator's answer to a key the target offered itself
                L["answers"][k] = v
                self._apply(k, v, tp)
                continue
            val = self._negotiate_one(k, v, tp)
            if k in cfg.key_policy:
                pol = cfg.key_policy[k]
                val = pol(v) if callable(pol) else pol
            if val is OMIT or val is None:
                continue
            resp.append((k, val))
            self._apply(k, val, tp, offered=v)
        if login and self.state == "login" and not L.get("extra_sent") and \
                any(k not in ("InitiatorName", "SessionType", "TargetName", "InitiatorAlias")
                    for k, _ in keys):
            L["extra_sent"] = True
            for k, v in cfg.extra_keys:
                resp.append((k, v))
            if "MaxRecvDataSegmentLength" not in cfg.key_policy and \
                    not (cfg.omit_default_mrdsl and cfg.target_mrdsl == 8192) and \
                    not any(k == "MaxRecvDataSegmentLength" for k, _ in resp):
                resp.append(("MaxRecvDataSegmentLength", str(cfg.target_mrdsl)))
            if cfg.target_alias:
                resp.append(("TargetAlias", cfg.target_alias))
        return resp

    def _negotiate_one(self, k, v, tp):
        cfg = self.cfg
        rule = KEY_RULES.get(k)
        if rule is None:
            return "NotUnderstood"
        kind, lo, hi = rule
        if kind == "idecl":
            if k == "MaxRecvDataSegmentLength":
                return None
            return None
        if v is None:
            return "Reject"
        if k in ("HeaderDigest", "DataDigest"):
            ours = cfg.header_digest if k == "HeaderDigest" else cfg.data_digest
            theirs = [x.strip() for x in v.split(",")]
            if cfg.digest_choice == "target":
                pick = next((x for x in ours if x in theirs), None)
            else:
                pick = next((x for x in theirs if x in ours), None)
            return pick or "Reject"
        if kind == "decl":
            try:
                n = int(v)
            except ValueError:
                return "Reject"
            if not lo <= n <= hi:
                return "Reject"
            self.peer_mrdsl = n
            if cfg.omit_default_mrdsl and cfg.target_mrdsl == 8192:
                return None
            return str(cfg.target_mrdsl)
        if kind in ("or", "and"):
            if v not in ("Yes", "No"):
                return "Reject"
            mine = tp.get(k, RFC_DEFAULTS.get(k)) == "Yes"
            theirs = v == "Yes"
            r = (mine or theirs) if kind == "or" else (mine and theirs)
            return "Yes" if r else "No"
        try:
            n = int(v)
        except ValueError:
            return "Reject"
        if not lo <= n <= hi:
            return "Reject"
        mine = int(tp.get(k, RFC_DEFAULTS.get(k)))
        return str(min(n, mine) if kind == "min" else max(n, mine))

    def _apply(self, k, val, tp, offered=None):
        s = self.session
        if val in ("NotUnderstood", "Irrelevant", "Reject") or k not in KEY_RULES:
            return
        kind = KEY_RULES[k][0]
        if kind == "idecl":
            return
        if kind == "decl":
            return
        if kind in ("min", "max"):
            try:
                int(val)
            except ValueError:
                return
        s.params[k] = val

    # ================================================================ FFP
    def _nop_out(self, pdu):
        if pdu.ttt != RSVD_TAG:
            if self.nop_pending.pop(pdu.ttt, None) is None:
                self.violation("NOP-Out answers unknown TTT 0x%x" % pdu.ttt)
        if pdu.itt == RSVD_TAG:
            return
        p = Pdu(OP_NOP_IN, itt=pdu.itt, ttt=RSVD_TAG, lun=pdu.lun, data=pdu.data)
        self.send(p)

    def _scsi_cmd(self, pdu):
        s = self.session
        cfg = self.cfg
        if pdu.itt in s.tasks and s.tasks[pdu.itt].state not in ("done", "aborted"):
            self.violation("ITT 0x%x reused while the task is live" % pdu.itt)
            self.send_reject(REJ_TASK_IN_PROGRESS, pdu)
            return
        if pdu.edtl > cfg.max_edtl:
            self.violation("EDTL %d too large for the fake" % pdu.edtl)
            self.send_reject(REJ_PROTOCOL_ERROR, pdu)
            return
        task = Task(self, pdu)
        s.tasks[pdu.itt] = task
        while len(s.tasks) > 2048:
            old = next(iter(s.tasks))
            if s.tasks[old].state in ("done", "aborted"):
                del s.tasks[old]
            else:
                break
        for fn in list(self.target.cmd_hooks):
            if fn(self, task) == HANDLED:
                task.state = "hooked"
                return
        if len(pdu.data) > self.cfg.target_mrdsl:
            self.violation("immediate data %d > target MRDSL %d" % (len(pdu.data),
                                                                    cfg.target_mrdsl))
        if task.write:
            task.buf = bytearray(task.edtl)
            task.state = "data-out"
            if pdu.data:
                if not s.pbool("ImmediateData"):
                    self.violation("immediate data sent with ImmediateData=No")
                if len(pdu.data) > min(s.pint("FirstBurstLength"), task.edtl):
                    self.violation("immediate data %d > min(FBL, EDTL)" % len(pdu.data))
                n = min(len(pdu.data), task.edtl)
                task.buf[0:n] = pdu.data[:n]
                task.add_range(0, n)
            task.unsol_expected = not pdu.F
            task.unsol_done = bool(pdu.F)
            if task.unsol_expected and s.pbool("InitialR2T"):
                self.violation("F=0 on a write command with InitialR2T=Yes")
            task.next_r2t_offset = task.received_bytes()
            if task.unsol_done:
                self._issue_r2ts(task)
            self._maybe_execute(task)
        else:
            if pdu.data:
                self.violation("data segment on a command without W")
            self._execute(task)

    def _issue_r2ts(self, task):
        s = self.session
        maxr2t = s.pint("MaxOutstandingR2T")
        mbl = s.pint("MaxBurstLength")
        for _ in range(100000):
            if len(task.r2ts) >= maxr2t or not self.alive:
                return
            if task.r2t_plan is not None:
                if not task.r2t_plan:
                    return
                off, ln = task.r2t_plan.pop(0)
            else:
                off = task.next_r2t_offset
                # skip ranges we already hold or have solicited
                held = sorted(task.ranges + [(r.offset, r.offset + r.length)
                                             for r in task.r2ts.values()])
                for a, b in held:
                    if a <= off < b:
                        off = b
                if off >= task.edtl:
                    return
                nxt = min(task.edtl, off + mbl)
                for a, b in held:
                    if off < a < nxt:
                        nxt = a
                ln = nxt - off
                task.next_r2t_offset = off + ln
            self.send_r2t(task, off, ln)

    def _data_out(self, pdu):
        s = self.session
        task = s.tasks.get(pdu.itt)
        if task is None or task.state not in ("data-out",):
            self.violation("Data-Out for unknown or finished ITT 0x%x" % pdu.itt)
            return
        if len(pdu.data) > self.cfg.target_mrdsl:
            self.violation("Data-Out DSL %d > target MRDSL %d" % (len(pdu.data),
                                                                  self.cfg.target_mrdsl))
        off = pdu.bufferoffset
        end = off + len(pdu.data)
        if end > task.edtl:
            self.violation("Data-Out beyond EDTL (%d+%d > %d)" % (off, len(pdu.data), task.edtl))
            return
        if pdu.ttt == RSVD_TAG:
            if not task.unsol_expected or task.unsol_done:
                self.violation("unexpected unsolicited Data-Out")
            if pdu.datasn != task.unsol_next_datasn:
                self.violation("unsolicited Data-Out DataSN %d, expected %d" % (
                    pdu.datasn, task.unsol_next_datasn))
            task.unsol_next_datasn = pdu.datasn + 1
            if end > self.session.pint("FirstBurstLength"):
                self.violation("unsolicited data beyond FirstBurstLength")
            task.buf[off:end] = pdu.data
            task.add_range(off, end)
            if pdu.F:
                task.unsol_done = True
                task.next_r2t_offset = 0
                self._issue_r2ts(task)
        else:
            st = task.r2ts.get(pdu.ttt)
            if st is None:
                self.violation("Data-Out with unknown TTT 0x%x" % pdu.ttt)
                return
            if pdu.datasn != st.next_datasn:
                self.violation("Data-Out DataSN %d, expected %d (TTT 0x%x)" % (
                    pdu.datasn, st.next_datasn, st.ttt))
            st.next_datasn = pdu.datasn + 1
            if off < st.offset or end > st.offset + st.length:
                self.violation("Data-Out range %d+%d outside R2T %d+%d" % (
                    off, len(pdu.data), st.offset, st.length))
            task.buf[off:end] = pdu.data
            task.add_range(off, end)
            st.received += len(pdu.data)
            if pdu.F:
                del task.r2ts[st.ttt]
                if st.received != st.length:
                    self.violation("R2T TTT 0x%x: got %d bytes of %d" % (
                        st.ttt, st.received, st.length))
                self._issue_r2ts(task)
        self._maybe_execute(task)

    def _maybe_execute(self, task):
        if task.state != "data-out":
            return
        if task.received_bytes() >= task.edtl and not task.r2ts and task.unsol_done:
            self._execute(task)

    def _execute(self, task):
        s = self.session
        task.state = "exec"
        if task.delay:
            time.sleep(task.delay)
        res = task.result
        if res is None:
            nexus = s.isid.hex()
            res = self.target.disk.execute(task.lun, task.cdb, bytes(task.buf), nexus)
        if task.status_override is not None:
            res = Result(task.status_override, res.data, task.sense_override or b"")
        task.result = res
        self._respond(task)

    def _expected_len(self, task, res):
        op = task.cdb[0]
        if op in (0x08, 0x28, 0x88, 0x0A, 0x2A, 0x8A) and task.lun in self.target.disk.luns:
            return Disk.transfer_length(task.cdb) * self.target.disk.luns[task.lun].block_size
        if task.read:
            return len(res.data)
        return task.edtl

    def _respond(self, task):
        s = self.session
        cfg = self.cfg
        res = task.result
        data = res.data if task.read else b""
        need = self._expected_len(task, res) if res.status == 0 else task.edtl
        flagU = flagO = 0
        residual = 0
        if task.read:
            if len(data) > task.edtl:
                flagO, residual = 1, len(data) - task.edtl
                data = data[:task.edtl]
            elif len(data) < task.edtl:
                flagU, residual = 1, task.edtl - len(data)
        elif task.write and res.status == 0:
            if need < task.edtl:
                flagU, residual = 1, task.edtl - need
            elif need > task.edtl:
                flagO, residual = 1, need - task.edtl
        if task.residual is not None:
            kind, residual = task.residual
            flagU, flagO = int(kind == "U"), int(kind == "O")
        sense = res.sense
        sep = task.separate_status
        if sep is None:
            sep = not cfg.status_in_data
        s_in_data = (not sep and not sense and task.response == 0 and len(data) > 0
                     and task.read and not task.withhold_status)
        # ---- Data-In
        seg = task.data_in_max or cfg.data_in_max or self.peer_mrdsl
        seg = max(1, min(seg, self.peer_mrdsl) if not task.data_in_max else seg)
        mbl = s.pint("MaxBurstLength")
        datasn = len(task.datain)
        pos = 0
        burst = 0
        ack = task.data_ack if task.data_ack is not None else (cfg.data_ack and s.erl >= 1)
        for _ in range(1 << 24):
            if pos >= len(data):
                break
            n = min(seg, len(data) - pos, mbl - burst)
            chunk = data[pos:pos + n]
            last = pos + n >= len(data)
            burst += n
            endburst = last or burst >= mbl
            if last and task.extra_data:
                chunk = chunk + bytes(task.extra_data)
            p = Pdu(OP_DATA_IN, lun=task.lun_raw, itt=task.reply_itt or task.itt,
                    ttt=RSVD_TAG, datasn=datasn, bufferoffset=task.bad_offset.get(datasn, pos),
                    data=chunk, F=int(endburst))
            if ack and endburst and not last:
                p.A = 1
                p.ttt = s.new_ttt()
                p.lun = task.lun_raw
            if last and s_in_data:
                p.S = 1
                p.status = res.status
                p.U, p.O, p.residual = flagU, flagO, residual
            task.datain.append(p)
            if datasn in task.skip_datasn:
                self._fill_sn(p)
                self.target.record("out", self, p, b"", note="skipped")
            else:
                self.send(p)
            datasn += 1
            pos += n
            if endburst:
                burst = 0
        task.rsp_info = (flagU, flagO, residual, sense)
        if task.withhold_status:
            task.state = "held"
            return
        task.state = "done"
        if s_in_data and not task.duplicate_status:
            task.status_pdu = task.datain[-1]
            return
        self._send_scsi_rsp(task)

    def _send_scsi_rsp(self, task):
        """Send the SCSI Response of a task from task.result / rsp_info."""
        flagU, flagO, residual, sense = task.rsp_info
        sdata = b""
        if sense:
            sdata = struct.pack(">H", len(sense)) + sense
        p = Pdu(OP_SCSI_RSP, itt=task.reply_itt or task.itt, response=task.response,
                status=task.result.status, expdatasn=len(task.datain) + task.next_r2tsn,
                U=flagU, O=flagO, residual=residual, data=sdata)
        task.status_pdu = p
        task.state = "done"
        self.send(p)

    def complete_held(self, task, status=None):
        """Send the status of a task whose status was withheld."""
        task.withhold_status = False
        if status is None and task.state == "held":
            # the Data-In went out already: send only the status (resending
            # the data from DataSN 0 would duplicate DataSNs)
            self._send_scsi_rsp(task)
            return
        if status is not None:
            task.result = Result(status)
        task.datain = []
        self._respond(task)

    # ---- TMF (RFC 7143 §11.5)
    def _tmf(self, pdu):
        s = self.session
        cfg = self.cfg
        fn = pdu.function
        lun = lun_number(pdu.lun)
        resp = 0
        after = None
        if fn in cfg.tmf_response:
            resp = cfg.tmf_response[fn]
            if resp is None:
                return  # withhold the TMF response
        elif fn == TMF_ABORT_TASK:
            t = s.tasks.get(pdu.rtt)
            if t is not None and t.state not in ("done", "aborted"):
                if t.lun != lun:
                    self.violation("ABORT TASK LUN %d != task LUN %d" % (lun, t.lun))
                if t.cmdsn != pdu.refcmdsn:
                    self.violation("ABORT TASK RefCmdSN 0x%x != task CmdSN 0x%x" % (
                        pdu.refcmdsn, t.cmdsn))
                t.state = "aborted"
                t.r2ts.clear()
            elif t is None and not sna_lt(pdu.refcmdsn, s.expcmdsn):
                resp = 0
            else:
                resp = 1
        elif fn in (TMF_ABORT_TASK_SET, TMF_CLEAR_TASK_SET, TMF_LUN_RESET):
            if lun not in self.target.disk.luns:
                resp = 2
            else:
                for t in s.tasks.values():
                    if t.lun == lun and t.state not in ("done", "aborted"):
                        t.state = "aborted"
                        t.r2ts.clear()
                if fn == TMF_LUN_RESET:
                    self.target.disk.set_unit_attention(lun, 0x29, 0x03)
        elif fn == TMF_CLEAR_ACA:
            resp = 0
        elif fn in (TMF_TARGET_WARM_RESET, TMF_TARGET_COLD_RESET):
            for sess in list(self.target.sessions):
                for t in sess.tasks.values():
                    if t.state not in ("done", "aborted"):
                        t.state = "aborted"
            self.target.disk.set_unit_attention(None, 0x29, 0x02 if fn == 6 else 0x01)
            if cfg.reset_drops:
                after = "drop"
        elif fn == TMF_TASK_REASSIGN:
            resp, after = self._reassign(pdu)
        else:
            resp = 255
        p = Pdu(OP_TMF_RSP, itt=pdu.itt, response=resp)
        self.send(p)
        if after == "drop":
            time.sleep(0.02)
            for sess in list(self.target.sessions):
                for c in list(sess.conns.values()):
                    c.call_soon(lambda cc: cc.close(rst=False))
        elif callable(after):
            after()

    def _reassign(self, pdu):
        s = self.session
        if s.erl < 2:
            return 4, None
        t = s.tasks.get(pdu.rtt)
        if t is None:
            return 1, None
        if t.conn is not self and t.conn.alive:
            return 3, None
        t.conn = self
        expdatasn = pdu.expdatasn

        def resume():
            self.log("task 0x%x reassigned (ExpDataSN=%d)" % (t.itt, expdatasn))
            if t.state == "data-out":
                t.r2ts.clear()
                t.next_r2t_offset = 0
                for a, b in t.missing():
                    self.send_r2t(t, a, b - a)
                self._maybe_execute(t)
                return
            if t.state in ("done", "held") and t.result is not None:
                for p in t.datain[expdatasn:]:
                    q = p.copy()
                    if not q.S:
                        q.keep_sn = "statsn"
                    self.send(q)
                if t.state == "held" or (t.status_pdu is not None
                                         and t.status_pdu.opcode == OP_SCSI_RSP):
                    t.withhold_status = False
                    self._send_scsi_rsp(t)
        return 0, resume

    # ---- Text (RFC 7143 §11.10), SendTargets (Appendix C)
    def _text(self, pdu):
        s = self.session
        cfg = self.cfg
        if pdu.ttt != RSVD_TAG:
            pend = self.text_pending.pop(pdu.ttt, None)
            if pend is None:
                self.violation("Text continuation with unknown TTT 0x%x" % pdu.ttt)
                self.send_reject(REJ_PROTOCOL_ERROR, pdu)
                return
            itt, chunks = pend
            if pdu.itt != itt:
                self.violation("Text continuation ITT 0x%x != first ITT 0x%x" % (pdu.itt, itt))
            self._send_text_chunks(pdu, chunks)
            return
        if pdu.C:
            self.text_accum[pdu.itt] = self.text_accum.get(pdu.itt, b"") + pdu.data
            ttt = s.new_ttt()
            self.text_pending[ttt] = (pdu.itt, [b""])
            p = Pdu(OP_TEXT_RSP, itt=pdu.itt, ttt=ttt, F=0, C=0)
            self.send(p)
            return
        data = self.text_accum.pop(pdu.itt, b"") + pdu.data
        keys = parse_text(data)
        other = []
        for k, v in keys:
            if k == "SendTargets":
                resp_data = self._send_targets(v)
            else:
                other.append((k, v))
        out = b""
        if any(k == "SendTargets" for k, _ in keys):
            out += resp_data
        if other:
            ans = self._negotiate(other, login=False)
            out += build_text(ans)
        split = cfg.text_split or self.peer_mrdsl
        split = max(1, min(split, self.peer_mrdsl))
        if cfg.text_split_mode == "keys":
            # whole key=value pairs per PDU (F=0, C=0, TTT set), at least one each
            chunks, cur = [], b""
            for item in out.split(b"\0")[:-1]:
                item += b"\0"
                if cur and len(cur) + len(item) > split:
                    chunks.append(cur)
                    cur = b""
                cur += item
            chunks = chunks + [cur] if cur or not chunks else chunks
        else:
            chunks = [out[i:i + split] for i in range(0, len(out), split)] or [b""]
        self._send_text_chunks(pdu, chunks)

    def _send_text_chunks(self, req, chunks):
        chunk = chunks.pop(0)
        s = self.session
        if chunks:
            ttt = s.new_ttt()
            self.text_pending[ttt] = (req.itt, chunks)
            p = Pdu(OP_TEXT_RSP, itt=req.itt, ttt=ttt, F=0,
                    C=int(self.cfg.text_split_mode != "keys"), data=chunk)
        else:
            p = Pdu(OP_TEXT_RSP, itt=req.itt, ttt=RSVD_TAG, F=1, C=0, data=chunk)
        self.send(p)

    def _send_targets(self, what):
        cfg = self.cfg
        s = self.session
        names = list(cfg.targets)
        if s.stype == "Normal":
            if what not in ("", None) and what != s.tname and what != "All":
                names = [n for n in names if n == what]
            elif what == "All":
                names = [s.tname]
        elif what not in ("All", "", None):
            names = [n for n in names if n == what]
        out = []
        for n in names:
            out.append(("TargetName", n))
            portals = cfg.portals
            if portals is None:
                host, port = self.sock.getsockname()[:2]
                hs = "[%s]" % host if ":" in host else host
                portals = ["%s:%d,%d" % (hs, port, cfg.portal_group_tag)]
            for a in portals:
                out.append(("TargetAddress", a))
        return build_text(out)

    # ---- Logout (RFC 7143 §11.14)
    def _logout(self, pdu):
        s = self.session
        cfg = self.cfg
        reason = pdu.reason_code
        resp = cfg.logout_response
        victim = None
        if reason == 0:
            victim = "session"
        elif reason in (1, 2):
            c = s.conns.get(pdu.cid)
            if c is None and pdu.cid in s.dead_cids:
                s.dead_cids.discard(pdu.cid)
            elif c is None and pdu.cid != self.cid:
                resp = resp or 1
            if reason == 2 and s.erl < 2:
                resp = resp or 2
            victim = c
        p = Pdu(OP_LOGOUT_RSP, itt=pdu.itt, response=resp, time2wait=cfg.time2wait,
                time2retain=cfg.time2retain)
        self.send(p)
        if resp != 0:
            return
        if victim == "session":
            if cfg.logout_close:
                time.sleep(0.01)
                self.target.remove_session(s, except_conn=self)
                self.close(rst=False)
                raise ConnClosed()
            return
        if victim is not None and victim is not self:
            victim.call_soon(lambda c: c.close(rst=True))
            if s.conns.get(pdu.cid) is victim:
                del s.conns[pdu.cid]
        elif victim is self and cfg.logout_close:
            time.sleep(0.01)
            self.close(rst=False)
            raise ConnClosed()

    # ---- SNACK (RFC 7143 §11.16)
    def _snack(self, pdu):
        s = self.session
        cfg = self.cfg
        if s.erl == 0:
            self.violation("SNACK at ERL 0")
            if cfg.snack_at_erl0 == "close":
                self.close(rst=True)
                raise ConnClosed()
            self.send_reject(REJ_PROTOCOL_ERROR, pdu)
            return
        typ = pdu.snack_type
        beg, run = pdu.begrun, pdu.runlength
        if typ == SNACK_STATUS:
            sns = sorted(self.status_history, key=lambda x: (x - beg) & 0xFFFFFFFF)
            sent = 0
            for sn in sns:
                if sna_lt(sn, beg) or (run and not sna_lt(sn, sna_add(beg, run))):
                    continue
                q = self.status_history[sn].copy()
                q.keep_sn = "statsn"
                self.send(q)
                sent += 1
            if not sent:
                self.send_reject(REJ_PROTOCOL_ERROR, pdu)
            return
        task = s.tasks.get(pdu.itt)
        if typ == SNACK_DATA_ACK:
            self.target.event("DataACK itt=0x%x begrun=%d" % (pdu.itt, beg))
            return
        if task is None:
            self.send_reject(REJ_PROTOCOL_ERROR, pdu)
            return
        if typ == SNACK_DATA_R2T:
            if task.read:
                lst = task.datain
                end = len(lst) if run == 0 else min(len(lst), beg + run)
                if beg >= len(lst):
                    self.send_reject(REJ_PROTOCOL_ERROR, pdu)
                    return
                for p in lst[beg:end]:
                    q = p.copy()
                    q.keep_sn = "statsn"
                    self.send(q)
            else:
                end = task.next_r2tsn if run == 0 else beg + run
                for sn in range(beg, end):
                    st = task.r2t_history.get(sn)
                    if st is None or st.pdu is None:
                        self.send_reject(REJ_PROTOCOL_ERROR, pdu)
                        return
                    q = st.pdu.copy()
                    q.keep_sn = "statsn"
                    self.send(q)
            return
        if typ == SNACK_RDATA:
            # resend everything from BegRun resegmented at the current MRDSL,
            # then a SCSI Response carrying the SNACK Tag (RFC 7143 §11.16.3)
            if not task.read or task.result is None:
                self.send_reject(REJ_PROTOCOL_ERROR, pdu)
                return
            old = task.datain
            startoff = old[beg].bufferoffset if beg < len(old) else 0
            data = task.result.data[:task.edtl]
            task.datain = list(old[:beg])
            seg = self.peer_mrdsl
            pos = startoff
            for _ in range(1 << 24):
                if pos >= len(data):
                    break
                n = min(seg, len(data) - pos)
                p = Pdu(OP_DATA_IN, lun=task.lun_raw, itt=task.itt, ttt=RSVD_TAG,
                        datasn=len(task.datain), bufferoffset=pos, data=data[pos:pos + n],
                        F=int(pos + n >= len(data)))
                task.datain.append(p)
                self.send(p)
                pos += n
            st = task.status_pdu
            rp = Pdu(OP_SCSI_RSP, itt=task.itt, response=0, status=task.result.status,
                     snacktag=pdu.ttt, expdatasn=len(task.datain))
            if st is not None:
                rp.U, rp.O, rp.residual = st.U, st.O, st.residual
            self.send(rp)
            return
        self.send_reject(REJ_PROTOCOL_ERROR, pdu)


# ------------------------------------------------------------ CHAP helpers
def chap_response(alg, ident, secret, challenge):
    """RFC 1994 response: H(identifier || secret || challenge)."""
    h = hashlib.new(alg)
    h.update(bytes([ident & 0xFF]) + secret + challenge)
    return h.digest()


def encode_chap(b, enc="hex"):
    if enc == "base64":
        return "0b" + base64.b64encode(b).decode()
    return "0x" + b.hex()


def decode_chap(s):
    if s[:2] in ("0x", "0X"):
        return bytes.fromhex(s[2:])
    if s[:2] in ("0b", "0B"):
        return base64.b64decode(s[2:], validate=True)
    raise ValueError("bad CHAP binary value")


# ------------------------------------------------------------ target
class FakeTarget:
    """The scripted target.  FakeTarget(**Config options); start() -> port."""

    def __init__(self, config=None, **kw):
        self.cfg = config if config is not None else Config(**kw)
        self.disk = Disk({n: v for n, v in self.cfg.luns.items()}, self.cfg.block_size,
                         self.cfg.descriptor_sense)
        self.stopping = threading.Event()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.records = []
        self.events = []
        self.violations = []
        self.internal_errors = []
        self.chap_log = []
        self.sessions = []
        self.conns = []
        self.recv_hooks = []
        self.send_hooks = []
        self.cmd_hooks = []
        self.login_hooks = []
        self.ffp_hooks = []
        self.listeners = []
        self.threads = []
        self.next_conn_id = 1
        self.next_tsih = self.cfg.tsih_start
        self.redirects_done = 0
        self.forced_status_done = 0
        self.login_attempts = 0
        self.last_initiator_challenge = None
        self.port = None
        self.port6 = None

    # ---- lifecycle
    def start(self):
        cfg = self.cfg
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((cfg.host, cfg.port))
        ls.listen(16)
        self.port = ls.getsockname()[1]
        self.listeners.append(ls)
        if cfg.ipv6:
            l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            l6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            l6.bind(("::1", self.port))
            l6.listen(16)
            self.port6 = self.port
            self.listeners.append(l6)
        for l in self.listeners:
            l.settimeout(0.05)
            th = threading.Thread(target=self._accept_loop, args=(l,), daemon=True,
                                  name="fake-accept")
            th.start()
            self.threads.append(th)
        self.event("listening on %s:%d" % (cfg.host, self.port))
        return self.port

    def stop(self, timeout=3.0):
        """Stop accepting, close every connection, join threads (bounded)."""
        self.stopping.set()
        for l in self.listeners:
            try:
                l.close()
            except OSError:
                pass
        for c in list(self.conns):
            c.close(rst=False)
        deadline = time.monotonic() + timeout
        for th in self.threads + list(self.conns):
            th.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *a):
        self.stop()

    def _accept_loop(self, ls):
        while not self.stopping.is_set():
            try:
                sock, peer = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                cid = self.next_conn_id
                self.next_conn_id += 1
                c = Connection(self, sock, peer, cid)
                self.conns.append(c)
                self.cond.notify_all()
            self.event("c%d: accepted from %s" % (cid, peer[:2]))
            c.start()

    # ---- sessions
    def new_tsih(self):
        with self.lock:
            t = self.next_tsih
            self.next_tsih = (self.next_tsih + 1) & 0xFFFF or 1
            return t

    def add_session(self, s):
        with self.lock:
            self.sessions.append(s)
            self.cond.notify_all()

    def find_session(self, isid, tsih, iname=None, tname=None):
        with self.lock:
            for s in self.sessions:
                if s.isid != isid or s.closed:
                    continue
                if tsih is not None and s.tsih != tsih:
                    continue
                if iname is not None and s.iname != iname:
                    continue
                if tname is not None and s.tname != tname:
                    continue
                return s
        return None

    def remove_session(self, s, except_conn=None):
        with self.lock:
            s.closed = True
            if s in self.sessions:
                self.sessions.remove(s)
        for c in list(s.conns.values()):
            if c is not except_conn:
                c.call_soon(lambda cc: cc.close(rst=True))

    # ---- recording
    def record(self, direction, conn, pdu, raw, note=""):
        rec = Record(direction, conn.id, conn.cid, pdu, raw, note)
        with self.lock:
            self.records.append(rec)
            self.cond.notify_all()
        if self.cfg.verbose:
            sys.stderr.write("%s c%d %s %s\n" % ("<-" if direction == "in" else "->",
                                                 conn.id, note, pdu))
        return rec

    def event(self, msg):
        with self.lock:
            self.events.append((time.monotonic(), msg))
        if self.cfg.verbose:
            sys.stderr.write("[fake] %s\n" % msg)

    def violation(self, msg):
        with self.lock:
            self.violations.append(msg)
        self.event("VIOLATION " + msg)

    # ---- queries
    def pdus(self, direction=None, opcode=None, conn=None, where=None, include_unsent=False):
        """Recorded PDUs (Pdu objects) filtered by direction ('in'/'out'),
        opcode, connection id and predicate where(pdu)."""
        return [r.pdu for r in self.recs(direction, opcode, conn, where, include_unsent)]

    def recs(self, direction=None, opcode=None, conn=None, where=None, include_unsent=False):
        with self.lock:
            rs = list(self.records)
        out = []
        for r in rs:
            if r.pdu is None:
                continue
            if direction and r.direction != direction:
                continue
            if opcode is not None and r.pdu.opcode != opcode:
                continue
            if conn is not None and r.conn != conn:
                continue
            if not include_unsent and r.note in ("dropped", "skipped"):
                continue
            if where is not None and not where(r.pdu):
                continue
            out.append(r)
        return out

    def received(self, opcode=None, **kw):
        return self.pdus("in", opcode, **kw)

    def sent(self, opcode=None, **kw):
        return self.pdus("out", opcode, **kw)

    def last_received(self, opcode=None, **kw):
        r = self.received(opcode, **kw)
        return r[-1] if r else None

    def last_sent(self, opcode=None, **kw):
        r = self.sent(opcode, **kw)
        return r[-1] if r else None

    def wait_for(self, pred, timeout=5.0):
        """Wait (bounded) until pred() is true; returns its last value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return v
                self.cond.wait(min(left, 0.05))

    def wait_pdu(self, direction, opcode, where=None, count=1, timeout=5.0):
        """Wait until count matching PDUs were recorded; returns the list."""
        r = self.wait_for(lambda: len(self.pdus(direction, opcode, where=where)) >= count
                          and self.pdus(direction, opcode, where=where), timeout)
        return r or []

    def live_conns(self):
        return [c for c in self.conns if c.alive]

    def ffp_conns(self):
        return [c for c in self.conns if c.alive and c.state == "ffp"]

    def wait_ffp(self, count=1, timeout=5.0):
        return self.wait_for(lambda: len(self.ffp_conns()) >= count and self.ffp_conns(),
                             timeout)

    def conn(self, which=-1):
        """A live FFP connection (default: the newest)."""
        cs = self.ffp_conns()
        return cs[which] if cs else None

    # ---- hooks
    def _add(self, lst, item):
        lst.append(item)

        def remove():
            if item in lst:
                lst.remove(item)
        return remove

    def on_recv(self, fn, opcode=None):
        """fn(conn, pdu) for every received PDU before processing; return DROP
        (ignore it) or HANDLED (already handled).  Returns a remover."""
        return self._add(self.recv_hooks, (opcode, fn))

    def before_send(self, fn, opcode=None):
        """fn(conn, pdu) before every sent PDU (fields are final, StatSN
        assigned); mutate pdu, or return DROP, HOLD, Delay(s), Truncate(n, rst)
        or a list of Pdu/bytes to send instead.  Returns a remover."""
        return self._add(self.send_hooks, (opcode, fn))

    def on_command(self, fn):
        """fn(conn, task) for every new SCSI command; set Task attributes or
        return HANDLED.  Returns a remover."""
        return self._add(self.cmd_hooks, fn)

    def on_login(self, fn):
        """fn(conn, request_pdu, response_pairs) -> new pairs or None."""
        return self._add(self.login_hooks, fn)

    def on_ffp(self, fn):
        """fn(conn) when a connection enters full feature phase."""
        return self._add(self.ffp_hooks, fn)

    # ---- actions from the test thread (run in the connection thread)
    def _on(self, conn, fn):
        c = conn if conn is not None else self.conn()
        if c is None:
            raise RuntimeError("no connection in full feature phase")
        c.call_soon(fn)
        return c

    def send_async(self, event, conn=None, **kw):
        return self._on(conn, lambda c: c.send_async(event, **kw))

    def send_nop_in(self, conn=None, **kw):
        return self._on(conn, lambda c: c.send_nop_in(**kw))

    def send_pdu(self, pdu, conn=None):
        return self._on(conn, lambda c: c.send(pdu))

    def send_reject(self, reason, bad_pdu=None, conn=None):
        return self._on(conn, lambda c: c.send_reject(reason, bad_pdu))

    def drop(self, conn=None, rst=True):
        return self._on(conn, lambda c: c.close(rst=rst))

    def set_window(self, window, announce=True, conn=None):
        """Change the CmdSN window (0 = closed: MaxCmdSN = ExpCmdSN-1); with
        announce, send an unsolicited NOP-In carrying the new values."""
        def f(c):
            c.session.window = window
            if announce:
                c.send_nop_in()
        return self._on(conn, f)


# ------------------------------------------------------------ named scripts
def _once(fn):
    state = {"done": False}

    def wrapper(*a):
        if state["done"]:
            return None
        r = fn(*a)
        if r is not None:
            state["done"] = True
        return r
    return wrapper


def script_drop_after_login(t, rst=True):
    """Reset (RST) the first connection right after its final login response."""
    @_once
    def ffp(c):
        c.schedule(0.05, lambda cc: cc.close(rst=rst))
        return True
    t.on_ffp(ffp)


def script_datasn_gap(t, skip=1):
    """The first read with > skip Data-In PDUs skips DataSN `skip` (ERL 1: the
    PDU is still retransmittable on a Data SNACK)."""
    @_once
    def cmd(c, task):
        if task.read and task.edtl > c.peer_mrdsl * skip:
            task.skip_datasn = {skip}
            task.separate_status = True
            return True
    t.on_command(lambda c, task: (cmd(c, task), None)[1])


def script_async_logout(t, after=0.2, wait=5):
    """Async event 1 (logout requested, Parameter3 = wait) after login."""
    @_once
    def ffp(c):
        if c.session.stype == "Normal":
            c.schedule(after, lambda cc: cc.send_async(1, param3=wait))
            return True
    t.on_ffp(ffp)


def script_redirect_once(t, status=(1, 1)):
    """The first login is redirected (0x0101) to this same portal."""
    t.cfg.redirect = "%s:%d,%d" % (t.cfg.host, t.port or t.cfg.port, t.cfg.portal_group_tag)
    t.cfg.redirect_status = status
    t.cfg.redirect_count = 1


def script_window_zero_then_open(t, after=0.5, window=32):
    """Login with a zero CmdSN window; reopen it after `after` s by NOP-In."""
    t.cfg.cmd_window = 0

    def ffp(c):
        def reopen(cc):
            cc.session.window = window
            cc.send_nop_in()
        c.schedule(after, reopen)
    t.on_ffp(ffp)


def script_nop_storm(t, interval=0.05, drop_after=3):
    """Target pings every `interval` s and drops after `drop_after` misses."""
    t.cfg.nop_interval = interval
    t.cfg.nop_drop_after = drop_after


def script_hdigest_corrupt_once(t):
    """Corrupt the header digest of the first SCSI Response / Data-In."""
    @_once
    def bs(c, p):
        if c.hd and p.opcode in (OP_SCSI_RSP, OP_DATA_IN):
            p.corrupt_hdigest = True
            return True
    t.before_send(lambda c, p: (bs(c, p), None)[1])


def script_reject_first_command(t, reason=REJ_PROTOCOL_ERROR):
    """Reject the first SCSI Command (with its BHS) instead of executing it."""
    @_once
    def rh(c, p):
        if p.opcode == OP_SCSI_CMD:
            c.session.expcmdsn = sna_add(c.session.expcmdsn, 1)
            c.send_reject(reason, p)
            return HANDLED
    t.on_recv(lambda c, p: rh(c, p))


def script_status_withheld(t):
    """Never send status for the first SCSI command (its task stays live)."""
    @_once
    def cmd(c, task):
        task.withhold_status = True
        return True
    t.on_command(lambda c, task: (cmd(c, task), None)[1])


SCRIPTS = {
    "plain": (lambda t: None, "no faults"),
    "drop-after-login": (script_drop_after_login, script_drop_after_login.__doc__),
    "datasn-gap": (script_datasn_gap, script_datasn_gap.__doc__),
    "async-logout": (script_async_logout, script_async_logout.__doc__),
    "redirect-once": (script_redirect_once, script_redirect_once.__doc__),
    "window-zero-then-open": (script_window_zero_then_open,
                              script_window_zero_then_open.__doc__),
    "nop-storm": (script_nop_storm, script_nop_storm.__doc__),
    "hdigest-corrupt-once": (script_hdigest_corrupt_once, script_hdigest_corrupt_once.__doc__),
    "reject-first-command": (script_reject_first_command, script_reject_first_command.__doc__),
    "status-withheld": (script_status_withheld, script_status_withheld.__doc__),
}


def apply_script(t, name, **kw):
    """Install a named script on a started or not-yet-started target."""
    if name not in SCRIPTS:
        raise KeyError("unknown script %r (have: %s)" % (name, ", ".join(sorted(SCRIPTS))))
    SCRIPTS[name][0](t, **kw)


# ------------------------------------------------------------ CLI
def main(argv=None):
    ap = argparse.ArgumentParser(description="scripted fake iSCSI target")
    ap.add_argument("--port", type=int, default=3260)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ipv6", action="store_true", help="also listen on ::1")
    ap.add_argument("--script", default="plain", help="one of: " + ", ".join(sorted(SCRIPTS)))
    ap.add_argument("--list-scripts", action="store_true")
    ap.add_argument("--target", default=Config.DEFAULTS["target_name"])
    ap.add_argument("--luns", default="0:16384", help="lun:blocks[,lun:blocks]")
    ap.add_argument("--block-size", type=int, default=512)
    ap.add_argument("--chap", help="user:secret (one-way CHAP required)")
    ap.add_argument("--mutual", help="user:secret the target answers mutual CHAP with")
    ap.add_argument("--digest", choices=["none", "crc32c", "both"], default="none")
    ap.add_argument("--erl", type=int, default=2)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--duration", type=float, default=0, help="exit after N s (0: forever)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.list_scripts:
        for n in sorted(SCRIPTS):
            print("%-24s %s" % (n, (SCRIPTS[n][1] or "").strip().splitlines()[0]))
        return 0
    luns = {}
    for item in a.luns.split(","):
        n, b = item.split(":")
        luns[int(n)] = int(b)
    kw = dict(host=a.host, port=a.port, ipv6=a.ipv6, target_name=a.target, luns=luns,
              block_size=a.block_size, cmd_window=a.window, verbose=a.verbose,
              params={"ErrorRecoveryLevel": str(a.erl)})
    if a.chap:
        u, s = a.chap.split(":", 1)
        kw.update(auth="chap", chap_user=u, chap_secret=s)
    if a.mutual:
        u, s = a.mutual.split(":", 1)
        kw.update(mutual_user=u, mutual_secret=s)
    if a.digest != "none":
        kw.update(header_digest=("CRC32C", "None"), data_digest=("CRC32C", "None"))
        if a.digest == "both":
            kw.update(digest_choice="target")
    t = FakeTarget(**kw)
    port = t.start()
    apply_script(t, a.script)
    print("fake iSCSI target %s listening on %s:%d script=%s" % (a.target, a.host, port,
                                                                 a.script), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *x: stop.set())
    signal.signal(signal.SIGINT, lambda *x: stop.set())
    deadline = time.monotonic() + a.duration if a.duration else None
    while not stop.is_set():
        if deadline and time.monotonic() > deadline:
            break
        stop.wait(0.2)
    t.stop()
    print("stopped: %d PDUs recorded, %d violations" % (len(t.records), len(t.violations)))
    for v in t.violations:
        print("  violation:", v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
