#
# test_clone.py: the libvirt_clone module against real test guests under
# libvirt's embedded QEMU driver (fixtures in conftest.py).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
import gc
import os
import threading
import time
import xml.etree.ElementTree as ET

import libvirt
import pytest

import _libvirt_clone
import libvirt_clone as lc
from conftest import Guest, serial_log, wait_serial

BAD_POLICY = """<clonepolicy>
  <name template='%{source}-x'/>
  <memory strategy='sideways'/>
</clonepolicy>
"""

# pre-copy at 8 MiB/s: the test guest's memory takes seconds to copy
SLOW_POLICY = "<clonepolicy><memory strategy='precopy' bandwidth='8'/></clonepolicy>"

PHASES_PRECOPY = [lc.Phase.PREPARE, lc.Phase.START_CLONE, lc.Phase.COPY_RAM,
                  lc.Phase.SWITCHOVER, lc.Phase.FINISH, lc.Phase.DONE]
PHASES_BACKGROUND = [lc.Phase.PREPARE, lc.Phase.START_CLONE, lc.Phase.SWITCHOVER,
                     lc.Phase.COPY_RAM, lc.Phase.FINISH, lc.Phase.DONE]


def state(dom):
    return dom.state()[0]


def num_domains(conn):
    return len(conn.listAllDomains(0))


def clone_disk(dom):
    """The top image of the domain's vda."""
    xml = ET.fromstring(dom.XMLDesc(0))
    for disk in xml.iter("disk"):
        if disk.find("target").get("dev") == "vda":
            return disk.find("source").get("file")
    return None


# ---- without a guest -----------------------------------------------------------

def test_constants():
    """Every constant of the C header is exported, with its value."""
    names = [n for n in dir(_libvirt_clone) if n.startswith("VIR_")]
    # 5 + 4 + 2 flags, 7 phases, 16 error codes, 19 stats, 8 template info
    # keys, 3 memory flags, 2 memory dump formats, 4 sandbox event types,
    # 3 integrity actions and 1 integrity flag
    assert len(names) == 74
    for n in names:
        assert getattr(lc, n) == getattr(_libvirt_clone, n), n
        assert n in lc.__all__
    assert lc.VIR_DOMAIN_CLONE_LIVE_PAUSED == 1
    assert lc.VIR_DOMAIN_CLONE_LIVE_BACKGROUND == 16
    assert lc.VIR_CLONE_ERR_POLICY == 7
    assert lc.VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE == "source_pause_us"
    assert lc.VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP == "network_up_us"
    assert lc.VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE == "dirty_rate"
    assert lc.VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE == "copy_rate"
    assert lc.VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES == "predicted_passes"
    assert lc.VIR_CLONE_ERR_GUEST == 14
    assert lc.LIBVIRT_CLONE_VERSION >= (0, 3, 0)
    # phases: ints equal to the constants, named as the library names them
    assert lc.Phase.COPY_RAM == lc.VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM
    assert str(lc.Phase.COPY_RAM) == "copy-ram"
    assert [str(p) for p in lc.Phase] == ["prepare", "start-clone", "copy-ram", "switchover",
                                          "finish", "done", "rollback"]
    assert lc.phase_to_string(lc.VIR_DOMAIN_CLONE_LIVE_PHASE_DONE) == "done"
    assert lc.phase_to_string(99) is None
    assert issubclass(lc.libvirtCloneError, libvirt.libvirtError)


def test_policy_normalize():
    default = lc.policy_normalize()
    assert default.startswith("<clonepolicy")
    assert "strategy='auto'" in default or 'strategy="auto"' in default
    # the effective policy of the effective policy is itself
    assert lc.policy_normalize(default) == default
    # a policy's own setting survives; the rest is filled in
    mine = lc.policy_normalize("<clonepolicy><memory strategy='background'/></clonepolicy>")
    assert "background" in mine and "<name " in mine


def test_policy_normalize_error():
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.policy_normalize(BAD_POLICY)
    e = ei.value
    assert isinstance(e, libvirt.libvirtError)
    assert e.get_clone_error_code() == lc.VIR_CLONE_ERR_POLICY
    assert "line 3" in str(e)
    assert "sideways" in str(e)
    assert e.get_error_message() == str(e)
    assert e.get_error_code() == libvirt.VIR_ERR_OK   # no libvirt call behind it
    assert e.get_error_level() == libvirt.VIR_ERR_ERROR
    with pytest.raises(lc.libvirtCloneError):
        lc.policy_normalize("<not-xml")
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.policy_normalize(None, 1)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG


def test_argument_types():
    with pytest.raises(TypeError):
        lc.clone_live("not a domain")
    with pytest.raises(TypeError):
        lc.clone_live(None)
    with pytest.raises(TypeError):
        lc.policy_normalize(42)
    with pytest.raises(TypeError):
        lc.reap("not a connection")


# ---- on a running guest --------------------------------------------------------

def test_clone_live(conn, source, clones):
    """The clone is a running libvirt.virDomain on the same connection, with
    a new name and UUID; the source runs on."""
    src = source.dom
    before = num_domains(conn)
    clone = lc.clone_live(src)
    clones.append(clone)

    assert isinstance(clone, libvirt.virDomain)
    assert clone.connect() is src.connect()
    assert clone.name() != src.name()
    assert clone.UUIDString() != src.UUIDString()
    assert state(clone) == libvirt.VIR_DOMAIN_RUNNING
    assert state(src) == libvirt.VIR_DOMAIN_RUNNING
    assert num_domains(conn) == before + 1
    # libvirt knows it by that name and UUID
    assert conn.lookupByName(clone.name()).UUIDString() == clone.UUIDString()
    # it runs the source's workload from the source's memory: its console
    # (a new log) goes on with stat lines
    wait_serial(clone, serial_log(clone), r"CLONETEST stat", 60)


# the copy is slowed down so that the library sees it under way: when an
# idle guest's copy ends before the library's first look, COPY_RAM is not
# reported at all
@pytest.mark.parametrize("strategy,policy,flags,want", [
    ("precopy", SLOW_POLICY, 0, PHASES_PRECOPY),
    ("background", "<clonepolicy><memory bandwidth='8'/></clonepolicy>",
     lc.VIR_DOMAIN_CLONE_LIVE_BACKGROUND, PHASES_BACKGROUND),
], ids=["precopy", "background"])
def test_clone_live_stats_progress(source, clones, strategy, policy, flags, want):
    """Progress: every phase once, in the strategy's order, as a Phase, from
    the calling thread, percent an int 0-100 that does not go back in
    COPY_RAM; stats come as a dict."""
    calls = []
    caller = threading.get_ident()

    def progress(phase, percent):
        calls.append((phase, percent, threading.get_ident()))

    clone, stats = lc.clone_live_stats(source.dom, policy, flags, progress)
    clones.append(clone)

    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_NAME] == clone.name()
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_UUID] == clone.UUIDString()
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY] == strategy
    for key in (lc.VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, lc.VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL,
                lc.VIR_DOMAIN_CLONE_LIVE_STATS_BYTES):
        assert isinstance(stats[key], int)
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE] > 0
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_BYTES] > 0
    # a forced strategy: the automatic choice sampled nothing
    for key in (lc.VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE, lc.VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE,
                lc.VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES):
        assert isinstance(stats[key], int)
        assert stats[key] == 0, key

    assert calls
    assert all(isinstance(p, lc.Phase) and isinstance(pc, int) and 0 <= pc <= 100
               and tid == caller for p, pc, tid in calls)
    phases = []
    for p, _, _ in calls:
        if not phases or phases[-1] != p:
            phases.append(p)
    assert phases == want
    ram = [pc for p, pc, _ in calls if p == lc.Phase.COPY_RAM]
    assert ram == sorted(ram)
    assert len(set(ram)) > 1
    assert calls[-1][:2] == (lc.Phase.DONE, 100)


def test_clone_live_stats_auto(conn, source, clones):
    """The automatic choice's measurement in the stats: the idle source,
    sampled, is cloned by pre-copy within twice the passes predicted + 3.
    QEMU before 9.0 may sample nothing (before 8.2; under TCG auto is the
    background snapshot): then the three are 0."""
    clone, stats = lc.clone_live_stats(source.dom, flags=lc.VIR_DOMAIN_CLONE_LIVE_PAUSED)
    clones.append(clone)
    dirty = stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE]
    copy = stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE]
    predicted = stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES]
    assert all(isinstance(v, int) for v in (dirty, copy, predicted))
    if conn.getVersion() < 9000000 and copy == 0:
        assert dirty == 0 and predicted == 0
        return
    assert copy > 0
    # idle: what the guest's kernel and the stat lines dirty
    assert dirty < copy
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY] == "precopy"
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS] == 0
    assert predicted >= 1
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_PASSES] <= 2 * predicted + 3


def test_clone_paused_persistent(source, clones):
    clone = lc.clone_live(source.dom, flags=lc.VIR_DOMAIN_CLONE_LIVE_PAUSED |
                          lc.VIR_DOMAIN_CLONE_LIVE_PERSISTENT)
    clones.append(clone)
    assert state(clone) == libvirt.VIR_DOMAIN_PAUSED
    assert clone.isPersistent()
    assert state(source.dom) == libvirt.VIR_DOMAIN_RUNNING
    clone.resume()
    assert state(clone) == libvirt.VIR_DOMAIN_RUNNING
    # without the flag: transient
    other = lc.clone_live(source.dom, flags=lc.VIR_DOMAIN_CLONE_LIVE_PAUSED)
    clones.append(other)
    assert state(other) == libvirt.VIR_DOMAIN_PAUSED
    assert not other.isPersistent()


def test_gil_released(source, clones):
    """Another Python thread runs while clone_live() works (no progress
    callback: nothing else would give the GIL back)."""
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    t = threading.Thread(target=count)
    t.start()
    try:
        t0 = time.monotonic()
        clones.append(lc.clone_live(source.dom, SLOW_POLICY))
        t1 = time.monotonic()
    finally:
        stop.set()
        t.join()
    assert t1 - t0 > 1.0, "the clone was too quick to tell"
    during = [x for x in ticks if t0 + 0.2 < x < t1 - 0.2]
    # ~200 ticks a second when free; none at all if the GIL were held
    assert len(during) > 10 * (t1 - t0 - 0.4), (len(during), t1 - t0)


def test_bad_policy(conn, source):
    before = num_domains(conn)
    with pytest.raises(libvirt.libvirtError) as ei:
        lc.clone_live(source.dom, policy=BAD_POLICY)
    e = ei.value
    assert isinstance(e, lc.libvirtCloneError)
    assert e.get_clone_error_code() == lc.VIR_CLONE_ERR_POLICY
    assert "line 3" in e.get_error_message()
    assert str(e) == e.get_error_message()
    assert num_domains(conn) == before
    assert state(source.dom) == libvirt.VIR_DOMAIN_RUNNING


def test_bad_flags(conn, source):
    before = num_domains(conn)
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.clone_live(source.dom, flags=1 << 20)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
    assert "0x100000" in str(ei.value)
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.clone_live(source.dom, flags=lc.VIR_DOMAIN_CLONE_LIVE_PRECOPY |
                      lc.VIR_DOMAIN_CLONE_LIVE_BACKGROUND)
    assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
    with pytest.raises(OverflowError):
        lc.clone_live(source.dom, flags=-1)
    with pytest.raises(OverflowError):
        lc.clone_live(source.dom, flags=1 << 40)
    with pytest.raises(TypeError):
        lc.clone_live(source.dom, flags="paused")
    assert num_domains(conn) == before


def test_shut_off_domain(env, conn):
    g = Guest(env, prefix="off", start=False)
    try:
        before = num_domains(conn)
        with pytest.raises(lc.libvirtCloneError) as ei:
            lc.clone_live(g.dom)
        assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_OPERATION_INVALID
        assert "not running" in str(ei.value)
        assert num_domains(conn) == before

        # a callback that raised, then a failed clone: the clone's error,
        # with the callback's exception as its context
        def boom(phase, percent):
            raise KeyError("boom")

        with pytest.raises(lc.libvirtCloneError) as ei:
            lc.clone_live(g.dom, progress=boom)
        assert ei.value.get_clone_error_code() == lc.VIR_CLONE_ERR_OPERATION_INVALID
        assert isinstance(ei.value.__context__, KeyError)
    finally:
        g.remove()


def test_progress_exception(source, clones):
    """A callback that raises is not called again; the clone completes and
    the exception comes out of clone_live() with the clone attached.  A
    callback must not re-enter the module either."""
    calls = []

    def progress(phase, percent):
        calls.append(phase)
        if len(calls) == 1:
            lc.policy_normalize()       # not allowed: RuntimeError

    with pytest.raises(RuntimeError, match="progress callback") as ei:
        lc.clone_live(source.dom, progress=progress)
    clone = ei.value.clone
    clones.append(clone)
    assert calls == [lc.Phase.PREPARE]
    assert isinstance(clone, libvirt.virDomain)
    assert state(clone) == libvirt.VIR_DOMAIN_RUNNING


def test_reference_ownership(conn, source, clones):
    """The clone's virDomain owns one reference: dropping it frees it once,
    and the domain stays reachable through libvirt."""
    clone = lc.clone_live(source.dom)
    name = clone.name()
    # the clone is discarded through a new handle, not this one
    clones.append(conn.lookupByName(name))
    capsule = clone._o
    assert type(capsule).__name__ == "PyCapsule"
    assert "virDomainPtr" in repr(capsule)
    del clone, capsule
    gc.collect()
    again = conn.lookupByName(name)
    assert state(again) == libvirt.VIR_DOMAIN_RUNNING
    # a handle whose pointer libvirt-python has freed is refused, not used
    other = conn.lookupByName(name)
    other.__del__()
    with pytest.raises(ValueError):
        lc.clone_live(other)


def test_reap(conn, source, clones):
    """reap() destroys the clones whose TTL has passed, with their overlays,
    and only those."""
    clone = lc.clone_live(source.dom, policy="<clonepolicy><lifecycle ttl='1'/></clonepolicy>")
    clones.append(clone)
    name = clone.name()
    overlay = clone_disk(clone)
    keep = lc.clone_live(source.dom)
    clones.append(keep)
    assert os.path.exists(overlay)
    time.sleep(2)
    assert lc.reap(conn) == 1
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(name)     # a transient clone: gone once destroyed
    assert not os.path.exists(overlay)
    assert keep.isActive()
    assert lc.reap(conn) == 0
