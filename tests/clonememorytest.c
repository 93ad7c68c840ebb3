/*
 * clonememorytest.c: the guest-physical layout as QEMU 10 prints it
 * (src/clone/clone_memory.c); reads from a real guest are in test-memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "clone_internal.h"
#include "clone_memory.h"
#include "libvirt-clone/libvirt-clone.h"

/* q35 with 4608 MiB, HMP "info mtree -f" of QEMU 10.0 (shortened) */
static const char mtreeQ35[] =
    "FlatView #0\n"
    " AS \"memory\", root: system\n"
    " AS \"cpu-memory-0\", root: system\n"
    " Root memory region: system\n"
    "  0000000000000000-00000000000bffff (prio 0, ram): pc.ram\n"
    "  00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
    "  00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000\n"
    "  0000000000100000-000000007fffffff (prio 0, ram): pc.ram @0000000000100000\n"
    "  00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram\n"
    "  00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\n"
    "  00000000fed1c000-00000000fed1ffff (prio 1, i/o): lpc-rcrb-mmio\n"
    "  00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
    "  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
    "  0000000100000000-000000019fffffff (prio 0, ram): pc.ram @0000000080000000\n"
    "\n"
    "FlatView #1\n"
    " AS \"cpu-smm-0\", root: memory\n"
    " Root memory region: memory\n"
    "  0000000000000000-00000000000bffff (prio 0, ram): smram-low\n"
    "  0000000200000000-00000002000fffff (prio 0, ram): other\n"
    "\n";


static void
testMtree(void)
{
    g_autoptr(GPtrArray) r = cloneMemoryParseMtree(mtreeQ35);
    const cloneMemoryRange *x;

    g_assert_nonnull(r);
    g_assert_cmpuint(r->len, ==, 7);
    x = g_ptr_array_index(r, 0);
    g_assert_cmpuint(x->gpa, ==, 0);
    g_assert_cmpuint(x->size, ==, 0xc0000);
    g_assert_cmpstr(x->region, ==, "pc.ram");
    g_assert_false(x->readonly);
    x = g_ptr_array_index(r, 2);
    g_assert_cmpstr(x->region, ==, "pc.bios");
    g_assert_true(x->readonly);
    x = g_ptr_array_index(r, 4);
    g_assert_cmpstr(x->region, ==, "vga.vram");
    x = g_ptr_array_index(r, 6);
    g_assert_cmpuint(x->gpa, ==, 0x100000000ULL);
    g_assert_cmpuint(x->size, ==, 0xa0000000ULL);
    g_assert_cmpstr(x->region, ==, "pc.ram");
}


static void
testMtreeNone(void)
{
    virCloneErrorPtr e;

    g_assert_null(cloneMemoryParseMtree("FlatView #0\n AS \"I/O\", root: io\n"
                                        "  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan\n"));
    e = virCloneGetLastError();
    g_assert_nonnull(e);
    g_assert_cmpint(e->code, ==, VIR_CLONE_ERR_QEMU);
    g_assert_null(cloneMemoryParseMtree(""));
}


static void
testGpa2hva(void)
{
    unsigned long long hva = 0;

    g_assert_cmpint(cloneMemoryParseGpa2hva("Host virtual address for 0x100000000 (pc.ram) is 0x7f790fe00000\r\n",
                                            &hva), ==, 0);
    g_assert_cmpuint(hva, ==, 0x7f790fe00000ULL);
    g_assert_cmpint(cloneMemoryParseGpa2hva("Memory at address 0xfec00000 is not RAM\r\n", &hva), ==, -1);
    g_assert_cmpint(cloneMemoryParseGpa2hva("No memory is mapped at address 0xf0000000\r\n", &hva), ==, -1);
    g_assert_cmpint(cloneMemoryParseGpa2hva(NULL, &hva), ==, -1);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/mtree/q35", testMtree);
    g_test_add_func("/memory/mtree/none", testMtreeNone);
    g_test_add_func("/memory/gpa2hva", testGpa2hva);
    return g_test_run();
}
