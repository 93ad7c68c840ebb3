#
# test_template.py: templates through the libvirt_clone module, against the
# real test guest under libvirt's embedded QEMU driver (fixtures in
# conftest.py).  The guest test shares the session's one running source.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
import gc
import os
import time

import libvirt
import pytest

import libvirt_clone as lc
from conftest import serial_log, wait_serial


def state(dom):
    return dom.state()[0]


def template_name():
    return "pyt-%d-%d" % (os.getpid(), time.monotonic_ns() % 1000000)


def clone_error(excinfo):
    e = excinfo.value
    assert isinstance(e, lc.libvirtCloneError)
    assert isinstance(e, libvirt.libvirtError)
    return e.get_clone_error_code()


# ---- without a guest -----------------------------------------------------------

def test_template_constants():
    assert lc.VIR_CLONE_TEMPLATE_CREATE_WAIT == lc.VIR_DOMAIN_CLONE_LIVE_WAIT == 4
    assert lc.VIR_CLONE_TEMPLATE_CREATE_PRECOPY == lc.VIR_DOMAIN_CLONE_LIVE_PRECOPY
    assert lc.VIR_CLONE_TEMPLATE_CREATE_BACKGROUND == lc.VIR_DOMAIN_CLONE_LIVE_BACKGROUND
    assert lc.VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE == 32
    assert lc.VIR_CLONE_TEMPLATE_CLONE_PAUSED == 1
    assert lc.VIR_CLONE_TEMPLATE_CLONE_PERSISTENT == 2
    assert lc.VIR_CLONE_ERR_NO_TEMPLATE == 15
    assert lc.VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE == "template"
    assert [lc.VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME, lc.VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID,
            lc.VIR_CLONE_TEMPLATE_INFO_CREATED, lc.VIR_CLONE_TEMPLATE_INFO_MEMORY,
            lc.VIR_CLONE_TEMPLATE_INFO_CLONES, lc.VIR_CLONE_TEMPLATE_INFO_DIRECTORY,
            lc.VIR_CLONE_TEMPLATE_INFO_SHARING, lc.VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE] == \
        ["source_name", "source_uuid", "created", "memory", "clones", "directory",
         "sharing", "auto_delete"]
    for n in ("Template", "template_create", "template_create_stats", "template_lookup",
              "list_templates", "reset", "VIR_CLONE_ERR_NO_TEMPLATE"):
        assert n in lc.__all__


def test_template_argument_types():
    with pytest.raises(TypeError):
        lc.template_create("not a domain", "t")
    with pytest.raises(TypeError):
        lc.template_lookup("not a connection", "t")
    with pytest.raises(TypeError):
        lc.list_templates(None)
    with pytest.raises(TypeError):
        lc.reset("not a domain")
    # Templates come from the library only
    with pytest.raises(TypeError):
        lc.Template(None, "t")
    with pytest.raises(TypeError):
        lc.Template.name(object())


def test_template_errors(conn):
    """Without a template: the error codes of a missing one, of a bad name
    and of unknown flags (the embedded driver, no guest booted)."""
    name = template_name()
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.template_lookup(conn, name)
    assert clone_error(ei) == lc.VIR_CLONE_ERR_NO_TEMPLATE
    assert name in str(ei.value)
    assert ei.value.get_error_code() == libvirt.VIR_ERR_OK
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.template_lookup(conn, "no/such")
    assert clone_error(ei) == lc.VIR_CLONE_ERR_INVALID_ARG
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.template_lookup(conn, name, 1)
    assert clone_error(ei) == lc.VIR_CLONE_ERR_INVALID_ARG
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.list_templates(conn, 1)
    assert clone_error(ei) == lc.VIR_CLONE_ERR_INVALID_ARG
    assert all(t.name() != name for t in lc.list_templates(conn))


# ---- on a running guest --------------------------------------------------------

def test_template_lifecycle(conn, source, templates, clones):
    """A template of the running guest; two domains from it; list, info,
    a refused delete, a reset, then the delete once they are gone."""
    src = source.dom
    name = template_name()
    calls = []

    tmpl = lc.template_create(src, name, progress=lambda p, pc: calls.append((p, pc)))
    templates.append(tmpl)
    assert isinstance(tmpl, lc.Template)
    assert tmpl.name() == name
    assert tmpl.connect() is src.connect()
    assert state(src) == libvirt.VIR_DOMAIN_RUNNING
    assert calls and calls[0][0] == lc.Phase.PREPARE and calls[-1] == (lc.Phase.DONE, 100)

    info = tmpl.info()
    assert info[lc.VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME] == src.name()
    assert info[lc.VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID] == src.UUIDString()
    assert info[lc.VIR_CLONE_TEMPLATE_INFO_MEMORY] == 256 << 20
    assert info[lc.VIR_CLONE_TEMPLATE_INFO_CLONES] == 0
    assert abs(info[lc.VIR_CLONE_TEMPLATE_INFO_CREATED] - time.time()) < 600
    assert os.path.isdir(info[lc.VIR_CLONE_TEMPLATE_INFO_DIRECTORY])
    assert info[lc.VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE] == 0

    # a second template of that name is refused
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.template_create(src, name)
    assert clone_error(ei) == lc.VIR_CLONE_ERR_INVALID_ARG

    # two domains, each from the template's instant
    phases = []
    a, stats = tmpl.create_domain_stats(progress=lambda p, pc: phases.append(p))
    clones.append(a)
    b = tmpl.create_domain()
    clones.append(b)
    for d in (a, b):
        assert isinstance(d, libvirt.virDomain)
        assert d.connect() is conn
        assert state(d) == libvirt.VIR_DOMAIN_RUNNING
        assert d.name() != src.name() and d.UUIDString() != src.UUIDString()
        assert conn.lookupByUUIDString(d.UUIDString()).name() == d.name()
    assert a.name() != b.name()
    assert a.UUIDString() != b.UUIDString()
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE] == name
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_NAME] == a.name()
    assert stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_UUID] == a.UUIDString()
    assert isinstance(stats[lc.VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL], int)
    assert phases[0] == lc.Phase.PREPARE and phases[-1] == lc.Phase.DONE
    assert lc.Phase.ROLLBACK not in phases
    # the guest's workload goes on in each (no new boot)
    for d in (a, b):
        line = wait_serial(d, serial_log(d), r"CLONETEST (stat|ready)", 60)
        assert "ready" not in line, line

    # listed and looked up, with its two domains
    assert tmpl in lc.list_templates(conn)
    again = lc.template_lookup(conn, name)
    assert again == tmpl and again is not tmpl
    assert again.info()[lc.VIR_CLONE_TEMPLATE_INFO_CLONES] == 2

    # not deleted while they exist
    with pytest.raises(lc.libvirtCloneError) as ei:
        tmpl.delete()
    assert clone_error(ei) == lc.VIR_CLONE_ERR_OPERATION_INVALID
    assert a.name() in str(ei.value) and b.name() in str(ei.value)
    assert lc.template_lookup(conn, name) == tmpl

    # reset: a new QEMU at the template's instant, same name and UUID
    a_name, a_uuid, a_id = a.name(), a.UUIDString(), a.ID()
    lc.reset(a)
    assert state(a) == libvirt.VIR_DOMAIN_RUNNING
    # (a handle's ID() is the one it was made with: look the domain up)
    assert conn.lookupByName(a_name).ID() != a_id
    assert (a.name(), a.UUIDString()) == (a_name, a_uuid)
    assert conn.lookupByName(a_name).UUIDString() == a_uuid
    wait_serial(a, serial_log(a), r"CLONETEST stat", 60)
    # the source was not made from a template: it cannot be reset
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.reset(src)
    assert clone_error(ei) == lc.VIR_CLONE_ERR_OPERATION_INVALID
    assert state(src) == libvirt.VIR_DOMAIN_RUNNING

    # gone with its domains
    a.destroy()
    b.destroy()
    assert tmpl.info()[lc.VIR_CLONE_TEMPLATE_INFO_CLONES] == 0
    tmpl.delete()
    assert all(t.name() != name for t in lc.list_templates(conn))
    with pytest.raises(lc.libvirtCloneError) as ei:
        lc.template_lookup(conn, name)
    assert clone_error(ei) == lc.VIR_CLONE_ERR_NO_TEMPLATE
    with pytest.raises(lc.libvirtCloneError) as ei:
        again.info()
    assert clone_error(ei) == lc.VIR_CLONE_ERR_NO_TEMPLATE
    with pytest.raises(lc.libvirtCloneError) as ei:
        again.create_domain()
    assert clone_error(ei) == lc.VIR_CLONE_ERR_NO_TEMPLATE
    assert again.name() == name          # the handle outlives the template

    # handles: freed on collection or at free(), refused afterwards
    again.free()
    assert "freed" in repr(again)
    with pytest.raises(ValueError):
        again.name()
    del again, tmpl
    templates.clear()
    gc.collect()
    assert state(src) == libvirt.VIR_DOMAIN_RUNNING
