/*
 * clonememorytest.c: the guest-physical layout as QEMU 10 prints it
 * (src/clone/clone_memory.c); reads from a real guest are in test-memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "clone_internal.h"
#include "clone_memdump.h"
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


/* q35 with 4608 MiB and a VGA, HMP "info ramblock" of QEMU 10.0 */
static const char ramblockQ35[] =
    "              Block Name    PSize              Offset               Used              Total                HVA  RO\r\n"
    "                  pc.ram    4 KiB  0x0000000000000000 0x0000000120000000 0x0000000120000000 0x00007f788fe00000  rw\r\n"
    "    /rom@etc/acpi/tables    4 KiB  0x0000000120080000 0x0000000000020000 0x0000000000200000 0x00007f79f5000000  ro\r\n"
    "                 pc.bios    4 KiB  0x0000000120000000 0x0000000000040000 0x0000000000040000 0x00007f79f5600000  ro\r\n"
    "   0000:00:01.0/vga.vram    4 KiB  0x0000000120300000 0x0000000001000000 0x0000000001000000 0x00007f79e0000000  rw\r\n";


static void
testRamblock(void)
{
    g_autoptr(GPtrArray) b = cloneMemoryParseRamblock(ramblockQ35);
    const cloneMemoryBlock *x;

    g_assert_nonnull(b);
    g_assert_cmpuint(b->len, ==, 4);
    x = g_ptr_array_index(b, 0);
    g_assert_cmpstr(x->name, ==, "pc.ram");
    g_assert_cmpuint(x->used, ==, 0x120000000ULL);
    g_assert_cmpuint(x->hva, ==, 0x7f788fe00000ULL);
    x = g_ptr_array_index(b, 3);
    g_assert_cmpstr(x->name, ==, "0000:00:01.0/vga.vram");
    g_assert_cmpuint(x->hva, ==, 0x7f79e0000000ULL);
    g_assert_null(cloneMemoryParseRamblock("unknown command: 'info ramblock'\r\n"));
}


/* the offsets in the regions, for the block's host addresses */
static void
testMtreeOffsets(void)
{
    g_autoptr(GPtrArray) r = cloneMemoryParseMtree(mtreeQ35);

    g_assert_cmpuint(((cloneMemoryRange *)g_ptr_array_index(r, 0))->regionOffset, ==, 0);
    g_assert_cmpuint(((cloneMemoryRange *)g_ptr_array_index(r, 2))->regionOffset, ==, 0x20000);
    g_assert_cmpuint(((cloneMemoryRange *)g_ptr_array_index(r, 6))->regionOffset, ==, 0x80000000ULL);
}


/* HMP "info registers -a" of QEMU 10.0, a 64-bit Linux guest with two
 * vCPUs (up to EFER of each) */
static const char registersQ35[] =
    "\r\n"
    "CPU#0\r\n"
    "RAX=0000000000000001 RBX=ffff8d10419f3050 RCX=ffffffffa7fb46a8 RDX=ffffffffa7fb46b0\r\n"
    "RSI=ffffffffa7fb46b0 RDI=ffff8d10419f3168 RBP=ffffffffa7fb4680 RSP=ffffd23bc0093b30\r\n"
    "R8 =ffffffffa7fb46b0 R9 =ffff8d11419f8167 R10=ffffffffffffffff R11=ffff8d104111d284\r\n"
    "R12=ffff8d10419f8160 R13=ffff8d10419f3110 R14=ffff8d10419f3168 R15=ffffffffa7fb46b0\r\n"
    "RIP=ffffffffa6b9adb9 RFL=00000287 [--S--PC] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n"
    "ES =0000 0000000000000000 00000000 00000000\r\n"
    "CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]\r\n"
    "SS =0018 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\r\n"
    "DS =0000 0000000000000000 00000000 00000000\r\n"
    "FS =0000 0000000000000000 00000000 00000000\r\n"
    "GS =0000 ffff8d104f400000 00000000 00000000\r\n"
    "LDT=0000 0000000000000000 00000000 00008200 DPL=0 LDT\r\n"
    "TR =0040 fffffe0000003000 00004087 00008900 DPL=0 TSS64-avl\r\n"
    "GDT=     fffffe0000001000 0000007f\r\n"
    "IDT=     fffffe0000000000 00000fff\r\n"
    "CR0=80050033 CR2=0000000000581182 CR3=000000000bc10000 CR4=000006f0\r\n"
    "DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000\r\n"
    "DR6=00000000ffff0ff0 DR7=0000000000000400\r\n"
    "EFER=0000000000000d01\r\n"
    "CPU#1\r\n"
    "RAX=000000000000000e RBX=ffffffffa7b343d0 RCX=ffff8d1041bab880 RDX=000000000000000f\r\n"
    "RSI=ffffffffa78c1c50 RDI=ffff8d10422a5800 RBP=ffff8d10422a5800 RSP=ffffd23bc0013d68\r\n"
    "R8 =0000000000000000 R9 =ffff8d1041bab880 R10=000000003de6dac8 R11=00000000f19d1122\r\n"
    "R12=ffffffffa78c1c50 R13=ffff8d10423d5800 R14=000000000000000c R15=0000000000000010\r\n"
    "RIP=ffffffffa66417e7 RFL=00000212 [----A--] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n"
    "ES =0000 0000000000000000 00000000 00000000\r\n"
    "CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]\r\n"
    "SS =0018 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\r\n"
    "DS =0000 0000000000000000 00000000 00000000\r\n"
    "FS =0000 0000000000000000 00000000 00000000\r\n"
    "GS =0000 ffff8d104f500000 00000000 00000000\r\n"
    "LDT=0000 0000000000000000 00000000 00008200 DPL=0 LDT\r\n"
    "TR =0040 fffffe000003e000 00004087 00008900 DPL=0 TSS64-avl\r\n"
    "GDT=     fffffe000003c000 0000007f\r\n"
    "IDT=     fffffe0000000000 00000fff\r\n"
    "CR0=80050033 CR2=0000000000581182 CR3=000000000bc10000 CR4=000006e0\r\n"
    "DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000\r\n"
    "DR6=00000000ffff0ff0 DR7=0000000000000400\r\n"
    "EFER=0000000000000d01\r\n";


static void
testRegisters(void)
{
    g_autoptr(GArray) cpus = cloneMemoryParseRegisters(registersQ35);
    const cloneMemCPU *c;

    g_assert_nonnull(cpus);
    g_assert_cmpuint(cpus->len, ==, 2);
    c = &g_array_index(cpus, cloneMemCPU, 0);
    g_assert_cmphex(c->rax, ==, 1);
    g_assert_cmphex(c->rbx, ==, 0xffff8d10419f3050ULL);
    g_assert_cmphex(c->rsp, ==, 0xffffd23bc0093b30ULL);
    g_assert_cmphex(c->r8, ==, 0xffffffffa7fb46b0ULL);
    g_assert_cmphex(c->r15, ==, 0xffffffffa7fb46b0ULL);
    g_assert_cmphex(c->rip, ==, 0xffffffffa6b9adb9ULL);
    g_assert_cmphex(c->rflags, ==, 0x287);
    g_assert_cmphex(c->cs.selector, ==, 0x10);
    g_assert_cmphex(c->cs.flags, ==, 0x00af9b00);
    g_assert_cmphex(c->ss.selector, ==, 0x18);
    g_assert_cmphex(c->gs.base, ==, 0xffff8d104f400000ULL);
    g_assert_cmphex(c->tr.base, ==, 0xfffffe0000003000ULL);
    g_assert_cmphex(c->tr.limit, ==, 0x4087);
    g_assert_cmphex(c->gdt.base, ==, 0xfffffe0000001000ULL);
    g_assert_cmphex(c->gdt.limit, ==, 0x7f);
    g_assert_cmphex(c->idt.base, ==, 0xfffffe0000000000ULL);
    g_assert_cmphex(c->cr[0], ==, 0x80050033);
    g_assert_cmphex(c->cr[3], ==, 0xbc10000);
    g_assert_cmphex(c->cr[4], ==, 0x6f0);
    c = &g_array_index(cpus, cloneMemCPU, 1);
    g_assert_cmphex(c->rax, ==, 0xe);
    g_assert_null(cloneMemoryParseRegisters("unknown command\r\n"));
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/mtree/q35", testMtree);
    g_test_add_func("/memory/mtree/none", testMtreeNone);
    g_test_add_func("/memory/gpa2hva", testGpa2hva);
    g_test_add_func("/memory/ramblock", testRamblock);
    g_test_add_func("/memory/registers", testRegisters);
    g_test_add_func("/memory/mtree/offsets", testMtreeOffsets);
    return g_test_run();
}
