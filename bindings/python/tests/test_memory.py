#
# test_memory.py: guest memory reads and dumps through the libvirt_clone
# module, against the real test guest under libvirt's embedded QEMU driver
# (fixtures in conftest.py): the session's one running source, read with
# VIR_DOMAIN_CLONE_MEMORY_FORCE (it is not a clone), and one clone of it.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
import os

import libvirt
import pytest

import libvirt_clone as lc

# the top of the BIOS (the reset vector): ROM, the same for every reader
BIOS_TOP = 0xfff00


def test_memory_constants():
    assert lc.VIR_DOMAIN_CLONE_MEMORY_FORCE == 1
    assert lc.VIR_DOMAIN_CLONE_MEMORY_CONSISTENT == 2
    assert lc.VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT == 4
    assert lc.VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW == 0
    assert lc.VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF == 1
    for n in ("memory_peek", "memory_dump", "VIR_DOMAIN_CLONE_MEMORY_FORCE"):
        assert n in lc.__all__


def test_memory_argument_types():
    with pytest.raises(TypeError):
        lc.memory_peek("not a domain", 0, 16)
    with pytest.raises(TypeError):
        lc.memory_dump("not a domain", "/nonexistent")


def test_memory_source_and_clone(source, clones, tmp_path):
    src = source.dom
    with pytest.raises(lc.libvirtCloneError) as excinfo:
        lc.memory_peek(src, BIOS_TOP, 256)
    assert excinfo.value.get_clone_error_code() == lc.VIR_CLONE_ERR_OPERATION_INVALID
    assert "is not a clone" in str(excinfo.value)
    mine = lc.memory_peek(src, BIOS_TOP, 256, lc.VIR_DOMAIN_CLONE_MEMORY_FORCE)
    assert mine == src.memoryPeek(BIOS_TOP, 256, libvirt.VIR_MEMORY_PHYSICAL)

    clone = lc.clone_live(src)
    clones.append(clone)
    assert lc.memory_peek(clone, BIOS_TOP, 256) == mine
    with pytest.raises(lc.libvirtCloneError) as excinfo:
        lc.memory_peek(clone, 0xfec00000, 16)        # the IOAPIC
    assert excinfo.value.get_clone_error_code() == lc.VIR_CLONE_ERR_INVALID_ARG
    raw = str(tmp_path / "dump.raw")
    lc.memory_dump(clone, raw)
    with open(raw, "rb") as f:
        f.seek(BIOS_TOP)
        assert f.read(256) == mine
    elf = str(tmp_path / "dump.elf")
    lc.memory_dump(clone, elf, lc.VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF)
    with open(elf, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    assert clone.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    os.unlink(raw)
    os.unlink(elf)
