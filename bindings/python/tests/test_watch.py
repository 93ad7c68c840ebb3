#
# test_watch.py: the sandbox watch and the kernel integrity watch through
# the libvirt_clone module.
#
# Without a guest: a real tap device of our own (the host receives what is
# written into its file descriptor, as it receives a guest's transmit), named
# as the <target dev> of a running domain of libvirt's test driver
# (test:///default): the watch's events come through the binding's callback
# from the library's thread.  Those need root (TUNSETIFF, CAP_NET_RAW).
# With the real test guest (fixtures in conftest.py): an integrity watch on a
# clone of the shared source, which reports END through the callback when the
# clone is destroyed.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
import fcntl
import gc
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time

import libvirt
import pytest

import libvirt_clone as lc

TUNSETIFF = 0x400454ca
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

need_root = pytest.mark.skipif(os.geteuid() != 0,
                               reason="needs root: tap devices and packet sockets")


class Tap:
    """A tap device lvcpy<pid><suffix>, up; it disappears when closed."""

    def __init__(self, suffix):
        self.name = "lvcpy%d%s" % (os.getpid(), suffix)
        self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.ioctl(self.fd, TUNSETIFF,
                        struct.pack("16sH22x", self.name.encode(), IFF_TAP | IFF_NO_PI))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH22x", self.name.encode(), 0))
                flags = struct.unpack("16sH22x", ifr)[1]
                fcntl.ioctl(s, SIOCSIFFLAGS,
                            struct.pack("16sH22x", self.name.encode(), flags | IFF_UP))
        except OSError:
            os.close(self.fd)
            raise

    def send_udp(self, dst, port):
        """What a guest sends: an Ethernet frame with a UDP datagram."""
        payload = b"libvirt-clone"
        udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         socket.inet_aton("10.0.2.15"), socket.inet_aton(dst))
        csum = sum(struct.unpack("!10H", ip))
        csum = (csum & 0xffff) + (csum >> 16)
        ip = ip[:10] + struct.pack("!H", ~csum & 0xffff) + ip[12:]
        frame = (bytes.fromhex("525400123456") + bytes.fromhex("525400abcdef") +
                 struct.pack("!H", 0x0800) + ip + udp)
        os.write(self.fd, frame)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Collector:
    """A watch callback that queues (dom, event, opaque) and may raise."""

    def __init__(self, raise_first=False):
        self.events = queue.Queue()
        self.raise_first = raise_first
        self.threads = set()

    def __call__(self, dom, event, opaque):
        self.threads.add(threading.get_ident())
        self.events.put((dom, event, opaque))
        if self.raise_first:
            self.raise_first = False
            raise RuntimeError("a callback that fails")

    def get(self, timeout, want=None):
        """The next event (of type @want), within @timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("no %s event within %s s" % (want or "", timeout))
            try:
                item = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if want is None or item[1].type == want:
                return item


class Opaque:
    pass


@pytest.fixture
def testconn():
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


def test_watch_constants():
    # the values of libvirt-clone.h
    assert lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC == 0
    assert lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST == 1
    assert lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_END == 2
    assert lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY == 3
    assert lc.VIR_DOMAIN_CLONE_INTEGRITY_ALERT == 0
    assert lc.VIR_DOMAIN_CLONE_INTEGRITY_PAUSE == 1
    assert lc.VIR_DOMAIN_CLONE_INTEGRITY_DESTROY == 2
    assert lc.VIR_DOMAIN_CLONE_INTEGRITY_FORCE == 1
    assert [str(t) for t in lc.SandboxEventType] == ["traffic", "lost", "end", "integrity"]
    assert lc.SandboxEventType.END == lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_END
    assert "%s %d" % (lc.SandboxEventType.LOST, lc.SandboxEventType.LOST) == "lost 1"
    assert lc.sandbox_event_type_to_string(lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY) == \
        "integrity"
    assert lc.sandbox_event_type_to_string(42) is None
    assert lc.sandbox_event_type_to_string(-1) is None
    for n in ("sandbox_watch", "sandbox_watch_devices", "integrity_watch", "sandbox_unwatch",
              "SandboxEvent", "SandboxEventType", "VIR_DOMAIN_CLONE_INTEGRITY_FORCE"):
        assert n in lc.__all__
    # an event of a type newer than the module keeps its int
    assert lc.SandboxEvent(type=9).type == 9


def test_watch_argument_errors(testconn):
    cb = Collector()
    with pytest.raises(TypeError):
        lc.sandbox_watch("not a domain", cb)
    with pytest.raises(TypeError):
        lc.sandbox_watch(None, cb)
    with pytest.raises(TypeError):
        lc.integrity_watch(42, cb)
    dom = testconn.lookupByName("test")
    with pytest.raises(TypeError):
        lc.sandbox_watch(dom, "not callable")
    with pytest.raises(TypeError):
        lc.integrity_watch(dom, None)
    with pytest.raises(OverflowError):
        lc.integrity_watch(dom, cb, interval_ms=-1)
    with pytest.raises(TypeError):
        lc.sandbox_watch_devices("x", "lo", cb)       # a str, not a list
    with pytest.raises(TypeError):
        lc.sandbox_watch_devices("x", [1], cb)
    with pytest.raises(TypeError):
        lc.sandbox_unwatch("1")


def test_watch_library_errors(testconn):
    """The library's refusals, as libvirtCloneError; a refused watch keeps
    no reference to the callback or the opaque."""
    dom = testconn.lookupByName("test")
    cb = Collector()
    opaque = object()
    refs = (sys.getrefcount(cb), sys.getrefcount(opaque))

    # test:///default's "test" is not a clone
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.integrity_watch(dom, cb, opaque=opaque)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_OPERATION_INVALID
    assert "domain 'test' is not a clone" in str(ei.value)
    for action in (3, -1):
        with pytest.raises(lc.libvirtCloneError) as ei:
            lc.integrity_watch(dom, cb, action=action, opaque=opaque,
                               flags=lc.VIR_DOMAIN_CLONE_INTEGRITY_FORCE)
        assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
        assert "unknown integrity action %d" % action in str(ei.value)
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.integrity_watch(dom, cb, flags=1 << 7)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
    # its NIC's testnet0 does not exist on this host
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.sandbox_watch(dom, cb, opaque)
    assert "cannot find network device 'testnet0' of clone 'test'" in str(ei.value)
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.sandbox_watch(dom, cb, opaque, flags=1)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.sandbox_watch_devices("x", [], cb, opaque)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.sandbox_watch_devices("x", ["lvcpy-nonexistent"], cb, opaque)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_SYSTEM
    assert "lvcpy-nonexistent" in str(ei.value)
    # an ID no watch has
    for wid in (0, -5, 2**31 - 1):
        with pytest.raises(lc.libvirtCloneError) as ei:
            lc.sandbox_unwatch(wid)
        assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
        assert "there is no sandbox watch with ID %d" % wid in str(ei.value)
    assert (sys.getrefcount(cb), sys.getrefcount(opaque)) == refs
    assert not lc._watches


@need_root
def test_sandbox_watch_tap(testconn, monkeypatch):
    """A running domain of the test driver whose NIC is our tap: a frame
    written into the tap comes to the callback as a TRAFFIC event, in the
    watch's thread; an exception in the callback does not stop the watch;
    the tap's end is END; unwatch releases the callback, the opaque and the
    domain object, and a second unwatch fails."""
    tap = Tap("a")
    name = "pyw-%d" % os.getpid()
    dom = testconn.createXML(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os>"
        "<devices><interface type='ethernet'><target dev='%s' managed='no'/></interface>"
        "</devices></domain>" % (name, tap.name), 0)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    cb = Collector(raise_first=True)
    opaque = Opaque()
    refs = (sys.getrefcount(cb), sys.getrefcount(opaque), sys.getrefcount(dom))
    wid = None
    try:
        wid = lc.sandbox_watch(dom, cb, opaque)
        assert wid > 0 and wid in lc._watches
        # the watch holds the callback, the opaque and the domain object
        assert (sys.getrefcount(cb), sys.getrefcount(opaque), sys.getrefcount(dom)) == \
            (refs[0] + 1, refs[1] + 1, refs[2] + 1)

        tap.send_udp("10.0.2.2", 4242)
        got_dom, ev, got_opaque = cb.get(5, lc.SandboxEventType.TRAFFIC)
        assert got_dom is dom and got_opaque is opaque
        assert isinstance(ev, lc.SandboxEvent)
        assert (ev.clone, ev.device, ev.protocol, ev.dst_addr, ev.dst_port, ev.count) == \
            (name, tap.name, "udp", "10.0.2.2", 4242, 1)
        assert ev.dst_mac == "52:54:00:12:34:56"
        assert ev.integrity is None and ev.action is None
        assert abs(ev.time_ms / 1000 - time.time()) < 60
        assert "udp" in repr(ev)
        # the first call raised: reported, not propagated
        assert len(unraisable) == 1
        assert isinstance(unraisable[0].exc_value, RuntimeError)
        assert unraisable[0].object is cb
        assert threading.get_ident() not in cb.threads

        # the watch goes on: a new destination is a new event
        tap.send_udp("10.0.2.3", 53)
        _, ev, _ = cb.get(5, lc.SandboxEventType.TRAFFIC)
        assert (ev.dst_addr, ev.dst_port) == ("10.0.2.3", 53)

        tap.close()
        _, ev, _ = cb.get(10, lc.SandboxEventType.END)
        assert ev.clone == name and ev.device is None
        assert str(ev.type) == "end"
        assert len(unraisable) == 1

        lc.sandbox_unwatch(wid)
        assert wid not in lc._watches
        unwatched, wid = wid, None
        # the watch's references are gone (ours, the queue's and the
        # report's are dropped first)
        del got_dom, got_opaque, _, ev
        unraisable.clear()
        cb.events = queue.Queue()
        assert (sys.getrefcount(cb), sys.getrefcount(opaque), sys.getrefcount(dom)) == refs
        # and each event was freed once the callback and the queue let go
        gc.collect()
        assert not [o for o in gc.get_objects() if isinstance(o, lc.SandboxEvent)]
        with pytest.raises(lc.libvirtCloneError) as ei:
            lc.sandbox_unwatch(unwatched)
        assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
    finally:
        if wid is not None:
            lc.sandbox_unwatch(wid)
        tap.close()
        dom.destroy()


@need_root
def test_sandbox_watch_devices_unwatch_in_callback():
    """A watch of devices (the callback gets None for the domain) whose
    callback unwatches its own watch: no event follows, the references go."""
    tap = Tap("b")
    done = threading.Event()
    seen = []

    def cb(dom, event, opaque):
        seen.append((dom, event.type, opaque[0]))
        lc.sandbox_unwatch(opaque[0])
        done.set()

    opaque = []
    refs = sys.getrefcount(opaque)
    try:
        wid = lc.sandbox_watch_devices("pyw-devices", [tap.name], cb, opaque)
        opaque.append(wid)
        tap.send_udp("10.0.2.2", 4242)
        assert done.wait(5)
        tap.send_udp("10.0.2.4", 4243)
        # the watch's thread frees it after the callback returned
        deadline = time.monotonic() + 5
        while sys.getrefcount(opaque) != refs and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sys.getrefcount(opaque) == refs
        time.sleep(0.3)
        assert seen == [(None, lc.SandboxEventType.TRAFFIC, wid)]
        assert wid not in lc._watches
        with pytest.raises(lc.libvirtCloneError):
            lc.sandbox_unwatch(wid)
    finally:
        tap.close()


@need_root
def test_watch_left_at_exit():
    """A watch the program does not unwatch is unwatched at exit: its free
    callback runs while the interpreter can still take it, and drops the
    opaque (whose __del__ then runs)."""
    tap = Tap("c")
    script = """
import sys
import libvirt_clone as lc
class Opaque:
    def __del__(self):
        print("opaque freed", flush=True)
wid = lc.sandbox_watch_devices("pyw-exit", [sys.argv[1]], lambda d, e, o: None, Opaque())
print("watching", wid, flush=True)
"""
    try:
        out = subprocess.run([sys.executable, "-c", script, tap.name], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60)
    finally:
        tap.close()
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split("\n")[1:] == ["opaque freed", ""], out.stdout
    assert out.stderr == b""


# ---- on a running guest --------------------------------------------------------

def test_integrity_watch_end(source, clones):
    """The source (not a clone) is refused; an integrity watch with ALERT on
    a clone reports END through the callback once the clone is destroyed;
    unwatch works once."""
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.integrity_watch(source.dom, Collector())
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_OPERATION_INVALID

    clone = lc.clone_live(source.dom)
    clones.append(clone)
    name = clone.name()
    cb = Collector()
    wid = lc.integrity_watch(clone, cb, interval_ms=500,
                             action=lc.VIR_DOMAIN_CLONE_INTEGRITY_ALERT, opaque="o")
    try:
        clone.destroy()
        # the first event: an idle clone's kernel differs from no baseline
        got_dom, ev, opaque = cb.get(15)
        assert ev.type == lc.SandboxEventType.END, ev
        assert got_dom is clone and opaque == "o"
        assert ev.clone == name and ev.integrity is None
        assert cb.events.empty()
    finally:
        lc.sandbox_unwatch(wid)
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.sandbox_unwatch(wid)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
