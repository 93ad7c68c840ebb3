/*
 * clonetest-format.h: on-RAM and on-disk layouts shared by the test guest's
 * workload (built -static, no GLib) and the host-side checker (guestcheck.c).
 *
 * All integers are little-endian (x86_64 guest and host).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The integrity attack module (attack/) in the guest, and its report */
#define CLONETEST_ATTACK_KO "/lib/modules/clonetest_attack.ko"
#define CLONETEST_ATTACK_REPORT "/sys/module/clonetest_attack/parameters/report"

#define CLONETEST_PAGE_SIZE 4096u
#define CLONETEST_RECORD_SIZE 4096u

/* Magics are the ASCII strings stored as little-endian 64-bit words, so the
 * first 8 bytes of a page/record read "CLNPAGE1" etc. in a hex dump. */
#define CLONETEST_MAGIC(a, b, c, d, e, f, g, h) \
    ((uint64_t)(a) | (uint64_t)(b) << 8 | (uint64_t)(c) << 16 | \
     (uint64_t)(d) << 24 | (uint64_t)(e) << 32 | (uint64_t)(f) << 40 | \
     (uint64_t)(g) << 48 | (uint64_t)(h) << 56)

#define CLONETEST_PAGE_MAGIC CLONETEST_MAGIC('C', 'L', 'N', 'P', 'A', 'G', 'E', '1')
#define CLONETEST_STAT_MAGIC CLONETEST_MAGIC('C', 'L', 'N', 'S', 'T', 'A', 'T', '1')
#define CLONETEST_REC_MAGIC CLONETEST_MAGIC('C', 'L', 'N', 'R', 'E', 'C', '0', '1')

#define CLONETEST_NO_INFLIGHT UINT64_MAX

/* Header at the start of every 4 KiB page of the workload's buffer. */
typedef struct {
    uint64_t magic;
    uint64_t nonce;
    uint64_t index;
    uint64_t counter;
} ClonetestPage;

/* The workload's status page (a separate 4 KiB page). */
typedef struct {
    uint64_t magic;
    uint64_t nonce;
    uint64_t passes;
    uint64_t records_committed;
    uint64_t record_inflight;
    uint64_t npages;
} ClonetestStatus;

/* Header of a 4096-byte disk record at offset seq * 4096; rest is zero. */
typedef struct {
    uint64_t magic;
    uint64_t seq;
    uint64_t disk_id;
    uint64_t boot_count;
    uint32_t crc32;
} __attribute__((packed)) ClonetestRecord;

#define CLONETEST_RECORD_CRC_LEN offsetof(ClonetestRecord, crc32)

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()), bitwise: records are
 * short, speed does not matter. */
static inline uint32_t
clonetestCrc32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t crc = 0xffffffffu;
    size_t i;
    int bit;

    for (i = 0; i < len; i++) {
        crc ^= p[i];
        for (bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1u));
    }
    return ~crc;
}

/* Is @rec a valid record for position @seq?  @disk_id 0 accepts any id. */
static inline int
clonetestRecordValid(const ClonetestRecord *rec, uint64_t seq, uint64_t disk_id)
{
    if (rec->magic != CLONETEST_REC_MAGIC || rec->seq != seq)
        return 0;
    if (disk_id != 0 && rec->disk_id != disk_id)
        return 0;
    return rec->crc32 == clonetestCrc32(rec, CLONETEST_RECORD_CRC_LEN);
}

/* "mempattern" (workload.c): word @k (8 bytes) of the page at guest-physical
 * address @gpa holds this, so that a reader on the host checks both the
 * bytes and where they are. */
#define CLONETEST_MEMPATTERN_PAGES 8u

static inline uint64_t
clonetestMemWord(uint64_t seed, uint64_t gpa, uint64_t k)
{
    return (seed ^ (gpa + 8 * k)) * 0x9E3779B97F4A7C15ull;
}
