#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Smoke test of the nitro-enclaves QEMU device model, driven over qtest.

QEMU runs with -accel qtest, so this script plays the guest: it programs the
BARs and MSI-X through PCI config space, pokes the BAR 3 registers and sees
MSI-X messages land in guest RAM. A fake emulator on the device socket (in
this process) plays the other side of emulator/ne_wire.h, including its
failure modes. With --emulator, one more group runs against the real
ne-emulator. QMP covers query-pci, hotplug/unplug and realize failures.

Output is TAP; exit status is non-zero on any failure.
"""

import argparse
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

# From module/ne_proto.h and emulator/ne_wire.h (parsed, not repeated).
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def header_defines(path):
    defs = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)U?\b', line)
            if m:
                defs[m.group(1)] = int(m.group(2), 0)
            m = re.match(r'\s*(NE_\w+)\s*=\s*(\d+),', line)
            if m:
                defs[m.group(1)] = int(m.group(2))
    return defs


P = header_defines(os.path.join(ROOT, 'module', 'ne_proto.h'))
P.update(header_defines(os.path.join(ROOT, 'emulator', 'ne_wire.h')))

HDR = struct.Struct('<IHHII')          # struct ne_wire_hdr
REPLY_HEAD = struct.Struct('<II')      # struct ne_wire_reply: len, reserved
EIO = 5

# Guest-physical layout chosen by this test (q35, -m 128M).
BAR3_ADDR = 0xe0000000
MSIX_ADDR = 0xe0010000
MSI_TARGET = [0x100000, 0x100040]      # guest RAM written by vector 0 / 1
MSI_DATA = [0x4e450000, 0x4e450001]
NE_SLOT = 5

_tap_n = 0
_tap_fail = 0


def tap(ok, desc):
    global _tap_n, _tap_fail
    _tap_n += 1
    if not ok:
        _tap_fail += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', _tap_n, desc), flush=True)
    return ok


def wait_for(fn, timeout=5.0, step=0.01):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


class TestError(Exception):
    pass


# ---------------------------------------------------------------- QMP

class QMP:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        end = time.monotonic() + 10
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self.f = self.sock.makefile('rw')
        self.events = []
        self._read()                    # greeting
        self.cmd('qmp_capabilities')

    def _read(self):
        line = self.f.readline()
        if not line:
            raise TestError('QMP connection closed')
        return json.loads(line)

    def execute(self, name, **args):
        """Returns (result, error-desc or None)."""
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.f.write(json.dumps(msg) + '\n')
        self.f.flush()
        while True:
            r = self._read()
            if 'event' in r:
                self.events.append(r)
            elif 'error' in r:
                return None, r['error']['desc']
            elif 'return' in r:
                return r['return'], None

    def cmd(self, name, **args):
        r, err = self.execute(name, **args)
        if err is not None:
            raise TestError('QMP %s: %s' % (name, err))
        return r

    def wait_event(self, name, timeout=10):
        end = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e['event'] == name:
                    return self.events.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                m = self._read()
                if 'event' in m:
                    self.events.append(m)

    def hmp(self, line):
        return self.cmd('human-monitor-command', **{'command-line': line})


# ---------------------------------------------------------------- qtest

class QTest:
    def __init__(self, listener):
        listener.settimeout(10)
        self.sock, _ = listener.accept()
        self.sock.settimeout(10)
        self.f = self.sock.makefile('rw')

    def _cmd(self, line):
        self.f.write(line + '\n')
        self.f.flush()
        r = self.f.readline().strip()
        if not r.startswith('OK'):
            raise TestError('qtest %r -> %r' % (line, r))
        return r[3:]

    OPS = {1: 'b', 2: 'w', 4: 'l', 8: 'q'}

    def read(self, width, addr):
        return int(self._cmd('read%s 0x%x' % (self.OPS[width], addr)), 16)

    def write(self, width, addr, val):
        self._cmd('write%s 0x%x 0x%x' % (self.OPS[width], addr, val))

    def memread(self, addr, size):
        return bytes.fromhex(self._cmd('read 0x%x 0x%x' % (addr, size))[2:])

    def memwrite(self, addr, data):
        self._cmd('write 0x%x 0x%x 0x%s' % (addr, len(data), data.hex()))

    # Legacy PCI config mechanism #1 (0xcf8/0xcfc), bus 0 only.
    def cfg_addr(self, slot, off):
        self._cmd('outl 0xcf8 0x%x' % (0x80000000 | slot << 11 | (off & 0xfc)))

    def cfg_read(self, slot, off, width):
        self.cfg_addr(slot, off)
        op = {1: 'inb', 2: 'inw', 4: 'inl'}[width]
        return int(self._cmd('%s 0x%x' % (op, 0xcfc + (off & 3))), 16)

    def cfg_write(self, slot, off, width, val):
        self.cfg_addr(slot, off)
        op = {1: 'outb', 2: 'outw', 4: 'outl'}[width]
        self._cmd('%s 0x%x 0x%x' % (op, 0xcfc + (off & 3), val))


# ---------------------------------------------------------------- fake emulator

class FakeEmu:
    """The emulator's side of the wire protocol, one connection at a time."""

    def __init__(self, path):
        self.path = path
        self.lsock = socket.socket(socket.AF_UNIX)
        self.lsock.bind(path)
        self.lsock.listen(4)
        self.conn = None
        self.buf = b''

    def accept(self, timeout=10):
        r, _, _ = select.select([self.lsock], [], [], timeout)
        if not r:
            raise TestError('device did not connect to the fake emulator')
        self.conn, _ = self.lsock.accept()
        self.buf = b''

    def _fill(self, n, timeout):
        end = time.monotonic() + timeout
        while len(self.buf) < n:
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.conn], [], [], left)
            if r:
                d = self.conn.recv(65536)
                if not d:
                    raise EOFError
                self.buf += d
        return True

    def recv(self, timeout=5):
        if not self._fill(HDR.size, timeout):
            raise TestError('no frame from the device')
        magic, typ, rsv, fid, ln = HDR.unpack(self.buf[:HDR.size])
        if not self._fill(HDR.size + ln, timeout):
            raise TestError('truncated frame from the device')
        payload = self.buf[HDR.size:HDR.size + ln]
        self.buf = self.buf[HDR.size + ln:]
        return magic, typ, rsv, fid, payload

    def send(self, typ, fid, payload=b'', magic=None):
        magic = P['NE_WIRE_MAGIC'] if magic is None else magic
        self.conn.sendall(HDR.pack(magic, typ, 0, fid, len(payload)) + payload)

    def hello(self, version=None):
        magic, typ, rsv, fid, pl = self.recv()
        ok = (magic == P['NE_WIRE_MAGIC'] and typ == P['NE_WIRE_HELLO'] and
              fid == 0 and rsv == 0 and len(pl) == 8 and
              struct.unpack('<II', pl) == (P['NE_WIRE_VERSION'], 0))
        v = P['NE_WIRE_VERSION'] if version is None else version
        self.send(P['NE_WIRE_HELLO'], 0, struct.pack('<II', v, 0))
        return ok

    def reply(self, fid, data, rlen=None):
        rlen = len(data) if rlen is None else rlen
        body = REPLY_HEAD.pack(rlen, 0) + data.ljust(P['NE_RECV_DATA_SIZE'],
                                                     b'\0')
        self.send(P['NE_WIRE_REPLY'], fid, body)

    def event(self):
        self.send(P['NE_WIRE_EVENT'], 0)

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def wait_eof(self, timeout=5):
        try:
            while self._fill(len(self.buf) + 1, timeout):
                pass
        except (EOFError, ConnectionResetError):
            return True
        return False

    def stop(self):
        self.close()
        self.lsock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


# ---------------------------------------------------------------- QEMU

class Qemu:
    def __init__(self, binary, tmp, name, chardev_args, extra=()):
        self.tmp = tmp
        self.qmp_path = os.path.join(tmp, name + '.qmp')
        self.qtest_path = os.path.join(tmp, name + '.qtest')
        self.log_path = os.path.join(tmp, name + '.log')
        self.glog_path = os.path.join(tmp, name + '.guest-errors')
        qt = socket.socket(socket.AF_UNIX)
        qt.bind(self.qtest_path)
        qt.listen(1)
        args = [binary, '-M', 'q35', '-accel', 'qtest', '-nodefaults',
                '-display', 'none', '-m', '128M',
                '-qtest', 'unix:' + self.qtest_path, '-qtest-log', '/dev/null',
                '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
                '-d', 'guest_errors', '-D', self.glog_path,
                # Native PCIe hotplug: an unplug from a powered-off slot
                # completes without a guest (ACPI hotplug would wait for one).
                '-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
                '-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=1,'
                'addr=0x10',
                '-device', 'pcie-root-port,id=rp2,bus=pcie.0,chassis=2,'
                'addr=0x11']
        args += chardev_args + list(extra)
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        try:
            self.qtest = QTest(qt)
        finally:
            qt.close()
        self.qmp = QMP(self.qmp_path)

    def alive(self):
        if self.proc.poll() is not None:
            return False
        try:
            return self.qmp.cmd('query-status')['status'] is not None
        except (TestError, OSError):
            return False

    def stderr(self):
        with open(self.log_path) as f:
            return f.read()

    def guest_errors(self):
        try:
            with open(self.glog_path) as f:
                return f.read()
        except OSError:
            return ''

    def quit(self):
        try:
            self.qmp.execute('quit')
        except (TestError, OSError):
            pass
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# ---------------------------------------------------------------- device access

class Dev:
    """The guest's view of the device at bus 0 slot NE_SLOT."""

    def __init__(self, q):
        self.q = q

    def setup(self):
        """Assign BARs, enable memory + bus mastering and MSI-X."""
        q = self.q
        q.cfg_write(NE_SLOT, 0x10 + 4 * P['NE_PCI_BAR'], 4, BAR3_ADDR)
        q.cfg_write(NE_SLOT, 0x10, 4, MSIX_ADDR)
        q.cfg_write(NE_SLOT, 0x04, 2, 0x0006)
        cap = self.msix_cap()
        for v in range(2):
            e = MSIX_ADDR + 16 * v
            q.write(4, e, MSI_TARGET[v])
            q.write(4, e + 4, 0)
            q.write(4, e + 8, MSI_DATA[v])
            q.write(4, e + 12, 0)           # unmasked
            q.write(4, MSI_TARGET[v], 0)
        ctl = q.cfg_read(NE_SLOT, cap + 2, 2)
        q.cfg_write(NE_SLOT, cap + 2, 2, (ctl | 0x8000) & ~0x4000)

    def msix_cap(self):
        q = self.q
        if not q.cfg_read(NE_SLOT, 0x06, 2) & 0x10:
            return None
        ptr = q.cfg_read(NE_SLOT, 0x34, 1)
        while ptr:
            if q.cfg_read(NE_SLOT, ptr, 1) == 0x11:
                return ptr
            ptr = q.cfg_read(NE_SLOT, ptr + 1, 1)
        return None

    def reg(self, name, width):
        return self.q.read(width, BAR3_ADDR + P[name])

    def wreg(self, name, width, val):
        self.q.write(width, BAR3_ADDR + P[name], val)

    def evtcnt(self):
        v = self.reg('NE_REG_EVTCNT', 4)
        return v & P['NE_EVTCNT_REPLY_MASK'], v >> P['NE_EVTCNT_EVENT_SHIFT']

    def msi(self, v):
        """True if vector v fired since the last call (then re-arms it)."""
        hit = self.q.read(4, MSI_TARGET[v]) == MSI_DATA[v]
        if hit:
            self.q.write(4, MSI_TARGET[v], 0)
        return hit

    def send(self, data):
        self.q.memwrite(BAR3_ADDR + P['NE_REG_SEND_DATA'], data)

    def recv(self, n=P['NE_RECV_DATA_SIZE']):
        return self.q.memread(BAR3_ADDR + P['NE_REG_RECV_DATA'], n)

    def command(self, cmd):
        self.wreg('NE_REG_COMMAND', 4, cmd)

    def wait_replies(self, n, timeout=5):
        return wait_for(lambda: self.evtcnt()[0] == n, timeout)

    def wait_events(self, n, timeout=5):
        return wait_for(lambda: self.evtcnt()[1] == n, timeout)


def rc_of(reply):
    return struct.unpack_from('<i', reply)[0]


# ---------------------------------------------------------------- groups

def chardev_args(path, reconnect=True):
    spec = 'socket,id=ne0,path=' + path
    if reconnect:
        spec += ',reconnect-ms=1000'
    return ['-chardev', spec,
            '-device', 'nitro-enclaves,chardev=ne0,id=ne0,addr=0x%x' % NE_SLOT]


def group_fake(binary, tmp):
    """Register semantics and the wire protocol against a fake emulator."""
    emu = FakeEmu(os.path.join(tmp, 'fake.sock'))
    qemu = Qemu(binary, tmp, 'fake', chardev_args(emu.path))
    q = qemu.qtest
    d = Dev(q)
    try:
        emu.accept()
        tap(emu.hello(), 'device sends HELLO{version %d} on connect'
            % P['NE_WIRE_VERSION'])

        pci = qemu.qmp.cmd('query-pci')[0]['devices']
        ne = [x for x in pci if x['id']['vendor'] == P['NE_PCI_VENDOR_ID'] and
              x['id']['device'] == P['NE_PCI_DEVICE_ID']]
        tap(len(ne) == 1 and ne[0]['slot'] == NE_SLOT,
            'query-pci lists 1d0f:e4c1 at slot %d' % NE_SLOT)
        bars = {r['bar']: r for r in ne[0]['regions']} if ne else {}
        b3 = bars.get(P['NE_PCI_BAR'], {})
        tap(b3.get('type') == 'memory' and b3.get('size') == P['NE_PCI_BAR_SIZE'],
            'BAR 3 is a 4 KiB memory BAR')
        tap(0 in bars and bars[0].get('type') == 'memory',
            'MSI-X lives in its own BAR 0')
        cap = d.msix_cap()
        ok = cap is not None
        if ok:
            ctl = q.cfg_read(NE_SLOT, cap + 2, 2)
            table = q.cfg_read(NE_SLOT, cap + 4, 4)
            pba = q.cfg_read(NE_SLOT, cap + 8, 4)
            ok = (ctl & 0x7ff) + 1 == P['NE_VEC_COUNT'] and \
                table & 7 == 0 and pba & 7 == 0
        tap(ok, 'MSI-X capability with %d vectors, table and PBA in BAR 0'
            % P['NE_VEC_COUNT'])

        d.setup()
        # Handshake as the driver does it (spec 5.8).
        d.wreg('NE_REG_ENABLE', 1, P['NE_ENABLE_OFF'])
        e0 = d.reg('NE_REG_ENABLE', 1)
        d.wreg('NE_REG_VERSION', 2, P['NE_VERSION_MAX'])
        v = d.reg('NE_REG_VERSION', 2)
        d.wreg('NE_REG_ENABLE', 1, P['NE_ENABLE_ON'])
        e1 = d.reg('NE_REG_ENABLE', 1)
        tap((e0, v, e1) == (0, 1, 1), 'ENABLE/VERSION handshake reads back '
            '(got %r)' % ((e0, v, e1),))

        pat = bytes((i * 7 + 3) & 0xff for i in range(P['NE_SEND_DATA_SIZE']))
        d.send(pat)
        q.write(8, BAR3_ADDR + P['NE_REG_SEND_DATA'] + 8, 0x1122334455667788)
        exp = pat[:8] + struct.pack('<Q', 0x1122334455667788) + pat[16:]
        tap(q.memread(BAR3_ADDR + P['NE_REG_SEND_DATA'], len(exp)) == exp and
            q.read(2, BAR3_ADDR + P['NE_REG_SEND_DATA'] + 9) == 0x6677,
            'SEND_DATA reads back, any width and alignment')

        # A command round trip.
        d.command(P['NE_CMD_SLOT_ALLOC'])
        magic, typ, rsv, fid, pl = emu.recv()
        ctype, crsv = struct.unpack_from('<II', pl)
        tap(typ == P['NE_WIRE_CMD'] and fid != 0 and len(pl) == 248 and
            ctype == P['NE_CMD_SLOT_ALLOC'] and crsv == 0 and pl[8:] == exp,
            'COMMAND sends CMD{type, whole send window} with a non-zero id')
        tap(d.evtcnt() == (0, 0) and not d.msi(0),
            'no completion before the reply')
        full = bytes([0xaa]) * P['NE_RECV_DATA_SIZE']
        emu.reply(fid, full)
        tap(d.wait_replies(1) and d.msi(0) and not d.msi(1) and
            d.recv() == full, 'REPLY fills RECV_DATA, counts, fires vector 0')

        d.command(P['NE_CMD_SLOT_INFO'])
        fid2 = emu.recv()[3]
        rep = struct.pack('<iIQQ', -22, 0, 0x1234, 0x10)
        emu.reply(fid2, rep, rlen=len(rep))
        tap(fid2 != fid and d.wait_replies(2) and d.msi(0) and
            d.recv() == rep.ljust(P['NE_RECV_DATA_SIZE'], b'\0'),
            'a short reply zero-fills RECV_DATA past its length; fresh id')

        # Stale ids: an EVENT after the reply proves the reply was handled.
        d.command(P['NE_CMD_SLOT_COUNT'])
        fid3 = emu.recv()[3]
        emu.reply(fid3 + 1000, full)
        emu.event()
        tap(d.wait_events(1) and d.evtcnt()[0] == 2 and d.msi(1) and
            not d.msi(0), 'a reply with a stale id is dropped; EVENT fires '
            'vector 1')
        emu.reply(fid3, rep)
        tap(d.wait_replies(3), 'the matching reply still completes')

        # A second COMMAND supersedes the first.
        d.command(P['NE_CMD_SLOT_COUNT'])
        d.command(P['NE_CMD_NEXT_SLOT'])
        a, b = emu.recv()[3], emu.recv()[3]
        emu.reply(a, full)
        emu.event()
        ok = d.wait_events(2) and d.evtcnt()[0] == 3
        emu.reply(b, rep)
        tap(ok and d.wait_replies(4) and d.recv()[:len(rep)] == rep,
            'a resubmitted command drops the superseded reply')
        d.msi(0)
        d.msi(1)

        # Guest mistakes: logged, ignored, QEMU keeps running.
        before = d.recv(16)
        d.wreg('NE_REG_EVTCNT', 4, 0xffffffff)
        q.write(4, BAR3_ADDR + P['NE_REG_RECV_DATA'], 0xdeadbeef)
        q.write(4, BAR3_ADDR + 0x8, 1)
        q.write(4, BAR3_ADDR + 0xffc, 1)
        q.write(4, BAR3_ADDR + P['NE_REG_ENABLE'], 7)
        q.write(2, BAR3_ADDR + P['NE_REG_COMMAND'], 1)
        q.write(8, BAR3_ADDR + P['NE_REG_SEND_DATA'] + 236, 1)
        junk = [q.read(4, BAR3_ADDR + 0x8), q.read(4, BAR3_ADDR + 0x800),
                q.read(4, BAR3_ADDR + P['NE_REG_COMMAND']),
                q.read(4, BAR3_ADDR + P['NE_REG_VERSION'])]
        tap(d.evtcnt() == (4, 2) and d.recv(16) == before and
            d.reg('NE_REG_ENABLE', 1) == 1 and junk == [0, 0, 0, 0] and
            qemu.alive(), 'writes to RO/unknown registers and bad widths '
            'are ignored')
        tap(wait_for(lambda: 'read-only' in qemu.guest_errors() and
                     'bad write' in qemu.guest_errors(), 2),
            'guest mistakes are reported as guest_errors')
        tap('stale' in qemu.guest_errors() or 'dropping reply' in
            qemu.guest_errors(), 'stale replies are logged')

        # Reset clears registers and forgets the pending command.
        d.command(P['NE_CMD_SLOT_INFO'])
        fid4 = emu.recv()[3]
        qemu.qmp.cmd('system_reset')
        qemu.qmp.wait_event('RESET')
        d.setup()
        regs = (d.reg('NE_REG_ENABLE', 1), d.reg('NE_REG_VERSION', 2),
                d.evtcnt(), d.recv(8), d.reg('NE_REG_SEND_DATA', 4))
        emu.reply(fid4, full)
        emu.event()
        tap(regs == (0, 0, (0, 0), bytes(8), 0) and d.wait_events(1) and
            d.evtcnt()[0] == 0,
            'system_reset clears registers; the old reply is dropped')
        d.msi(1)

        # The emulator goes away with a command pending.
        d.command(P['NE_CMD_SLOT_ALLOC'])
        emu.recv()
        emu.close()
        tap(d.wait_replies(1) and rc_of(d.recv()) == -EIO and d.msi(0),
            'disconnect with a command pending completes it with -EIO')

        # Reconnect (reconnect-ms) and HELLO again.
        emu.accept()
        tap(emu.hello(), 'the device reconnects and sends HELLO again')
        d.command(P['NE_CMD_SLOT_COUNT'])
        fid5 = emu.recv()[3]
        emu.reply(fid5, rep)
        tap(d.wait_replies(2) and d.recv()[:len(rep)] == rep,
            'commands work after reconnecting')

        # Wrong version: QEMU hangs up; commands fail locally meanwhile.
        emu.close()
        emu.accept()
        emu.hello(version=P['NE_WIRE_VERSION'] + 1)
        hung_up = emu.wait_eof()
        d.command(P['NE_CMD_SLOT_COUNT'])
        tap(hung_up and d.wait_replies(3) and rc_of(d.recv()) == -EIO and
            'wire version' in qemu.stderr(),
            'a wrong HELLO version is rejected with an error, then -EIO')

        # Garbage on the wire.
        emu.accept()
        emu.hello()
        d.command(P['NE_CMD_SLOT_COUNT'])
        emu.recv()
        emu.send(P['NE_WIRE_REPLY'], 1, b'x' * 8, magic=0x12345678)
        tap(emu.wait_eof() and d.wait_replies(4) and
            rc_of(d.recv()) == -EIO and 'protocol error' in qemu.stderr(),
            'a bad magic drops the link and fails the pending command')
        emu.accept()
        emu.hello()
        emu.send(P['NE_WIRE_REPLY'], 1, b'\0' * 4)
        ok = emu.wait_eof()
        emu.accept()
        emu.hello()
        emu.send(9, 0)
        ok = ok and emu.wait_eof()
        emu.accept()
        emu.hello()
        emu.send(P['NE_WIRE_EVENT'], 0, b'\0' * (P['NE_WIRE_MAX_PAYLOAD'] + 1))
        ok = ok and emu.wait_eof()
        emu.accept()
        emu.hello()
        emu.reply(1, b'', rlen=P['NE_RECV_DATA_SIZE'] + 1)
        tap(ok and emu.wait_eof() and qemu.alive(),
            'short REPLY, unknown type, oversized frame, bad reply len: '
            'link dropped, QEMU alive')

        # Frames split at odd boundaries are reassembled.
        emu.accept()
        emu.hello()
        d.command(P['NE_CMD_SLOT_COUNT'])
        fid6 = emu.recv()[3]
        frame = HDR.pack(P['NE_WIRE_MAGIC'], P['NE_WIRE_REPLY'], 0, fid6,
                         8 + 240) + REPLY_HEAD.pack(len(rep), 0) + \
            rep.ljust(240, b'\0') + HDR.pack(P['NE_WIRE_MAGIC'],
                                             P['NE_WIRE_EVENT'], 0, 0, 0)
        for i in range(0, len(frame), 7):
            emu.conn.sendall(frame[i:i + 7])
            time.sleep(0.001)
        tap(d.wait_replies(5) and d.wait_events(2) and
            d.recv()[:len(rep)] == rep, 'frames split into 7-byte pieces '
            'are reassembled')

        # No emulator at all: the socket file is gone.
        emu.stop()
        time.sleep(0.5)
        d.command(P['NE_CMD_SLOT_ALLOC'])
        tap(d.wait_replies(6) and rc_of(d.recv()) == -EIO and qemu.alive(),
            'no emulator: COMMAND completes at once with -EIO; QEMU alive')
    finally:
        emu.stop()
        rc = qemu.quit()
    tap(rc == 0, 'QEMU quits cleanly (status %r)' % rc)


def group_backpressure(binary, tmp):
    """An emulator that stops reading must not stall the vCPU."""
    emu = FakeEmu(os.path.join(tmp, 'slow.sock'))
    qemu = Qemu(binary, tmp, 'slow', chardev_args(emu.path, reconnect=False))
    d = Dev(qemu.qtest)
    try:
        emu.accept()
        emu.hello()
        d.setup()
        # The socket buffer fills first, then the device's own buffer;
        # after that a COMMAND completes locally with -EIO.
        sent = worst = 0
        failed = False
        for sent in range(1, 5001):
            t0 = time.monotonic()
            d.command(P['NE_CMD_SLOT_COUNT'])
            worst = max(worst, time.monotonic() - t0)
            if d.evtcnt()[0]:
                failed = rc_of(d.recv()) == -EIO
                break
        tap(failed and worst < 0.5 and qemu.alive(),
            'emulator not reading: COMMAND %d fails with -EIO, slowest '
            'write %.0f ms' % (sent, worst * 1000))
        ids = []
        try:
            while True:
                magic, typ, _, fid, pl = emu.recv(timeout=1)
                if magic != P['NE_WIRE_MAGIC'] or typ != P['NE_WIRE_CMD'] or \
                   len(pl) != 248:
                    break
                ids.append(fid)
        except TestError:
            pass
        tap(len(ids) == sent - 1 and ids == sorted(set(ids)),
            'once the emulator reads, the %d queued CMD frames arrive intact '
            'and in order (got %d)' % (sent - 1, len(ids)))
        d.command(P['NE_CMD_SLOT_COUNT'])
        fid = emu.recv()[3]
        emu.reply(fid, struct.pack('<i', 0))
        tap(d.wait_replies(2) and rc_of(d.recv()) == 0,
            'commands complete normally after the backlog drained')
    finally:
        emu.stop()
        rc = qemu.quit()
    tap(rc == 0, 'QEMU quits cleanly (status %r)' % rc)


def group_qmp(binary, tmp):
    """Hotplug/unplug (exercises exit) and realize failures."""
    emu = FakeEmu(os.path.join(tmp, 'hot.sock'))
    emu0 = FakeEmu(os.path.join(tmp, 'cold.sock'))
    qemu = Qemu(binary, tmp, 'qmp', chardev_args(emu0.path, reconnect=False))
    qmp = qemu.qmp
    try:
        emu0.accept()
        emu0.hello()

        def hot_present():
            # query-pci cannot see behind the root port: without firmware
            # its secondary bus number is never assigned. Ask QOM instead.
            r, err = qmp.execute('qom-get', path='/machine/peripheral/nehot',
                                 property='realized')
            return err is None and r is True

        ok = True
        for i in range(2):
            qmp.cmd('chardev-add', id='ne1', backend={
                'type': 'socket', 'data': {
                    'addr': {'type': 'unix', 'data': {'path': emu.path}},
                    'server': False}})
            emu.accept()
            qmp.cmd('device_add', driver='nitro-enclaves', id='nehot',
                    bus='rp1', chardev='ne1')
            added = emu.hello() and hot_present()
            qmp.cmd('device_del', id='nehot')
            ev = qmp.wait_event('DEVICE_DELETED')
            gone = not hot_present()
            _, err = qmp.execute('chardev-remove', id='ne1')
            ok = ok and added and ev is not None and gone and err is None
            emu.wait_eof()
            emu.close()
        tap(ok and qemu.alive(), 'device_add/device_del of a second instance, '
            'twice; its chardev is released')

        _, err = qmp.execute('device_add', driver='nitro-enclaves', id='bad',
                             bus='rp2')
        tap(err is not None and 'chardev' in err,
            'device_add without chardev fails: %s' % err)
        _, err = qmp.execute('device_add', driver='nitro-enclaves', id='bad',
                             bus='rp2', chardev='nosuch')
        tap(err is not None, 'device_add with an unknown chardev fails')
        _, err = qmp.execute('device_add', driver='nitro-enclaves', id='bad',
                             bus='rp2', chardev='ne0')
        tap(err is not None and qemu.alive(),
            'a chardev already in use is refused')

        _, err = qmp.execute('migrate', uri='exec:cat >/dev/null')
        tap(err is not None and 'emulator' in err,
            'migration is blocked with a reason: %s' % err)
    finally:
        emu.stop()
        emu0.stop()
        rc = qemu.quit()
    tap(rc == 0, 'QEMU quits cleanly (status %r)' % rc)

    r = subprocess.run([binary, '-M', 'q35', '-accel', 'qtest', '-nodefaults',
                        '-display', 'none', '-device', 'nitro-enclaves'],
                       capture_output=True, text=True, timeout=30)
    tap(r.returncode != 0 and "'chardev' is required" in r.stderr,
        '-device nitro-enclaves without chardev: clear startup error')


def group_emulator(binary, tmp, emulator, ctl):
    """A round trip through the real ne-emulator."""
    dsock = os.path.join(tmp, 'emu-dev.sock')
    csock = os.path.join(tmp, 'emu-ctl.sock')
    elog = open(os.path.join(tmp, 'emulator.log'), 'w')
    ep = subprocess.Popen([emulator, '--device-socket', dsock,
                           '--control-socket', csock],
                          stdout=elog, stderr=elog)
    if not wait_for(lambda: os.path.exists(dsock) and os.path.exists(csock)):
        ep.kill()
        tap(False, 'ne-emulator starts')
        return
    qemu = Qemu(binary, tmp, 'real', chardev_args(dsock, reconnect=False))
    d = Dev(qemu.qtest)

    def emuctl(*args):
        r = subprocess.run([ctl, '--socket', csock] + list(args),
                           capture_output=True, text=True, timeout=10)
        return r.returncode, r.stdout

    try:
        d.setup()
        d.send(bytes(P['NE_SEND_DATA_SIZE']))
        d.command(P['NE_CMD_SLOT_ALLOC'])
        ok = d.wait_replies(1) and d.msi(0)
        rc, uid, cid, cnt, regions = struct.unpack_from('<i4xQQQQ', d.recv())
        tap(ok and rc == 0 and uid != 0 and regions > 0,
            'SLOT_ALLOC through ne-emulator: rc 0, slot %#x, %d regions'
            % (uid, regions))
        st, out = emuctl('trace')
        tap(st == 0 and 'cmd=SLOT_ALLOC' in out, 'ne-emu-ctl trace shows it')
        d.send(struct.pack('<Q', uid))
        d.command(P['NE_CMD_SLOT_FREE'])
        tap(d.wait_replies(2) and rc_of(d.recv()) == 0, 'SLOT_FREE: rc 0')
        st, _ = emuctl('event', '3')
        tap(st == 0 and d.wait_events(3) and d.msi(1),
            'ne-emu-ctl event 3: three events, vector 1')
        st, _ = emuctl('fault', 'rc', 'SLOT_ALLOC', '-28')
        d.command(P['NE_CMD_SLOT_ALLOC'])
        tap(st == 0 and d.wait_replies(3) and rc_of(d.recv()) == -28,
            'an injected fault rc comes back in RECV_DATA')
        ep.terminate()
        ep.wait(10)
        d.command(P['NE_CMD_SLOT_ALLOC'])
        tap(d.wait_replies(4) and rc_of(d.recv()) == -EIO and qemu.alive(),
            'ne-emulator exits: -EIO, QEMU alive')
    finally:
        if ep.poll() is None:
            ep.kill()
            ep.wait()
        rc = qemu.quit()
    tap(rc == 0, 'QEMU quits cleanly (status %r)' % rc)


def group_boot(binary, tmp, kernel):
    """Firmware check: SeaBIOS + direct -kernel boot sees the device."""
    sock = os.path.join(tmp, 'boot.sock')
    emu = FakeEmu(sock)
    args = [binary, '-M', 'q35', '-accel', 'tcg', '-nodefaults', '-m', '512M',
            '-display', 'none', '-serial', 'stdio', '-no-reboot',
            '-kernel', kernel, '-append', 'console=ttyS0 panic=-1 loglevel=7 '
            'no_timer_check',  # TCG on a loaded host fails the IO-APIC check
            '-chardev', 'socket,id=ne0,path=' + sock,
            '-device', 'nitro-enclaves,chardev=ne0']
    try:
        p = subprocess.Popen(args, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        emu.accept()
        emu.hello()
        out = ''
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        seen = re.search(r'\[1d0f:e4c1\]', out) is not None
        tap('Linux version' in out and seen,
            '-kernel boot (no -L) reaches Linux, which enumerates 1d0f:e4c1')
        if not seen:
            sys.stderr.write(out[-3000:])
    finally:
        emu.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--emulator')
    ap.add_argument('--emu-ctl')
    ap.add_argument('--kernel')
    ap.add_argument('--keep', action='store_true')
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix='ne-qemu-test.')
    groups = [('fake emulator', lambda: group_fake(a.qemu, tmp)),
              ('backpressure', lambda: group_backpressure(a.qemu, tmp)),
              ('QMP', lambda: group_qmp(a.qemu, tmp))]
    if a.emulator and a.emu_ctl:
        groups.append(('ne-emulator', lambda: group_emulator(
            a.qemu, tmp, a.emulator, a.emu_ctl)))
    if a.kernel:
        groups.append(('boot', lambda: group_boot(a.qemu, tmp, a.kernel)))
    print('TAP version 13', flush=True)
    for name, fn in groups:
        print('# %s' % name, flush=True)
        try:
            fn()
        except (TestError, OSError, EOFError, subprocess.SubprocessError) as e:
            tap(False, '%s: aborted: %s: %s' % (name, type(e).__name__, e))
    print('1..%d' % _tap_n)
    if _tap_fail or a.keep:
        print('# logs kept in %s' % tmp, flush=True)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if _tap_fail else 0


if __name__ == '__main__':
    sys.exit(main())
