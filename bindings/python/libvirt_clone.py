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

A watch reports what a clone does, from a thread of the library's own:

    def seen(dom, event, opaque):
        print(event.clone, event.type, event.protocol, event.dst_addr, event.dst_port)

    wid = libvirt_clone.sandbox_watch(clone, seen)       # frames it sends
    kid = libvirt_clone.integrity_watch(clone, seen)     # its kernel's integrity
    ...
    libvirt_clone.sandbox_unwatch(wid)

Templates capture a running domain once; any number of domains then start
from it, each mapping the template's RAM copy-on-write:

    tmpl = libvirt_clone.template_create(dom, "web-0900")   # a Template
    a = tmpl.create_domain()                     # running libvirt.virDomains
    b = tmpl.create_domain()
    libvirt_clone.reset(a)                       # back to the template's instant
    a.destroy(); b.destroy()
    tmpl.delete()

A connection to the embedded driver (``qemu:///embed?root=DIR``) needs a
libvirt event loop that the caller runs: ``libvirt.virEventRegisterDefaultImpl()``
before ``libvirt.open()``, then ``libvirt.virEventRunDefaultImpl()`` in a loop
in a thread of its own.
"""

import atexit
import enum
from typing import Any, Callable, Dict, List, Optional, Tuple

import libvirt

import _libvirt_clone as _lc

# ---- constants, from libvirt-clone.h -----------------------------------------

# virDomainCloneLiveFlags
VIR_DOMAIN_CLONE_LIVE_PAUSED = _lc.VIR_DOMAIN_CLONE_LIVE_PAUSED
VIR_DOMAIN_CLONE_LIVE_PERSISTENT = _lc.VIR_DOMAIN_CLONE_LIVE_PERSISTENT
VIR_DOMAIN_CLONE_LIVE_WAIT = _lc.VIR_DOMAIN_CLONE_LIVE_WAIT
VIR_DOMAIN_CLONE_LIVE_PRECOPY = _lc.VIR_DOMAIN_CLONE_LIVE_PRECOPY
VIR_DOMAIN_CLONE_LIVE_BACKGROUND = _lc.VIR_DOMAIN_CLONE_LIVE_BACKGROUND

# virCloneTemplateCreateFlags
VIR_CLONE_TEMPLATE_CREATE_WAIT = _lc.VIR_CLONE_TEMPLATE_CREATE_WAIT
VIR_CLONE_TEMPLATE_CREATE_PRECOPY = _lc.VIR_CLONE_TEMPLATE_CREATE_PRECOPY
VIR_CLONE_TEMPLATE_CREATE_BACKGROUND = _lc.VIR_CLONE_TEMPLATE_CREATE_BACKGROUND
VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE = _lc.VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE

# virCloneTemplateCloneFlags
VIR_CLONE_TEMPLATE_CLONE_PAUSED = _lc.VIR_CLONE_TEMPLATE_CLONE_PAUSED
VIR_CLONE_TEMPLATE_CLONE_PERSISTENT = _lc.VIR_CLONE_TEMPLATE_CLONE_PERSISTENT

# virDomainCloneMemoryFlags
VIR_DOMAIN_CLONE_MEMORY_FORCE = _lc.VIR_DOMAIN_CLONE_MEMORY_FORCE
VIR_DOMAIN_CLONE_MEMORY_CONSISTENT = _lc.VIR_DOMAIN_CLONE_MEMORY_CONSISTENT
VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT = _lc.VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT

# virDomainCloneMemoryDumpFormat
VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW = _lc.VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW
VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF = _lc.VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF

# virDomainCloneSandboxEventType
VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC = _lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC
VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST = _lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST
VIR_DOMAIN_CLONE_SANDBOX_EVENT_END = _lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_END
VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY = _lc.VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY

# virDomainCloneIntegrityAction
VIR_DOMAIN_CLONE_INTEGRITY_ALERT = _lc.VIR_DOMAIN_CLONE_INTEGRITY_ALERT
VIR_DOMAIN_CLONE_INTEGRITY_PAUSE = _lc.VIR_DOMAIN_CLONE_INTEGRITY_PAUSE
VIR_DOMAIN_CLONE_INTEGRITY_DESTROY = _lc.VIR_DOMAIN_CLONE_INTEGRITY_DESTROY

# virDomainCloneIntegrityFlags
VIR_DOMAIN_CLONE_INTEGRITY_FORCE = _lc.VIR_DOMAIN_CLONE_INTEGRITY_FORCE

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
VIR_CLONE_ERR_NO_TEMPLATE = _lc.VIR_CLONE_ERR_NO_TEMPLATE

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
VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE
VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE
VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES
VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE = _lc.VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE

# keys of Template.info()
VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME = _lc.VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME
VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID = _lc.VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID
VIR_CLONE_TEMPLATE_INFO_CREATED = _lc.VIR_CLONE_TEMPLATE_INFO_CREATED
VIR_CLONE_TEMPLATE_INFO_MEMORY = _lc.VIR_CLONE_TEMPLATE_INFO_MEMORY
VIR_CLONE_TEMPLATE_INFO_CLONES = _lc.VIR_CLONE_TEMPLATE_INFO_CLONES
VIR_CLONE_TEMPLATE_INFO_DIRECTORY = _lc.VIR_CLONE_TEMPLATE_INFO_DIRECTORY
VIR_CLONE_TEMPLATE_INFO_SHARING = _lc.VIR_CLONE_TEMPLATE_INFO_SHARING
VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE = _lc.VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE

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


# ---- templates ---------------------------------------------------------------

class Template:
    """A clone template (virCloneTemplatePtr): a running domain captured at
    one instant, from which any number of domains start.

    Made by template_create(), found by template_lookup() and
    list_templates(); never constructed by hand.  The object is a handle (a
    name within a connection): dropping it frees the handle, not the
    template, which lives on until delete().  Two handles of the same
    template on the same connection compare equal."""

    def __init__(self, conn: libvirt.virConnect, _obj=None) -> None:
        if type(_obj).__name__ != "PyCapsule":
            raise TypeError("Template objects come from template_create(), "
                            "template_lookup() and list_templates()")
        self._conn = conn
        # the capsule frees the handle (virCloneTemplateFree) when the last
        # reference to it goes
        self._o = _obj

    def connect(self) -> libvirt.virConnect:
        """The connection the template was made or found on."""
        return self._conn

    def name(self) -> str:
        """The template's name (virCloneTemplateGetName)."""
        return _lc.template_name(self)

    def info(self, flags: int = 0) -> Dict[str, Any]:
        """The template's facts (virCloneTemplateGetInfo), keyed by the
        VIR_CLONE_TEMPLATE_INFO_* constants: "source_name", "source_uuid"
        and "directory" are str; "created" (seconds since the Epoch),
        "memory" (bytes) and "clones" (the domains started from it that
        still exist) int; "sharing" and "auto_delete" 0 or 1.

        Raises libvirtCloneError with VIR_CLONE_ERR_NO_TEMPLATE if the
        template has been deleted."""
        return _lc.template_info(self, flags)

    def delete(self, flags: int = 0) -> None:
        """Delete the template: its RAM file, device state and record
        (virCloneTemplateDelete).  Refused, with libvirtCloneError
        VIR_CLONE_ERR_OPERATION_INVALID, while a domain started from it
        exists (running or defined), and with VIR_CLONE_ERR_BUSY while one
        starts from it.  The handle stays usable for name()."""
        _lc.template_delete(self, flags)

    def create_domain_stats(self, policy: Optional[str] = None, flags: int = 0,
                            progress: Optional["ProgressCallback"] = None
                            ) -> Tuple[libvirt.virDomain, Dict[str, Any]]:
        """Like create_domain(), but return ``(domain, stats)``; ``stats``
        is as for clone_live_stats(), with "template", the template's
        name (VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE)."""
        return _lc.template_create_domain(self, policy, flags,
                                          _progress_adapter(progress), True)

    def create_domain(self, policy: Optional[str] = None, flags: int = 0,
                      progress: Optional["ProgressCallback"] = None) -> libvirt.virDomain:
        """Start a domain at the template's instant
        (virCloneTemplateCreateDomainFull).

        Returns a new libvirt.virDomain on the template's connection,
        running, or paused with VIR_CLONE_TEMPLATE_CLONE_PAUSED, and
        defined with VIR_CLONE_TEMPLATE_CLONE_PERSISTENT.  Its RAM is the
        template's file mapped copy-on-write, its disks new overlays over
        the template's bases; it has its own name, UUID, MAC addresses and
        generation ID.  ``policy`` is a <clonepolicy> document (name,
        identity, network, guest agent, lifecycle), or None.

        ``progress`` is called as for clone_live(), with the phases
        PREPARE, START_CLONE, COPY_RAM (the device state being loaded),
        FINISH and DONE, or ROLLBACK; if it raises, the exception comes out
        with the domain, if one was made, in its ``clone`` attribute.  The
        GIL is released while the library works.

        Raises libvirtCloneError on failure; nothing is left behind then."""
        dom, _ = _lc.template_create_domain(self, policy, flags,
                                            _progress_adapter(progress), False)
        return dom

    def free(self) -> None:
        """Drop this handle now rather than when the object is collected
        (the template stays).  The object is unusable afterwards."""
        self._o = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return (self._conn is other._conn and self._o is not None and other._o is not None
                and self.name() == other.name())

    def __hash__(self) -> int:
        return hash((id(self._conn), self.name() if self._o is not None else None))

    def __repr__(self) -> str:
        if self._o is None:
            return "<libvirt_clone.Template (freed)>"
        return "<libvirt_clone.Template %r>" % self.name()


_lc.set_template_class(Template)


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
    int: times in microseconds, "downtime_ms", "bytes", "passes",
    "fallbacks", "guest_steps", "guest_steps_failed", "dirty_rate" and
    "copy_rate" (bytes per second), "predicted_passes"."""
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


def template_create_stats(dom: libvirt.virDomain, name: str, policy: Optional[str] = None,
                          flags: int = 0, progress: Optional[ProgressCallback] = None
                          ) -> Tuple[Template, Dict[str, Any]]:
    """Like template_create(), but return ``(template, stats)``, the
    statistics of the copy of ``dom``'s memory as for clone_live_stats()."""
    return _lc.template_create(dom, name, policy, flags, _progress_adapter(progress), True)


def template_create(dom: libvirt.virDomain, name: str, policy: Optional[str] = None,
                    flags: int = 0, progress: Optional[ProgressCallback] = None) -> Template:
    """Capture the running domain ``dom`` as the template ``name``
    (virDomainCloneTemplateCreateFull).

    ``dom`` is paused once, as briefly as by clone_live(), and gains one
    image in its disks' backing chains however many domains start from the
    template.  ``name`` is 1 to 64 letters, digits, '_', '.', '+' or '-'.
    ``policy`` is a <clonepolicy> document (its <memory> settings choose how
    the memory is copied, its <template> where the files go and whether the
    domains share the RAM), or None.  ``flags`` is a bitwise OR of
    VIR_CLONE_TEMPLATE_CREATE_* (WAIT, PRECOPY, BACKGROUND, AUTO_DELETE).

    ``progress`` is called as for clone_live(); if it raises, the exception
    comes out with the template, if one was made, in its ``template``
    attribute.  The GIL is released while the library works.

    The template outlives this process and libvirtd restarts: delete() it.
    Raises libvirtCloneError on failure (a name in use: VIR_CLONE_ERR_INVALID_ARG);
    nothing is then left behind."""
    tmpl, _ = _lc.template_create(dom, name, policy, flags, _progress_adapter(progress), False)
    return tmpl


def template_lookup(conn: libvirt.virConnect, name: str, flags: int = 0) -> Template:
    """The template ``name`` on ``conn``'s host (virCloneTemplateLookupByName).
    Raises libvirtCloneError with VIR_CLONE_ERR_NO_TEMPLATE if there is
    none."""
    return _lc.template_lookup(conn, name, flags)


def list_templates(conn: libvirt.virConnect, flags: int = 0) -> List[Template]:
    """The templates on ``conn``'s host, sorted by name
    (virConnectListAllCloneTemplates)."""
    return _lc.template_list(conn, flags)


def reset(dom: libvirt.virDomain, flags: int = 0) -> None:
    """Put ``dom``, a domain started from a template, back at the template's
    instant (virDomainCloneReset): same name, UUID and MAC addresses, fresh
    disk overlays, the template's RAM and device state.  ``flags`` may be
    VIR_CLONE_TEMPLATE_CLONE_PAUSED.  ``dom`` stays a valid handle.

    Raises libvirtCloneError (VIR_CLONE_ERR_OPERATION_INVALID for a domain
    not started from a template).  A reset that fails after the domain was
    stopped leaves it stopped (a transient one is gone).  The GIL is
    released while the library works."""
    _lc.reset(dom, flags)


def memory_peek(dom: libvirt.virDomain, start: int, size: int, flags: int = 0) -> bytes:
    """``size`` bytes of the running clone ``dom``'s guest-physical memory
    at ``start`` (virDomainCloneMemoryPeek), read from its QEMU process on
    this host without pausing the guest.  The range must be RAM or ROM
    (VIR_CLONE_ERR_INVALID_ARG otherwise).  A domain that is not a clone is
    refused (VIR_CLONE_ERR_OPERATION_INVALID) unless ``flags`` has
    VIR_DOMAIN_CLONE_MEMORY_FORCE.  The GIL is released while it reads."""
    return _lc.memory_peek(dom, start, size, flags)


def memory_dump(dom: libvirt.virDomain, file: str,
                format: int = VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW, flags: int = 0) -> None:
    """Write all guest memory of the running clone ``dom`` to ``file``
    (virDomainCloneMemoryDump), without pausing it: ``format``
    VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW (offset = guest-physical address, a
    sparse file) or VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF (an ELF core file with
    the vCPUs' registers, for crash and gdb).  ``flags`` as for
    memory_peek(), plus VIR_DOMAIN_CLONE_MEMORY_CONSISTENT for all of RAM at
    one instant (a background snapshot: one brief pause), or
    VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT (raw) for a domain started from
    a template as it was at the template's instant.  The GIL is released
    while it writes."""
    _lc.memory_dump(dom, file, format, flags)


# ---- watches -----------------------------------------------------------------

class SandboxEventType(enum.IntEnum):
    """The type of a SandboxEvent: ints equal to the
    VIR_DOMAIN_CLONE_SANDBOX_EVENT_* constants; ``str()`` gives the
    library's name ("traffic")."""

    TRAFFIC = VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC
    LOST = VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST
    END = VIR_DOMAIN_CLONE_SANDBOX_EVENT_END
    INTEGRITY = VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY

    def __str__(self) -> str:
        return _lc.sandbox_event_type_to_string(self.value) or self.name.lower()

    def __format__(self, spec: str) -> str:
        if spec and spec[-1] in "bcdoxXn":
            return format(self.value, spec)
        return format(str(self), spec)


def sandbox_event_type_to_string(type: int) -> Optional[str]:
    """The library's name of a sandbox event type ("traffic", "lost", "end",
    "integrity"), or None for an unknown value
    (virDomainCloneSandboxEventTypeToString)."""
    return _lc.sandbox_event_type_to_string(type)


class SandboxEvent:
    """What a watch reports (virDomainCloneSandboxEvent), copied from the
    library's event: it stays valid after the callback.

    ``type`` is a SandboxEventType (an int for a type newer than this
    module); ``time_ms`` when the first frame counted was seen, in
    milliseconds since the Epoch; ``clone`` the clone's name.

    TRAFFIC: ``device`` (the tap device), ``protocol`` ("arp", "icmp",
    "icmpv6", "udp", "tcp", "ipv4", "ipv6", "other"), ``kind`` ("syn",
    "echo-request", ..., or None), ``dst_mac``, ``dst_addr`` (or None),
    ``dst_port`` (-1 without one) and ``count``, the frames summed in this
    event.  LOST: ``count`` frames dropped on ``device``.  END: every
    watched device is gone, or the watched clone stopped: the last event.
    INTEGRITY: ``integrity`` says what differs ("text", "idt-gate",
    "cr4.smep", ...), ``address``, ``old_value``, ``new_value`` and ``cpu``
    (-1 for memory) where, ``action`` what the watch did ("alert",
    "paused", "destroying").  The fields an event does not set are None for
    strings and what the library leaves in the others (``dst_port`` -1 for
    END and INTEGRITY; the integrity fields mean something in INTEGRITY
    events only)."""

    __slots__ = ("type", "time_ms", "clone", "device", "protocol", "kind", "dst_mac",
                 "dst_addr", "dst_port", "count", "integrity", "address", "old_value",
                 "new_value", "cpu", "action")

    def __init__(self, type: int, time_ms: int = 0, clone: Optional[str] = None,
                 device: Optional[str] = None, protocol: Optional[str] = None,
                 kind: Optional[str] = None, dst_mac: Optional[str] = None,
                 dst_addr: Optional[str] = None, dst_port: int = -1, count: int = 0,
                 integrity: Optional[str] = None, address: int = 0, old_value: int = 0,
                 new_value: int = 0, cpu: int = -1, action: Optional[str] = None) -> None:
        try:
            self.type = SandboxEventType(type)
        except ValueError:  # a type newer than this module
            self.type = type
        self.time_ms = time_ms
        self.clone = clone
        self.device = device
        self.protocol = protocol
        self.kind = kind
        self.dst_mac = dst_mac
        self.dst_addr = dst_addr
        self.dst_port = dst_port
        self.count = count
        self.integrity = integrity
        self.address = address
        self.old_value = old_value
        self.new_value = new_value
        self.cpu = cpu
        self.action = action

    def __repr__(self) -> str:
        fields = ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.__slots__[1:]
                           if getattr(self, n) not in (None, 0, -1) or n == "clone")
        return "<libvirt_clone.SandboxEvent %s %s>" % (self.type, fields)


_lc.set_event_class(SandboxEvent)

SandboxEventCallback = Callable[[Optional[libvirt.virDomain], SandboxEvent, Any], Any]

# the watches made and not unwatched yet: unwatched at exit, while the
# interpreter can still take their free callbacks
_watches = set()


@atexit.register
def _unwatch_all() -> None:
    for wid in list(_watches):
        try:
            sandbox_unwatch(wid)
        except libvirt.libvirtError:
            pass


def sandbox_watch(dom: libvirt.virDomain, callback: SandboxEventCallback,
                  opaque: Any = None, flags: int = 0) -> int:
    """Watch what the running domain ``dom`` (normally a sandbox clone)
    sends on its tap devices (virDomainCloneSandboxWatch): every
    <interface> of type bridge, network or ethernet with a target device.

    ``callback`` is called as ``callback(dom, event, opaque)`` with ``dom``
    the object given here and ``event`` a SandboxEvent: one TRAFFIC event
    for the first frame to a new destination, within milliseconds, then one
    a second with the count while frames to it go on; LOST when frames were
    dropped; END when the clone stops (its devices go).

    The callback runs in a thread of the library's own, with the GIL held,
    one call at a time per watch; it must return quickly (frames wait in
    the kernel meanwhile).  It may call sandbox_unwatch(), for its own
    watch too.  An exception it raises goes to sys.unraisablehook (printed
    on stderr by default) and the watch goes on.

    Needs CAP_NET_RAW and the domain on this host.  Returns the watch's ID
    for sandbox_unwatch(); the watch holds ``callback``, ``opaque`` and
    ``dom`` until then (watches left are unwatched at exit).  Raises
    libvirtCloneError on failure (a domain that is not running or has no
    tap device: VIR_CLONE_ERR_OPERATION_INVALID)."""
    wid = _lc.sandbox_watch(dom, callback, opaque, flags)
    _watches.add(wid)
    return wid


def sandbox_watch_devices(clone_name: str, devices: List[str],
                          callback: SandboxEventCallback, opaque: Any = None,
                          flags: int = 0) -> int:
    """Like sandbox_watch() for a caller that knows the clone's tap
    ``devices`` (names) and must not or cannot ask libvirt
    (virDomainCloneSandboxWatchDevices): the events name the clone
    ``clone_name`` and the callback gets None for ``dom``."""
    wid = _lc.sandbox_watch_devices(clone_name, devices, callback, opaque, flags)
    _watches.add(wid)
    return wid


def integrity_watch(dom: libvirt.virDomain, callback: SandboxEventCallback,
                    interval_ms: int = 1000,
                    action: int = VIR_DOMAIN_CLONE_INTEGRITY_ALERT,
                    opaque: Any = None, flags: int = 0) -> int:
    """Watch the kernel of the running clone ``dom``
    (virDomainCloneIntegrityWatch): a baseline of its kernel image,
    descriptor tables and protection bits is taken now, from its memory
    and registers, then compared every ``interval_ms`` milliseconds (0: the
    default, 1000).

    Each difference is reported once, as an INTEGRITY event to ``callback``
    (called as for sandbox_watch()); on the first one the watch takes
    ``action``: VIR_DOMAIN_CLONE_INTEGRITY_ALERT (nothing more), PAUSE (the
    clone is paused) or DESTROY (it is destroyed).  When the clone stops
    the watch reports END and checks no more; it stays registered until
    sandbox_unwatch().

    A domain that is not a clone is refused (libvirtCloneError with
    VIR_CLONE_ERR_OPERATION_INVALID) unless ``flags`` has
    VIR_DOMAIN_CLONE_INTEGRITY_FORCE: its memory holds a production
    guest's secrets.  An unknown ``action`` gives VIR_CLONE_ERR_INVALID_ARG.
    The GIL is released while the baseline is taken."""
    wid = _lc.integrity_watch(dom, callback, interval_ms, action, opaque, flags)
    _watches.add(wid)
    return wid


def sandbox_unwatch(watch_id: int) -> None:
    """Stop a watch of sandbox_watch(), sandbox_watch_devices() or
    integrity_watch() (virDomainCloneSandboxUnwatch): no event is delivered
    once this is called.  It waits for a callback under way in another
    thread to return (the GIL is released meanwhile), then drops the
    watch's references to its callback, opaque and domain.  Called from
    the watch's own callback it returns at once.

    Raises libvirtCloneError with VIR_CLONE_ERR_INVALID_ARG if no watch has
    this ID."""
    _lc.sandbox_unwatch(watch_id)
    _watches.discard(watch_id)


__all__ = ["libvirtCloneError", "Phase", "LIBVIRT_CLONE_VERSION", "clone_live",
           "clone_live_stats", "policy_normalize", "reap", "phase_to_string",
           "Template", "template_create", "template_create_stats", "template_lookup",
           "list_templates", "reset", "memory_peek", "memory_dump",
           "SandboxEventType", "SandboxEvent", "sandbox_event_type_to_string", "sandbox_watch",
           "sandbox_watch_devices", "integrity_watch", "sandbox_unwatch"] + \
          sorted(n for n in dir() if n.startswith("VIR_"))
