#
# libvirt_clone: live clones of running libvirt/QEMU domains, from Python.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
"""Live clones of running libvirt/QEMU domains.

A binding of libvirt-clone's C API (``libvirt-clone.h``) for libvirt-python,
in the way ``libvirt_qemu`` extends ``libvirt``: functions take and return
libvirt-python's own objects.

    import libvirt, libvirt_clone

    conn = libvirt.open("qemu:///system")
    dom = conn.lookupByName("web")
    clone = libvirt_clone.clone_live(dom)        # a running libvirt.virDomain
    print(clone.name(), clone.UUIDString())

The call blocks until the clone runs (seconds); the GIL is released while it
works, so other Python threads keep running.

A connection to the embedded driver (``qemu:///embed?root=DIR``) needs a
libvirt event loop that the caller runs: ``libvirt.virEventRegisterDefaultImpl()``
before ``libvirt.open()``, then ``libvirt.virEventRunDefaultImpl()`` in a loop
in a thread of its own.
"""

import enum
from typing import Any, Callable, Dict, Optional, Tuple

import libvirt

import _libvirt_clone as _lc

# ---- constants, from libvirt-clone.h -----------------------------------------

# virDomainCloneLiveFlags
VIR_DOMAIN_CLONE_LIVE_PAUSED = _lc.VIR_DOMAIN_CLONE_LIVE_PAUSED
VIR_DOMAIN_CLONE_LIVE_PERSISTENT = _lc.VIR_DOMAIN_CLONE_LIVE_PERSISTENT
VIR_DOMAIN_CLONE_LIVE_WAIT = _lc.VIR_DOMAIN_CLONE_LIVE_WAIT
VIR_DOMAIN_CLONE_LIVE_PRECOPY = _lc.VIR_DOMAIN_CLONE_LIVE_PRECOPY
VIR_DOMAIN_CLONE_LIVE_BACKGROUND = _lc.VIR_DOMAIN_CLONE_LIVE_BACKGROUND

# virDomainCloneLivePhase
VIR_DOMAIN_CLONE_LIVE_PHASE_PREPARE = _lc.VIR_DOMAIN_CLONE_LIVE_PHASE_PREPARE
VIR_DOMAIN_CLONE_LIVE_PHASE_START_CLONE = _lc.VIR_DOMAIN_CLONE_LIVE_PHASE_START_CLONE
VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM = _lc.VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM
VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER = _lc.VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER
VIR_DOMAIN_CLONE_LIVE_PHASE_FINISH = _lc.VIR_DOMAIN_CLONE_LIVE_PHASE_FINISH
VIR_DOMAIN_CLONE_LIVE_PHASE_DONE = _lc.VIR_DOMAIN_CLONE_LIVE_PHASE_DONE
VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK = _lc.VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK

# virCloneErrorNumber
VIR_CLONE_ERR_OK = _lc.VIR_CLONE_ERR_OK
VIR_CLONE_ERR_INTERNAL = _lc.VIR_CLONE_ERR_INTERNAL
VIR_CLONE_ERR_INVALID_ARG = _lc.VIR_CLONE_ERR_INVALID_ARG
VIR_CLONE_ERR_NO_DOMAIN = _lc.VIR_CLONE_ERR_NO_DOMAIN
VIR_CLONE_ERR_OPERATION_INVALID = _lc.VIR_CLONE_ERR_OPERATION_INVALID
VIR_CLONE_ERR_UNSUPPORTED = _lc.VIR_CLONE_ERR_UNSUPPORTED
VIR_CLONE_ERR_BUSY = _lc.VIR_CLONE_ERR_BUSY
VIR_CLONE_ERR_POLICY = _lc.VIR_CLONE_ERR_POLICY
VIR_CLONE_ERR_LIBVIRT = _lc.VIR_CLONE_ERR_LIBVIRT
VIR_CLONE_ERR_QEMU = _lc.VIR_CLONE_ERR_QEMU
VIR_CLONE_ERR_MIGRATION = _lc.VIR_CLONE_ERR_MIGRATION
VIR_CLONE_ERR_DISK = _lc.VIR_CLONE_ERR_DISK
VIR_CLONE_ERR_SYSTEM = _lc.VIR_CLONE_ERR_SYSTEM
VIR_CLONE_ERR_TIMEOUT = _lc.VIR_CLONE_ERR_TIMEOUT
VIR_CLONE_ERR_GUEST = _lc.VIR_CLONE_ERR_GUEST

# names of the statistics of clone_live_stats()
VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY
VIR_DOMAIN_CLONE_LIVE_STATS_NAME = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_NAME
VIR_DOMAIN_CLONE_LIVE_STATS_UUID = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_UUID
VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE
VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME
VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL
VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START
VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK
VIR_DOMAIN_CLONE_LIVE_STATS_BYTES = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_BYTES
VIR_DOMAIN_CLONE_LIVE_STATS_PASSES = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_PASSES
VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS
VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS
VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED
VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY
VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP

# the version of libvirt-clone this module was built against
LIBVIRT_CLONE_VERSION = (_lc.LIBVIRT_CLONE_VERSION_MAJOR,
                         _lc.LIBVIRT_CLONE_VERSION_MINOR,
                         _lc.LIBVIRT_CLONE_VERSION_MICRO)


class Phase(enum.IntEnum):
    """A phase of a clone, as passed to the progress callback.

    Members are ints equal to the VIR_DOMAIN_CLONE_LIVE_PHASE_* constants;
    ``str()`` and ``format()`` give the library's name ("copy-ram"; an
    integer format such as ``:d`` the number), ``.name`` the constant's
    suffix ("COPY_RAM")."""

    PREPARE = VIR_DOMAIN_CLONE_LIVE_PHASE_PREPARE
    START_CLONE = VIR_DOMAIN_CLONE_LIVE_PHASE_START_CLONE
    COPY_RAM = VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM
    SWITCHOVER = VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER
    FINISH = VIR_DOMAIN_CLONE_LIVE_PHASE_FINISH
    DONE = VIR_DOMAIN_CLONE_LIVE_PHASE_DONE
    ROLLBACK = VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK

    def __str__(self) -> str:
        return _lc.phase_to_string(self.value) or self.name.lower()

    def __format__(self, spec: str) -> str:
        # f"{phase:>12}" is the name, like f"{phase}"; f"{phase:d}" the int
        if spec and spec[-1] in "bcdoxXn":
            return format(self.value, spec)
        return format(str(self), spec)


def phase_to_string(phase: int) -> Optional[str]:
    """The library's name of a phase ("prepare", "copy-ram", ...), or None
    for an unknown value (virDomainCloneLivePhaseToString)."""
    return _lc.phase_to_string(phase)


# ---- errors ------------------------------------------------------------------

class libvirtCloneError(libvirt.libvirtError):
    """A libvirt-clone call failed (virCloneGetLastError).

    A subclass of libvirt.libvirtError, so that code catching libvirt's
    errors catches these too.  ``str(e)`` and ``get_error_message()`` give
    the library's whole, translated message; ``get_clone_error_code()`` the
    virCloneErrorNumber (VIR_CLONE_ERR_*); ``get_error_code()`` the libvirt
    virErrorNumber behind it (libvirt.VIR_ERR_*), or 0 (VIR_ERR_OK) when the
    failure did not come from a libvirt call.  ``get_error_domain()`` is
    libvirt.VIR_FROM_NONE and ``get_error_level()`` libvirt.VIR_ERR_ERROR.

    It does not read libvirt's own last error (libvirtError.__init__ would):
    the library's error already carries everything that is known."""

    def __init__(self, msg: str, code: int = VIR_CLONE_ERR_INTERNAL,
                 libvirt_code: int = 0) -> None:
        Exception.__init__(self, msg)
        self.clone_code = code
        # the tuple libvirtError's getters read (virGetLastError's layout:
        # code, domain, message, level, str1, str2, str3, int1, int2)
        self.err = (libvirt_code, libvirt.VIR_FROM_NONE, msg, libvirt.VIR_ERR_ERROR,
                    None, None, None, 0, 0)

    def get_clone_error_code(self) -> int:
        """The virCloneErrorNumber: one of the VIR_CLONE_ERR_* constants."""
        return self.clone_code

    def __reduce__(self):
        return (type(self), (str(self), self.clone_code, self.err[0]))


_lc.set_error_class(libvirtCloneError)


# ---- functions ---------------------------------------------------------------

ProgressCallback = Callable[[Phase, int], Any]


def _progress_adapter(progress: Optional[ProgressCallback]):
    if progress is None:
        return None
    if not callable(progress):
        raise TypeError("progress must be callable or None")

    def call(phase: int, percent: int) -> None:
        try:
            p = Phase(phase)
        except ValueError:  # a phase newer than this module
            p = phase
        progress(p, percent)

    return call


def clone_live_stats(dom: libvirt.virDomain, policy: Optional[str] = None,
                     flags: int = 0,
                     progress: Optional[ProgressCallback] = None
                     ) -> Tuple[libvirt.virDomain, Dict[str, Any]]:
    """Like clone_live(), but return ``(clone, stats)``.

    ``stats`` maps the names of the VIR_DOMAIN_CLONE_LIVE_STATS_* constants
    to their values: "strategy", "name" and "uuid" are str, the others
    (times in microseconds, "downtime_ms", "bytes", "passes",
    "fallbacks", "guest_steps", "guest_steps_failed") int."""
    clone, stats = _lc.clone_live(dom, policy, flags, _progress_adapter(progress), True)
    return clone, stats


def clone_live(dom: libvirt.virDomain, policy: Optional[str] = None,
               flags: int = 0,
               progress: Optional[ProgressCallback] = None) -> libvirt.virDomain:
    """Live-clone the running domain ``dom`` (virDomainCloneLiveFull).

    Returns the clone: a new libvirt.virDomain on the same connection
    (``clone.connect() is dom.connect()``), running, or paused with
    VIR_DOMAIN_CLONE_LIVE_PAUSED.  ``dom`` keeps running after a pause of
    milliseconds.  The clone has its own name, UUID, MAC addresses and
    generation ID; its disks are qcow2 overlays over the source's images at
    the switch-over instant.

    ``policy`` is a <clonepolicy> XML document (str), or None for the
    defaults.  ``flags`` is a bitwise OR of VIR_DOMAIN_CLONE_LIVE_*
    (PAUSED, PERSISTENT, WAIT, PRECOPY, BACKGROUND); unknown bits are
    refused by the library.

    ``progress``, if given, is called as ``progress(phase, percent)`` in the
    calling thread, with the GIL held: ``phase`` is a Phase (an int equal to
    a VIR_DOMAIN_CLONE_LIVE_PHASE_* constant; ``str(phase)`` is "copy-ram"
    etc.), ``percent`` an int 0-100, the share of the source's RAM copied
    (meaningful in COPY_RAM).  It must not call libvirt_clone functions
    (RuntimeError).  If it raises, it is not called again, the clone still
    runs to its end, and then the exception is raised from clone_live(),
    with the clone, if one was made, in its ``clone`` attribute (the caller
    owns it: destroy it if it is unwanted); if the clone failed too, the
    libvirtCloneError is raised, with the callback's exception as its
    ``__context__``.

    The GIL is released while the library works.

    Raises libvirtCloneError (a libvirt.libvirtError) on failure; nothing
    is then left behind and the source runs on."""
    clone, _ = _lc.clone_live(dom, policy, flags, _progress_adapter(progress), False)
    return clone


def policy_normalize(xml: Optional[str] = None, flags: int = 0) -> str:
    """Validate a <clonepolicy> document without a domain
    (virDomainCloneLivePolicyNormalize) and return the effective policy,
    every default written out.  ``xml`` None gives the defaults.

    Raises libvirtCloneError with VIR_CLONE_ERR_POLICY, whose message names
    the line at fault, for an invalid policy."""
    return _lc.policy_normalize(xml, flags)


def reap(conn: libvirt.virConnect, flags: int = 0) -> int:
    """Destroy every clone on ``conn`` whose time-to-live has passed, with
    its overlays (virConnectCloneLiveReap).  Returns how many were
    destroyed.  The GIL is released while it works."""
    return _lc.reap(conn, flags)


__all__ = ["libvirtCloneError", "Phase", "LIBVIRT_CLONE_VERSION", "clone_live",
           "clone_live_stats", "policy_normalize", "reap", "phase_to_string"] + \
          sorted(n for n in dir() if n.startswith("VIR_"))
