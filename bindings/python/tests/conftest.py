#
# Fixtures for the libvirt_clone tests: libvirt's embedded QEMU driver in a
# root of our own, with its event loop in a thread, and the real test guest
# of tests/guest/ (Debian's kernel, busybox and the clonetest workload).
#
# Environment (meson sets TG_GUEST_DIR):
#   TG_GUEST_DIR   <builddir>/tests/guest: vmlinuz, initramfs.img, accel,
#                  guest-domain-xml; without it the tests that need a guest
#                  are skipped
#   TG_ROOT_BASE   where the root is made (default /var/tmp; QEMU's UNIX
#                  sockets live under it, so keep it short)
#   TG_ACCEL       kvm|qemu: overrides TG_GUEST_DIR/accel
#   TG_KEEP=1      keep the root (serial logs, libvirt.log, QEMU logs)
#   TG_BOOT_TIMEOUT  seconds to wait for "CLONETEST ready" (default 180)
#
# libvirt binds its embedded driver to the first root a process opens, for
# the life of the process: one root and one connection per pytest session.
# QEMU processes outlive ours, so a reaper process kills them and removes
# the root if pytest ends without cleaning up (crash, timeout kill).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import pytest

GUEST_DIR = os.environ.get("TG_GUEST_DIR", "")
KEEP = os.environ.get("TG_KEEP") == "1"
BOOT_TIMEOUT = float(os.environ.get("TG_BOOT_TIMEOUT") or 180)

# The root exists before libvirt initialises (at "import libvirt"), so that
# libvirt's own log, which it opens then, goes into it and not to stderr.
ROOT = tempfile.mkdtemp(prefix="pyc-", dir=os.environ.get("TG_ROOT_BASE") or "/var/tmp")
if "LIBVIRT_LOG_OUTPUTS" not in os.environ and "LIBVIRT_DEBUG" not in os.environ:
    os.environ["LIBVIRT_LOG_OUTPUTS"] = "3:file:%s/libvirt.log" % ROOT

import libvirt  # noqa: E402


def pytest_unconfigure(config):
    if not KEEP:
        shutil.rmtree(ROOT, ignore_errors=True)


# ---- reaper --------------------------------------------------------------------

_REAPER = r"""
import os, shutil, signal, sys, time
root = sys.argv[1]
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
sys.stdin.buffer.read()          # EOF: the test process has ended
if os.path.isdir(root):
    rundir = os.path.join(root, "run", "qemu")
    for ent in (os.listdir(rundir) if os.path.isdir(rundir) else []):
        if not ent.endswith(".pid"):
            continue
        try:
            pid = int(open(os.path.join(rundir, ent)).read().strip())
            cmd = open("/proc/%d/cmdline" % pid, "rb").read()
        except (OSError, ValueError):
            continue
        if pid > 1 and root.encode() in cmd:
            os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    shutil.rmtree(root, ignore_errors=True)
"""


def _start_reaper(root):
    if KEEP:
        return None
    return subprocess.Popen([sys.executable, "-c", _REAPER, root],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


# ---- the embedded driver -------------------------------------------------------

class EventLoop:
    """libvirt's default event loop, run in a daemon thread."""

    def __init__(self):
        libvirt.virEventRegisterDefaultImpl()
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virevent", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._quit.is_set():
            if libvirt.virEventRunDefaultImpl() < 0:
                time.sleep(0.1)

    def stop(self):
        self._quit.set()
        # a 0 ms timer makes the loop's current iteration return
        libvirt.virEventAddTimeout(0, lambda timer, opaque: libvirt.virEventRemoveTimeout(timer),
                                   None)
        self._thread.join(10)


def _copy_dir(src, dst):
    if not os.path.isdir(src):
        return
    os.makedirs(dst, exist_ok=True)
    for ent in os.listdir(src):
        s = os.path.join(src, ent)
        if not os.path.isfile(s):
            continue
        tmp = os.path.join(dst, "%s.%d.tmp" % (ent, os.getpid()))
        try:
            shutil.copyfile(s, tmp)
            os.replace(tmp, os.path.join(dst, ent))
        except OSError:
            if os.path.exists(tmp):
                os.unlink(tmp)


class Env:
    """One embedded-driver root: ROOT/etc/qemu.conf, ROOT/images, the
    connection, the event loop."""

    def __init__(self, root, guest_dir):
        self.root = root
        self.guest_dir = os.path.realpath(guest_dir)
        for f in ("vmlinuz", "initramfs.img"):
            if not os.path.isfile(os.path.join(self.guest_dir, f)):
                raise RuntimeError("no %s in %s: build the test guest first" % (f, self.guest_dir))
        self.images = os.path.join(root, "images")
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        os.makedirs(self.images, exist_ok=True)
        # the embedded driver reads ROOT/etc/qemu.conf
        with open(os.path.join(root, "etc", "qemu.conf"), "w") as f:
            f.write('user = "root"\ngroup = "root"\nstdio_handler = "file"\n')
        self._counter = 0
        self.reaper = _start_reaper(root)
        # libvirt probes QEMU's capabilities (seconds): reuse the cache the
        # C tests keep in TG_GUEST_DIR/qemu-caps (libvirt re-probes by itself
        # when QEMU or libvirt changed)
        _copy_dir(os.path.join(self.guest_dir, "qemu-caps"),
                  os.path.join(root, "cache", "qemu", "capabilities"))
        # libvirt-python prints every libvirt error to stderr by default; the
        # tests look at the exceptions instead
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        self.loop = EventLoop()
        self.conn = libvirt.open("qemu:///embed?root=%s" % root)

    def unique_name(self, prefix):
        self._counter += 1
        return "%s-%d-%d" % (prefix, os.getpid(), self._counter)

    def close(self):
        for dom in self.conn.listAllDomains(0):
            discard_domain(dom)
        self.conn.close()
        self.loop.stop()
        _copy_dir(os.path.join(self.root, "cache", "qemu", "capabilities"),
                  os.path.join(self.guest_dir, "qemu-caps"))
        if not KEEP:
            shutil.rmtree(self.root, ignore_errors=True)
        if self.reaper:
            self.reaper.stdin.close()
            self.reaper.wait(30)


def _xml_files(dom, xpath_attr):
    """Values of attributes in the domain's live XML, e.g. the overlays the
    clone metadata names, and serial log files."""
    try:
        root = ET.fromstring(dom.XMLDesc(0))
    except libvirt.libvirtError:
        return []
    out = []
    for elem_name, attr in xpath_attr:
        for e in root.iter():
            if e.tag.split("}")[-1] == elem_name and e.get(attr):
                out.append(e.get(attr))
    return out


def clone_files(dom):
    """The files a clone owns: the overlays named in its metadata
    (<clone:base overlay=...>) and its serial log."""
    return _xml_files(dom, [("base", "overlay"), ("log", "file")])


def discard_domain(dom, files=()):
    """Destroy and undefine @dom and delete the files it owns (clone_files)
    and @files.  Errors are ignored: it may be gone already."""
    files = set(files) | set(clone_files(dom))
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass
    try:
        if dom.isPersistent():
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    except libvirt.libvirtError:
        pass
    for f in files:
        try:
            os.unlink(f)
        except OSError:
            pass


# ---- guests --------------------------------------------------------------------

def domain_xml(env, name, memory_mib, buffer_mib, disk, log):
    """The domain of every test guest (tests/guest/domainxml.c, through
    guest-domain-xml), with the accelerator detect-accel.sh found."""
    cmd = [os.path.join(env.guest_dir, "guest-domain-xml"), "--guest-dir", env.guest_dir,
           "--name", name, "--memory", str(memory_mib), "--genid",
           "--workload", "clonetest.mode=idle clonetest.mib=%d" % buffer_mib,
           "--disk", disk, "--log", log]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode != 0:
        raise RuntimeError("guest-domain-xml: %s" % out.stderr.decode().strip())
    return out.stdout.decode()


class Guest:
    """A test guest: a 64 MiB qcow2 disk, a persistent domain, its serial
    log.  start=False leaves it defined and shut off."""

    def __init__(self, env, prefix="src", memory_mib=256, buffer_mib=16, start=True):
        self.env = env
        self.name = env.unique_name(prefix)
        self.disk = os.path.join(env.images, self.name + ".qcow2")
        self.log = os.path.join(env.root, self.name + "-serial.log")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", self.disk, "64M"],
                       check=True)
        xml = domain_xml(env, self.name, memory_mib, buffer_mib, self.disk, self.log)
        self.dom = env.conn.defineXML(xml)
        if start:
            self.dom.create()
            self.wait_serial(r"CLONETEST ready", BOOT_TIMEOUT)

    def wait_serial(self, regex, timeout, log=None):
        return wait_serial(self.dom, log or self.log, regex, timeout)

    def remove(self):
        # its disk chain: the original image and the source's new tops,
        # which the library puts beside it (NAME-vda.STAMP.qcow2)
        discard_domain(self.dom)
        for ent in os.listdir(self.env.images):
            if ent == self.name + ".qcow2" or ent.startswith(self.name + "-"):
                os.unlink(os.path.join(self.env.images, ent))
        if os.path.exists(self.log):
            os.unlink(self.log)


def wait_serial(dom, log, regex, timeout):
    """Wait until a line of @log matches @regex; returns the line.  Fails
    early when the domain stops."""
    pat = re.compile(regex.encode())
    deadline = time.monotonic() + timeout
    while True:
        active = dom.isActive()
        try:
            with open(log, "rb") as f:
                data = f.read()
            # complete lines only: the console writes a line a character
            # at a time, and @regex may match the start of one
            for line in data[:data.rfind(b"\n") + 1].splitlines():
                if pat.search(line):
                    return line.decode(errors="replace")
        except FileNotFoundError:
            pass
        if not active:
            pytest.fail("%s stopped while waiting for /%s/ in %s" % (dom.name(), regex, log))
        if time.monotonic() > deadline:
            tail = b""
            if os.path.exists(log):
                tail = b"\n".join(open(log, "rb").read().splitlines()[-8:])
            pytest.fail("%s: no /%s/ in %s after %d s; it ends:\n%s" %
                        (dom.name(), regex, log, timeout, tail.decode(errors="replace")))
        time.sleep(0.1)


def serial_log(dom):
    logs = _xml_files(dom, [("log", "file")])
    return logs[0] if logs else None


# ---- fixtures ------------------------------------------------------------------

@pytest.fixture(scope="session")
def env():
    if not GUEST_DIR:
        pytest.skip("TG_GUEST_DIR is not set (meson test sets it to <builddir>/tests/guest)")
    e = Env(ROOT, GUEST_DIR)
    yield e
    e.close()


@pytest.fixture(scope="session")
def conn(env):
    return env.conn


@pytest.fixture(scope="session")
def source(env):
    """A running test guest shared by all the tests (each clone or template
    moves it onto a new overlay; it keeps running): one boot per session."""
    g = Guest(env)
    yield g
    g.remove()


class CloneList(list):
    """The clones a test made, with their files as they were when added
    (a reaped clone no longer tells)."""

    def append(self, dom):
        super().append((dom, clone_files(dom)))


@pytest.fixture
def templates():
    """A list for the templates a test makes; each is deleted afterwards
    (after the clones of the fixture below, when a test asks for this one
    first).  Errors are ignored: it may be gone already."""
    made = []
    yield made
    for tmpl in made:
        try:
            tmpl.delete()
        except libvirt.libvirtError:
            pass


@pytest.fixture
def clones():
    """A list for the clones a test makes; each is discarded afterwards,
    whatever happened."""
    made = CloneList()
    yield made
    for dom, files in made:
        discard_domain(dom, files)
