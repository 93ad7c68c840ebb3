/*
 * workload.c: the test guest's main job (PID 1, exec'd by tests/guest/init).
 *
 * Built with: gcc -static -O2 -pthread.  No GLib: it runs in a bare initramfs.
 *
 * - Keeps an mlocked buffer of N MiB whose 4 KiB pages each start with a
 *   ClonetestPage header; in busy mode it increments the counters page after
 *   page, forever, so at any instant pages [0,k) hold N+1 and [k,n) hold N.
 * - Keeps a ClonetestStatus page up to date.
 * - Appends 4 KiB ClonetestRecords to a raw block device with O_DIRECT and
 *   O_DSYNC, continuing after the contiguous valid run found at boot.
 * - Reports on stdout ("CLONETEST ..." lines) and takes commands on stdin,
 *   among them queries of the guest's identity (host name, machine ID, boot
 *   ID, MAC and IPv4 addresses, VM generation ID), its kernel log and its
 *   TPM.
 * - Reaps the background jobs that init leaves to it (PID 1), and gets the
 *   kernel's CRNG initialised (see crng_thread()).
 *
 * See tests/guest/README.md for the protocol.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <linux/if_ether.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "clonetest-format.h"

#ifndef GRND_INSECURE
# define GRND_INSECURE 0x0004
#endif

#define SCAN_CHUNK_RECORDS 256

enum { MODE_IDLE = 0, MODE_BUSY = 1 };

typedef struct {
    int mode;
    uint64_t mib;
    char disk[256];
    uint64_t diskhz;
    char probe[256];       /* clonetest.probe=A,B: probe from boot on */
    uint64_t rate;         /* busy: pages per second, 0 = as fast as it can */
} Config;

static Config cfg = { MODE_BUSY, 128, "/dev/vda", 20, "", 0 };

static volatile ClonetestStatus *status;
static char *buffer;
static uint64_t npages;

static atomic_int mode_req;           /* what the control thread asked for */
static atomic_int mode_cur;           /* what the memory loop is doing */
static atomic_int disk_on;
static atomic_uint_fast64_t pages_done;
static atomic_uint_fast64_t rate_req;     /* busy: pages per second, 0 = unlimited */
static atomic_uint_fast64_t records_committed;

static int disk_fd = -1;
static uint64_t disk_records_max;
static uint64_t disk_id;
static uint64_t boot_count;

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;


static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
    char line[2048];            /* "tpm pcrs" is ~1.7 KB */
    int len;
    va_list ap;

    memcpy(line, "CLONETEST ", 10);
    va_start(ap, fmt);
    len = vsnprintf(line + 10, sizeof(line) - 11, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    len += 10;
    if (len > (int)sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';

    pthread_mutex_lock(&out_lock);
    if (write(STDOUT_FILENO, line, len) < 0) {
        /* nowhere to report it */
    }
    pthread_mutex_unlock(&out_lock);
}


/* We are PID 1: exiting would panic the kernel, so power off instead. */
static void __attribute__((noreturn))
fatal(const char *what, int err)
{
    say("fatal %s: %s", what, strerror(err));
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}


static uint64_t
now_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}


static void
sleep_ms(unsigned int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}


/* Sleep until the absolute CLOCK_MONOTONIC time @deadline_ns. */
static void
sleep_until(uint64_t deadline_ns)
{
    struct timespec ts = { deadline_ns / 1000000000ull,
                           deadline_ns % 1000000000ull };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}


/* Never blocks, even before the kernel's pool is initialised; never 0. */
static uint64_t
random_u64(void)
{
    uint64_t v = 0;

    if (getrandom(&v, sizeof(v), GRND_INSECURE) != sizeof(v) &&
        getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
        v = now_ns(CLOCK_REALTIME) * 0x9e3779b97f4a7c15ull ^ now_ns(CLOCK_MONOTONIC);
    return v ? v : 1;
}


static const char *
mode_name(int mode)
{
    return mode == MODE_IDLE ? "idle" : "busy";
}


static void
parse_param(const char *key, const char *val)
{
    if (strcmp(key, "mode") == 0)
        cfg.mode = strcmp(val, "idle") == 0 ? MODE_IDLE : MODE_BUSY;
    else if (strcmp(key, "mib") == 0)
        cfg.mib = strtoull(val, NULL, 10);
    else if (strcmp(key, "disk") == 0)
        snprintf(cfg.disk, sizeof(cfg.disk), "%s", val);
    else if (strcmp(key, "diskhz") == 0)
        cfg.diskhz = strtoull(val, NULL, 10);
    else if (strcmp(key, "probe") == 0)
        snprintf(cfg.probe, sizeof(cfg.probe), "%s", val);
    else if (strcmp(key, "rate") == 0)
        cfg.rate = strtoull(val, NULL, 10);
}


static void
parse_cmdline(void)
{
    char buf[4096];
    char *save = NULL;
    char *tok;
    ssize_t len;
    int fd;

    if ((fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC)) < 0)
        return;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return;
    buf[len] = '\0';

    for (tok = strtok_r(buf, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save)) {
        char *eq;

        if (strncmp(tok, "clonetest.", 10) != 0 || !(eq = strchr(tok, '=')))
            continue;
        *eq = '\0';
        parse_param(tok + 10, eq + 1);
    }
    if (cfg.mib == 0)
        cfg.mib = 1;
}


/* Anonymous memory that stays on the same physical frames for our whole
 * life, so that a RAM dump holds exactly one copy of each page: no THP
 * (khugepaged would copy pages into a huge page and leave the old frames
 * behind), and mlocked (no swap, no compaction: init sets
 * vm.compact_unevictable_allowed=0).  mlock() populates the mapping, like
 * MAP_POPULATE, but only after the madvise(). */
static void *
map_locked(size_t len, const char *what)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        fatal(what, errno);
    if (madvise(p, len, MADV_NOHUGEPAGE) < 0 || mlock(p, len) < 0)
        fatal(what, errno);
    return p;
}


static void
memory_init(uint64_t nonce)
{
    uint64_t i;

    npages = cfg.mib * 1024 * 1024 / CLONETEST_PAGE_SIZE;
    status = map_locked(CLONETEST_PAGE_SIZE, "mmap status page");
    buffer = map_locked(npages * CLONETEST_PAGE_SIZE, "mmap buffer");

    for (i = 0; i < npages; i++) {
        volatile ClonetestPage *p = (void *)(buffer + i * CLONETEST_PAGE_SIZE);

        p->nonce = nonce;
        p->index = i;
        p->counter = 0;
        p->magic = CLONETEST_PAGE_MAGIC;
    }

    status->nonce = nonce;
    status->passes = 0;
    status->records_committed = 0;
    status->record_inflight = CLONETEST_NO_INFLIGHT;
    status->npages = npages;
    status->magic = CLONETEST_STAT_MAGIC;
}


/* Park while idle is requested; publish the mode actually in effect. */
static void
memory_wait_busy(void)
{
    atomic_store(&mode_cur, MODE_IDLE);
    while (atomic_load(&mode_req) == MODE_IDLE)
        sleep_ms(10);
    atomic_store(&mode_cur, MODE_BUSY);
}


/* With a rate, busy mode dirties that many pages per second, in page
 * order: every 64 pages it sleeps until it is no longer ahead of the
 * schedule that began when the rate (or busy mode) was set. */
static void
memory_pace(uint64_t done, uint64_t *rate, uint64_t *t0, uint64_t *done0)
{
    uint64_t want = atomic_load_explicit(&rate_req, memory_order_relaxed);
    uint64_t due;

    if (want != *rate) {
        *rate = want;
        *t0 = now_ns(CLOCK_MONOTONIC);
        *done0 = done;
    }
    if (!*rate)
        return;
    due = *t0 + (done - *done0) * 1000000000ull / *rate;
    while (now_ns(CLOCK_MONOTONIC) < due)
        sleep_ms(1);
}


static void __attribute__((noreturn))
memory_loop(void)
{
    uint64_t done = 0;
    uint64_t rate = 0;
    uint64_t t0 = 0;
    uint64_t done0 = 0;
    uint64_t i;

    for (;;) {
        for (i = 0; i < npages; i++) {
            volatile ClonetestPage *p = (void *)(buffer + i * CLONETEST_PAGE_SIZE);

            if (atomic_load_explicit(&mode_req, memory_order_relaxed) == MODE_IDLE) {
                memory_wait_busy();
                rate = 0;     /* a new schedule from now */
            }
            if ((done & 63) == 0)
                memory_pace(done, &rate, &t0, &done0);
            /* volatile: one load and one store per page, in page order */
            p->counter = p->counter + 1;
            atomic_store_explicit(&pages_done, ++done, memory_order_relaxed);
        }
        status->passes = status->passes + 1;
    }
}


static int
disk_open(void)
{
    uint64_t bytes = 0;

    disk_fd = open(cfg.disk, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
    if (disk_fd < 0)
        fatal(cfg.disk, errno);
    if (ioctl(disk_fd, BLKGETSIZE64, &bytes) < 0)
        fatal("BLKGETSIZE64", errno);
    disk_records_max = bytes / CLONETEST_RECORD_SIZE;
    return 0;
}


/* Check the records in @chunk (first one is @seq); return how many of them
 * continue the valid run. */
static uint64_t
disk_scan_chunk(const char *chunk, uint64_t nrec, uint64_t seq)
{
    uint64_t i;

    for (i = 0; i < nrec; i++) {
        const ClonetestRecord *rec = (const void *)(chunk + i * CLONETEST_RECORD_SIZE);

        if (!clonetestRecordValid(rec, seq + i, disk_id))
            return i;
        if (seq + i == 0)
            disk_id = rec->disk_id;
        boot_count = rec->boot_count;
    }
    return nrec;
}


/* Find the contiguous run of valid records from record 0. */
static uint64_t
disk_scan(void)
{
    size_t chunk_len = SCAN_CHUNK_RECORDS * CLONETEST_RECORD_SIZE;
    uint64_t found = 0;
    char *chunk;

    if (posix_memalign((void **)&chunk, CLONETEST_RECORD_SIZE, chunk_len) != 0)
        fatal("posix_memalign", ENOMEM);

    while (found < disk_records_max) {
        uint64_t want = disk_records_max - found;
        uint64_t ok;
        ssize_t got;

        if (want > SCAN_CHUNK_RECORDS)
            want = SCAN_CHUNK_RECORDS;
        got = pread(disk_fd, chunk, want * CLONETEST_RECORD_SIZE,
                    (off_t)(found * CLONETEST_RECORD_SIZE));
        if (got < 0)
            fatal("scanning disk", errno);
        want = (uint64_t)got / CLONETEST_RECORD_SIZE;
        ok = disk_scan_chunk(chunk, want, found);
        found += ok;
        if (ok < want || want == 0)
            break;
    }
    free(chunk);

    if (found == 0)
        disk_id = random_u64();
    boot_count++;
    return found;
}


static int
disk_write_record(char *rec_buf, uint64_t seq)
{
    ClonetestRecord *rec = (void *)rec_buf;

    memset(rec_buf, 0, CLONETEST_RECORD_SIZE);
    rec->magic = CLONETEST_REC_MAGIC;
    rec->seq = seq;
    rec->disk_id = disk_id;
    rec->boot_count = boot_count;
    rec->crc32 = clonetestCrc32(rec, CLONETEST_RECORD_CRC_LEN);

    status->record_inflight = seq;
    if (pwrite(disk_fd, rec_buf, CLONETEST_RECORD_SIZE,
               (off_t)(seq * CLONETEST_RECORD_SIZE)) != CLONETEST_RECORD_SIZE ||
        fdatasync(disk_fd) < 0) {
        say("diskerror seq=%" PRIu64 " error=%s", seq, strerror(errno));
        return -1;
    }
    status->records_committed = seq + 1;
    status->record_inflight = CLONETEST_NO_INFLIGHT;
    atomic_store(&records_committed, seq + 1);
    return 0;
}


static void *
disk_thread(void *opaque)
{
    uint64_t seq = atomic_load(&records_committed);
    uint64_t period = cfg.diskhz ? 1000000000ull / cfg.diskhz : 0;
    uint64_t next = now_ns(CLOCK_MONOTONIC);
    char *rec_buf;

    (void)opaque;
    if (posix_memalign((void **)&rec_buf, CLONETEST_RECORD_SIZE, CLONETEST_RECORD_SIZE) != 0)
        fatal("posix_memalign", ENOMEM);

    for (;;) {
        if (!atomic_load(&disk_on)) {
            sleep_ms(50);
            next = now_ns(CLOCK_MONOTONIC);
            continue;
        }
        if (seq >= disk_records_max) {
            say("diskfull records=%" PRIu64, seq);
            break;
        }
        if (disk_write_record(rec_buf, seq) < 0)
            break;
        seq++;
        if (period) {
            next += period;
            sleep_until(next);
        }
    }
    free(rec_buf);
    return NULL;
}


static void
report_stat(uint64_t *last_pages, uint64_t *last_ns)
{
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    uint64_t pages = atomic_load(&pages_done);
    uint64_t dt = now - *last_ns;
    uint64_t rate = dt ? (pages - *last_pages) * 1000000000ull / dt : 0;

    say("stat t=%" PRIu64 " passes=%" PRIu64 " pages_per_s=%" PRIu64
        " records=%" PRIu64 " mode=%s disk=%s",
        now_ns(CLOCK_BOOTTIME) / 1000000, status->passes, rate,
        (uint64_t)atomic_load(&records_committed),
        mode_name(atomic_load(&mode_cur)),
        atomic_load(&disk_on) ? "on" : "off");
    *last_pages = pages;
    *last_ns = now;
}


static pthread_mutex_t stat_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t stat_last_pages;
static uint64_t stat_last_ns;

static void
report_stat_now(void)
{
    pthread_mutex_lock(&stat_lock);
    report_stat(&stat_last_pages, &stat_last_ns);
    pthread_mutex_unlock(&stat_lock);
}


static void *
stat_thread(void *opaque)
{
    uint64_t next = now_ns(CLOCK_MONOTONIC);

    (void)opaque;
    for (;;) {
        next += 1000000000ull;
        sleep_until(next);
        report_stat_now();
    }
    return NULL;
}



/* ---- network probes ---------------------------------------------------- */

/* "probe A,B,...": once a second, try to reach each IPv4 address with an
 * ICMP echo, a UDP datagram to port 9 and a TCP connection to port 80 (ARP
 * comes with them).  "probe off" stops.  Used to check that a sandbox
 * clone reaches nothing and that every attempt is seen. */
#define PROBE_MAX 8
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct in_addr probe_addrs[PROBE_MAX];
static int probe_count;

static uint16_t
icmp_checksum(const void *data, size_t len)
{
    const uint16_t *p = data;
    uint32_t sum = 0;

    for (; len > 1; len -= 2)
        sum += *p++;
    if (len)
        sum += *(const uint8_t *)p;
    sum = (sum >> 16) + (sum & 0xffff);
    sum += sum >> 16;
    return (uint16_t)~sum;
}


/* An ARP who-has for @addr on eth0, whatever the neighbour cache holds: a
 * clone inherits the source's warm cache and would not ask for a while. */
static void
probe_arp(struct in_addr addr)
{
    struct {
        struct arphdr h;
        unsigned char sha[6], spa[4], tha[6], tpa[4];
    } __attribute__((packed)) req = { 0 };
    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_halen = 6 };
    struct ifreq ifr = { 0 };
    int fd;

    if ((fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP))) < 0)
        return;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
    if (ioctl(fd, SIOCGIFINDEX, &ifr) == 0) {
        to.sll_ifindex = ifr.ifr_ifindex;
        memset(to.sll_addr, 0xff, 6);
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
            memcpy(req.sha, ifr.ifr_hwaddr.sa_data, 6);
        ifr.ifr_addr.sa_family = AF_INET;
        if (ioctl(fd, SIOCGIFADDR, &ifr) == 0)
            memcpy(req.spa, &((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr, 4);
        req.h.ar_hrd = htons(ARPHRD_ETHER);
        req.h.ar_pro = htons(ETH_P_IP);
        req.h.ar_hln = 6;
        req.h.ar_pln = 4;
        req.h.ar_op = htons(ARPOP_REQUEST);
        memcpy(req.tpa, &addr, 4);
        sendto(fd, &req, sizeof(req), MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
    }
    close(fd);
}


static void
probe_one(struct in_addr addr, uint16_t seq)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = addr };
    struct icmphdr icmp = { .type = ICMP_ECHO };
    static const char payload[] = "clonetest-probe";
    int fd;

    probe_arp(addr);
    icmp.un.echo.id = htons(0xc10e);
    icmp.un.echo.sequence = htons(seq);
    icmp.checksum = icmp_checksum(&icmp, sizeof(icmp));
    if ((fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)) >= 0) {
        sendto(fd, &icmp, sizeof(icmp), MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
    }
    sa.sin_port = htons(9);
    if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0) {
        sendto(fd, payload, sizeof(payload), MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
    }
    sa.sin_port = htons(80);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) >= 0) {
        connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
    }
}


static void *
probe_thread(void *opaque)
{
    uint16_t seq = 0;

    (void)opaque;
    for (;;) {
        struct in_addr addrs[PROBE_MAX];
        int n;

        pthread_mutex_lock(&probe_lock);
        n = probe_count;
        memcpy(addrs, probe_addrs, sizeof(addrs));
        pthread_mutex_unlock(&probe_lock);
        for (int i = 0; i < n; i++)
            probe_one(addrs[i], seq);
        seq++;
        sleep_ms(1000);
    }
    return NULL;
}


/* Parses "A,B,..." (or "off"); returns 0, or -1 on a bad address. */
static int
probe_set(const char *list)
{
    struct in_addr addrs[PROBE_MAX];
    char buf[256];
    int n = 0;

    if (strcmp(list, "off") != 0) {
        snprintf(buf, sizeof(buf), "%s", list);
        for (char *tok = strtok(buf, ","); tok && n < PROBE_MAX; tok = strtok(NULL, ","))
            if (inet_pton(AF_INET, tok, &addrs[n++]) != 1)
                return -1;
    }
    pthread_mutex_lock(&probe_lock);
    memcpy(probe_addrs, addrs, sizeof(addrs));
    probe_count = n;
    pthread_mutex_unlock(&probe_lock);
    return 0;
}


/* ---- identity ---------------------------------------------------------- */

#define FW_CFG_DIR "/sys/firmware/qemu_fw_cfg"
#define FW_CFG_VMGENID_ADDR FW_CFG_DIR "/by_name/etc/vmgenid_addr/raw"
#define GENID_SIZE 16

/* First line of a small file, without its line end; -1 with errno set if
 * it cannot be read. */
static int
read_first_line(const char *path, char *buf, size_t size)
{
    ssize_t len;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    len = read(fd, buf, size - 1);
    if (len < 0) {
        int err = errno;

        close(fd);
        errno = err;
        return -1;
    }
    close(fd);
    buf[len] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}


static int
is_hex(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    }
    return s[len] == '\0';
}


static void
hex_encode(const uint8_t *data, size_t len, char *out)
{
    size_t i;

    for (i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", data[i]);
}


/* eth0's IPv4 addresses as "A/P,B/P,...", or "none".  getifaddrs() asks
 * the kernel over netlink: it works in a static binary (no NSS). */
static void
identity_ipv4(char *out, size_t size)
{
    struct ifaddrs *list;
    struct ifaddrs *ifa;
    size_t used = 0;

    snprintf(out, size, "none");
    if (getifaddrs(&list) < 0)
        return;
    for (ifa = list; ifa; ifa = ifa->ifa_next) {
        char addr[INET_ADDRSTRLEN];
        uint32_t mask = 0xffffffff;
        int n;

        if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET ||
            strcmp(ifa->ifa_name, "eth0") != 0)
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr,
                  addr, sizeof(addr));
        if (ifa->ifa_netmask)
            mask = ntohl(((struct sockaddr_in *)ifa->ifa_netmask)->sin_addr.s_addr);
        n = snprintf(out + used, size - used, "%s%s/%d", used ? "," : "", addr,
                     __builtin_popcount(mask));
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += n;
    }
    freeifaddrs(list);
}


/* The VM generation ID as the guest sees it, in @hex (2 * GENID_SIZE + 1
 * bytes): the 16 bytes at the guest-physical address that the firmware
 * wrote into fw_cfg's etc/vmgenid_addr.  QEMU points it at the GUID itself
 * (VMGENID_GUID_OFFSET, 40 bytes into the page the firmware allocated),
 * writes every new ID there and the kernel's vmgenid driver reads it there
 * (ACPI ADDR gives the same address).  Read through a /dev/mem mapping:
 * the page is firmware-reserved, not System RAM, so STRICT_DEVMEM allows
 * it, but read() of /dev/mem refuses it (EFAULT: it lies above the end of
 * System RAM).  Returns 1, 0 if the domain has no vmgenid device, or
 * -errno. */
static int
identity_genid(char *hex)
{
    uint8_t addr_le[8];
    uint8_t guid[GENID_SIZE];
    uint64_t addr = 0;
    size_t page_size = sysconf(_SC_PAGESIZE);
    size_t off;
    void *page;
    ssize_t n;
    int fd;
    int i;

    if (access(FW_CFG_DIR, F_OK) < 0)
        return -errno;          /* qemu_fw_cfg not loaded */
    if ((fd = open(FW_CFG_VMGENID_ADDR, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -errno;
    n = read(fd, addr_le, sizeof(addr_le));
    close(fd);
    if (n != (ssize_t)sizeof(addr_le))
        return n < 0 ? -errno : -EIO;
    for (i = 7; i >= 0; i--)
        addr = addr << 8 | addr_le[i];
    if (addr == 0)
        return -ENXIO;          /* the firmware did not link it */
    off = addr % page_size;
    if (off + sizeof(guid) > page_size)
        return -EINVAL;         /* QEMU allocates it a page of its own */

    if ((fd = open("/dev/mem", O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    page = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, (off_t)(addr - off));
    close(fd);
    if (page == MAP_FAILED)
        return -errno;
    memcpy(guid, (const uint8_t *)page + off, sizeof(guid));
    munmap(page, page_size);
    hex_encode(guid, sizeof(guid), hex);
    return 1;
}


static void
cmd_identity(const char *cmd)
{
    char host[256] = "";
    char machine_id[64];
    char boot_id[64];
    char mac[64];
    char ipv4[256];
    char genid[2 * GENID_SIZE + 1] = "none";
    int rc;

    if ((rc = identity_genid(genid)) < 0) {
        say("nak %s (genid: %s)", cmd, strerror(-rc));
        return;
    }
    gethostname(host, sizeof(host) - 1);
    if (read_first_line("/etc/machine-id", machine_id, sizeof(machine_id)) < 0 ||
        !is_hex(machine_id, 32))
        snprintf(machine_id, sizeof(machine_id), "none");
    if (read_first_line("/proc/sys/kernel/random/boot_id", boot_id, sizeof(boot_id)) < 0)
        snprintf(boot_id, sizeof(boot_id), "none");
    if (read_first_line("/sys/class/net/eth0/address", mac, sizeof(mac)) < 0 || !mac[0])
        snprintf(mac, sizeof(mac), "none");
    identity_ipv4(ipv4, sizeof(ipv4));

    say("ack %s", cmd);
    say("identity hostname=%s machine_id=%s boot_id=%s mac=%s ipv4=%s genid=%s",
        host[0] ? host : "none", machine_id, boot_id, mac, ipv4, genid);
}


/* ---- kernel log -------------------------------------------------------- */

/* "kmsg TEXT": the first record of the kernel's log buffer (from its
 * start) whose message contains TEXT.  /dev/kmsg gives one record a read:
 * "PRIO,SEQ,USEC,FLAGS;MESSAGE\n" then " KEY=VALUE" lines. */
static void
cmd_kmsg(const char *cmd, const char *needle)
{
    char rec[8192];
    char found[1024] = "";
    int match = 0;
    ssize_t n;
    int fd;

    if ((fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
        say("nak %s (/dev/kmsg: %s)", cmd, strerror(errno));
        return;
    }
    while (!match) {
        char *text;

        n = read(fd, rec, sizeof(rec) - 1);
        if (n < 0 && (errno == EPIPE || errno == EINTR))
            continue;           /* EPIPE: overwritten while we read */
        if (n <= 0)
            break;              /* EAGAIN: the end */
        rec[n] = '\0';
        if (!(text = strchr(rec, ';')))
            continue;
        text++;
        text[strcspn(text, "\n")] = '\0';
        if (strstr(text, needle)) {
            snprintf(found, sizeof(found), "%s", text);
            match = 1;
        }
    }
    if (!match && n < 0 && errno != EAGAIN) {
        say("nak %s (/dev/kmsg: %s)", cmd, strerror(errno));
        close(fd);
        return;
    }
    close(fd);
    say("ack %s", cmd);
    say("kmsg found=%d line=%s", match, found);
}


/* ---- kernel attacks (the integrity watch's tests) ---------------------- */


/* The address of kernel symbol @name in /proc/kallsyms, or 0. */
static unsigned long long
kallsyms_address(const char *name)
{
    unsigned long long addr = 0;
    char line[256];
    FILE *f = fopen("/proc/kallsyms", "re");

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long a;
        char type;
        char sym[200];

        if (sscanf(line, "%llx %c %199s", &a, &type, sym) == 3 && strcmp(sym, name) == 0) {
            addr = a;
            break;
        }
    }
    fclose(f);
    return addr;
}


/* Load the attack module (build-guest.sh) with "attack=@kind", read its
 * report, unload it: what it changed stays.  "attack KIND": ack, then
 * "CLONETEST attack report=status=0 KIND ..."; "module benign" (@kind
 * "none"): the same with a module that changes nothing.  A module that
 * could not do its attack (status != 0) is a nak with its report. */
static void
cmd_attack(const char *cmd, const char *kind)
{
    char param[64];
    char report[512] = "";
    ssize_t n;
    int fd;

    if (strcmp(kind, "idt") != 0 && strcmp(kind, "text") != 0 &&
        strcmp(kind, "smep") != 0 && strcmp(kind, "none") != 0) {
        say("nak %s (usage: attack idt|text|smep)", cmd);
        return;
    }
    if ((fd = open(CLONETEST_ATTACK_KO, O_RDONLY | O_CLOEXEC)) < 0) {
        say("nak %s (%s: %s)", cmd, CLONETEST_ATTACK_KO, strerror(errno));
        return;
    }
    if (strcmp(kind, "smep") == 0) {
        unsigned long long pinned = kallsyms_address("cr4_pinned_bits");

        if (!pinned) {
            say("nak %s (cr4_pinned_bits is not in /proc/kallsyms)", cmd);
            close(fd);
            return;
        }
        snprintf(param, sizeof(param), "attack=%s pinned=0x%llx", kind, pinned);
    } else {
        snprintf(param, sizeof(param), "attack=%s", kind);
    }
    if (syscall(SYS_finit_module, fd, param, 0) < 0) {
        say("nak %s (finit_module: %s)", cmd, strerror(errno));
        close(fd);
        return;
    }
    close(fd);
    if ((fd = open(CLONETEST_ATTACK_REPORT, O_RDONLY | O_CLOEXEC)) >= 0) {
        if ((n = read(fd, report, sizeof(report) - 1)) > 0)
            report[n] = '\0';
        close(fd);
    }
    report[strcspn(report, "\r\n")] = '\0';
    if (syscall(SYS_delete_module, "clonetest_attack", O_NONBLOCK) < 0) {
        say("nak %s (delete_module: %s; report %s)", cmd, strerror(errno), report);
        return;
    }
    if (strncmp(report, "status=0 ", 9) != 0) {
        say("nak %s (%s)", cmd, report[0] ? report : "no report");
        return;
    }
    say("ack %s", cmd);
    say("attack report=%s", report);
}


/* "timestamp on": a UDP socket with SO_TIMESTAMP, kept open, which turns on
 * the kernel's netstamp_needed_key static key (a legitimate change of kernel
 * text); "timestamp off" closes it. */
static int timestamp_fd = -1;

static int
timestamp_set(int on)
{
    int one = 1;

    if (!on) {
        if (timestamp_fd >= 0)
            close(timestamp_fd);
        timestamp_fd = -1;
        return 0;
    }
    if (timestamp_fd >= 0)
        return 0;
    if ((timestamp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    if (setsockopt(timestamp_fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) < 0) {
        int err = errno;

        close(timestamp_fd);
        timestamp_fd = -1;
        return -err;
    }
    return 0;
}


/* ---- TPM --------------------------------------------------------------- */

#define TPM_SYSFS "/sys/class/tpm/tpm0"
#define TPM_PCRS 24
#define SHA256_SIZE 32

#define TPM_ST_SESSIONS 0x8002
#define TPM_CC_PCR_EXTEND 0x00000182
#define TPM_RS_PW 0x40000009
#define TPM_ALG_SHA256 0x000b

/* "tpm pcrs": " 0=HEX 1=HEX ... 23=HEX" (SHA-256 bank, lower case) in
 * @out; returns 1, 0 if there is no TPM, or -errno. */
static int
tpm_read_pcrs(char *out, size_t size)
{
    size_t used = 0;
    int i;

    if (access(TPM_SYSFS, F_OK) < 0)
        return errno == ENOENT ? 0 : -errno;
    for (i = 0; i < TPM_PCRS; i++) {
        char path[128];
        char val[160];
        int n;

        snprintf(path, sizeof(path), TPM_SYSFS "/pcr-sha256/%d", i);
        if (read_first_line(path, val, sizeof(val)) < 0)
            return -errno;
        if (!is_hex(val, 2 * SHA256_SIZE))
            return -EPROTO;
        for (char *c = val; *c; c++)
            *c = tolower((unsigned char)*c);
        n = snprintf(out + used, size - used, " %d=%s", i, val);
        if (n < 0 || (size_t)n >= size - used)
            return -ENOBUFS;
        used += n;
    }
    return 1;
}


static void
cmd_tpm_pcrs(const char *cmd)
{
    char pcrs[TPM_PCRS * (4 + 2 * SHA256_SIZE) + 1];
    int rc = tpm_read_pcrs(pcrs, sizeof(pcrs));

    if (rc < 0) {
        say("nak %s (%s)", cmd, strerror(-rc));
        return;
    }
    say("ack %s", cmd);
    if (rc == 0)
        say("tpm none");
    else
        say("tpm pcrs%s", pcrs);
}


static uint8_t *
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
    return p + 2;
}


static uint8_t *
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
    return p + 4;
}


/* TPM2_PCR_Extend(@pcr, SHA-256 @digest) with an empty password session
 * (TPM_RS_PW); returns the TPM's response code, or -errno. */
static long
tpm_extend(unsigned int pcr, const uint8_t *digest)
{
    uint8_t req[128];
    uint8_t rsp[4096];
    uint8_t *p = req;
    ssize_t n;
    int fd;

    p = put_be16(p, TPM_ST_SESSIONS);
    p = put_be32(p, 0);                 /* commandSize, below */
    p = put_be32(p, TPM_CC_PCR_EXTEND);
    p = put_be32(p, pcr);               /* pcrHandle: PCR n is handle n */
    p = put_be32(p, 9);                 /* authorizationSize */
    p = put_be32(p, TPM_RS_PW);         /* sessionHandle */
    p = put_be16(p, 0);                 /* nonceCaller: empty */
    *p++ = 0;                           /* sessionAttributes */
    p = put_be16(p, 0);                 /* hmac (password): empty */
    p = put_be32(p, 1);                 /* TPML_DIGEST_VALUES.count */
    p = put_be16(p, TPM_ALG_SHA256);
    memcpy(p, digest, SHA256_SIZE);
    p += SHA256_SIZE;
    put_be32(req + 2, p - req);

    if ((fd = open("/dev/tpmrm0", O_RDWR | O_CLOEXEC)) < 0 &&
        (fd = open("/dev/tpm0", O_RDWR | O_CLOEXEC)) < 0)
        return -errno;
    n = write(fd, req, p - req);
    if (n == p - req)
        n = read(fd, rsp, sizeof(rsp));
    else if (n >= 0) {
        n = -1;                 /* the driver takes a command whole */
        errno = EIO;
    }
    if (n < 0) {
        int err = errno;

        close(fd);
        return -err;
    }
    close(fd);
    if (n < 10)
        return -EPROTO;
    return (long)((uint32_t)rsp[6] << 24 | rsp[7] << 16 | rsp[8] << 8 | rsp[9]);
}


/* "tpm extend N HEX": ack if the TPM accepted it, else nak with the code. */
static void
cmd_tpm_extend(const char *cmd, const char *args)
{
    uint8_t digest[SHA256_SIZE];
    char hex[2 * SHA256_SIZE + 2];
    unsigned int pcr;
    long rc;
    int i;

    if (sscanf(args, "%u %65s", &pcr, hex) != 2 || pcr >= TPM_PCRS ||
        !is_hex(hex, 2 * SHA256_SIZE)) {
        say("nak %s (usage: tpm extend PCR SHA256HEX)", cmd);
        return;
    }
    for (i = 0; i < SHA256_SIZE; i++)
        sscanf(hex + 2 * i, "%2hhx", &digest[i]);
    rc = tpm_extend(pcr, digest);
    if (rc < 0)
        say("nak %s (%s)", cmd, strerror(-rc));
    else if (rc != 0)
        say("nak %s (rc=0x%lx)", cmd, rc);
    else
        say("ack %s", cmd);
}


/* Ask the memory loop for @mode and wait (up to 2 s) until it is in effect,
 * so that an ack means "done", not "requested". */
static void
set_mode(int mode)
{
    int i;

    atomic_store(&mode_req, mode);
    for (i = 0; i < 2000 && atomic_load(&mode_cur) != mode; i++)
        sleep_ms(1);
}


/* ---- guest-physical pattern --------------------------------------------- */

#define MEMPATTERN_CHUNK_PAGES 64u
#define MEMPATTERN_MAX_CHUNKS 256u      /* 64 MiB */
#define PFN_4G 0x100000ull

/* The PFN of the page at @addr (/proc/self/pagemap: bit 63 present, bits
 * 0-54 the PFN, which only root sees), or 0. */
static uint64_t
pagemap_pfn(int fd, const void *addr)
{
    uint64_t ent = 0;
    off_t off = (off_t)((uintptr_t)addr / CLONETEST_PAGE_SIZE * sizeof(ent));

    if (pread(fd, &ent, sizeof(ent), off) != (ssize_t)sizeof(ent) || !(ent >> 63))
        return 0;
    return ent & ((1ull << 55) - 1);
}


/* "Kernel code" of /proc/iomem: "  01000000-01ffffff : Kernel code". */
static void
kernel_code_range(uint64_t *start, uint64_t *end)
{
    FILE *f = fopen("/proc/iomem", "re");
    char line[256];

    *start = *end = 0;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long s, e;

        if (strstr(line, ": Kernel code") && sscanf(line, " %llx-%llx", &s, &e) == 2) {
            *start = s;
            *end = e;
            break;
        }
    }
    fclose(f);
}


/* "mempattern": pages, mlocked for good, that hold clonetestMemWord() at
 * their guest-physical addresses, at least one of them above 4 GiB (user
 * pages come from ZONE_NORMAL, i.e. above 4 GiB, first when the guest has
 * RAM there).  Reply: "mempattern seed=HEX kernel=START-END gpas=A,B,...". */
static void
cmd_mempattern(const char *cmd)
{
    uint64_t seed = now_ns(CLOCK_REALTIME) | 1, gpas[CLONETEST_MEMPATTERN_PAGES];
    uint64_t kstart, kend;
    unsigned n = 0, high = 0, chunk;
    char list[CLONETEST_MEMPATTERN_PAGES * 20] = "";
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        say("nak %s (pagemap: %s)", cmd, strerror(errno));
        return;
    }
    for (chunk = 0; chunk < MEMPATTERN_MAX_CHUNKS && (n < CLONETEST_MEMPATTERN_PAGES || !high); chunk++) {
        size_t len = MEMPATTERN_CHUNK_PAGES * CLONETEST_PAGE_SIZE;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        unsigned i;

        if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE) < 0 || mlock(p, len) < 0)
            break;
        for (i = 0; i < MEMPATTERN_CHUNK_PAGES; i++) {
            uint64_t *w = (uint64_t *)(p + (size_t)i * CLONETEST_PAGE_SIZE);
            uint64_t pfn = pagemap_pfn(fd, w), gpa = pfn * CLONETEST_PAGE_SIZE, k;
            unsigned slot;

            if (!pfn)
                continue;
            if (n < CLONETEST_MEMPATTERN_PAGES - 1 || (n == CLONETEST_MEMPATTERN_PAGES - 1 && (high || pfn >= PFN_4G)))
                slot = n++;
            else if (!high && pfn >= PFN_4G)
                slot = CLONETEST_MEMPATTERN_PAGES - 1;
            else
                continue;
            for (k = 0; k < CLONETEST_PAGE_SIZE / 8; k++)
                w[k] = clonetestMemWord(seed, gpa, k);
            gpas[slot] = gpa;
            if (pfn >= PFN_4G)
                high++;
        }
    }
    close(fd);
    if (n < CLONETEST_MEMPATTERN_PAGES || !high) {
        say("nak %s (no page above 4 GiB: %u pages)", cmd, n);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%" PRIx64, i ? "," : "", gpas[i]);
    kernel_code_range(&kstart, &kend);
    say("ack %s", cmd);
    say("mempattern seed=%" PRIx64 " kernel=%" PRIx64 "-%" PRIx64 " gpas=%s", seed, kstart, kend, list);
}


static void
handle_command(const char *cmd)
{
    /* these answer (ack or nak, then their line) themselves */
    if (strcmp(cmd, "identity") == 0) {
        cmd_identity(cmd);
        return;
    } else if (strncmp(cmd, "kmsg ", 5) == 0) {
        cmd_kmsg(cmd, cmd + 5);
        return;
    } else if (strcmp(cmd, "tpm pcrs") == 0) {
        cmd_tpm_pcrs(cmd);
        return;
    } else if (strncmp(cmd, "tpm extend ", 11) == 0) {
        cmd_tpm_extend(cmd, cmd + 11);
        return;
    } else if (strncmp(cmd, "attack ", 7) == 0 && strcmp(cmd + 7, "none") != 0) {
        cmd_attack(cmd, cmd + 7);
        return;
    } else if (strcmp(cmd, "module benign") == 0) {
        cmd_attack(cmd, "none");
        return;
    } else if (strcmp(cmd, "mempattern") == 0) {
        cmd_mempattern(cmd);
        return;
    }

    if (strcmp(cmd, "idle") == 0) {
        set_mode(MODE_IDLE);
    } else if (strcmp(cmd, "busy") == 0) {
        set_mode(MODE_BUSY);
    } else if (strncmp(cmd, "rate ", 5) == 0) {
        char *end = NULL;
        uint64_t rate = strtoull(cmd + 5, &end, 10);

        if (!end || end == cmd + 5 || *end) {
            say("nak %s (not a number)", cmd);
            return;
        }
        atomic_store(&rate_req, rate);
    } else if (strcmp(cmd, "disk on") == 0) {
        if (disk_fd < 0) {
            say("nak %s (no disk)", cmd);
            return;
        }
        atomic_store(&disk_on, 1);
    } else if (strcmp(cmd, "disk off") == 0) {
        atomic_store(&disk_on, 0);
    } else if (strncmp(cmd, "probe ", 6) == 0) {
        if (probe_set(cmd + 6) < 0) {
            say("nak %s (bad address)", cmd);
            return;
        }
    } else if (strcmp(cmd, "timestamp on") == 0 || strcmp(cmd, "timestamp off") == 0) {
        int rc = timestamp_set(strcmp(cmd, "timestamp on") == 0);

        if (rc < 0) {
            say("nak %s (%s)", cmd, strerror(-rc));
            return;
        }
    } else if (strcmp(cmd, "report") != 0) {
        say("nak %s", cmd);
        return;
    }
    say("ack %s", cmd);
    if (strcmp(cmd, "report") == 0)
        report_stat_now();
}


/* Strip trailing CR/LF/blanks and leading blanks in place. */
static char *
trim(char *s)
{
    size_t len;

    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len && strchr(" \t\r\n", s[len - 1]))
        s[--len] = '\0';
    return s;
}


static void
tty_setup(void)
{
    struct termios t;

    if (tcgetattr(STDIN_FILENO, &t) < 0)
        return;
    /* line mode, but no echo (it would interleave with our output), no
     * signals, no flow control */
    t.c_lflag |= ICANON;
    t.c_lflag &= ~(ECHO | ECHONL | ECHOE | ECHOK | ISIG | IEXTEN);
    t.c_iflag &= ~(IXON | IXOFF | INLCR | IGNCR);
    t.c_iflag |= ICRNL;
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
}


static void *
control_thread(void *opaque)
{
    char line[256];
    char *cmd;
    ssize_t len;

    (void)opaque;
    for (;;) {
        len = read(STDIN_FILENO, line, sizeof(line) - 1);
        if (len <= 0) {
            sleep_ms(1000);
            continue;
        }
        line[len] = '\0';
        cmd = trim(line);
        if (*cmd)
            handle_command(cmd);
    }
    return NULL;
}


/* The kernel's CRNG becomes ready once it has 256 bits of entropy; a
 * guest under TCG with no hardware RNG gets there only when something
 * blocks for random bytes (then jitter entropy, ~1 s).  Until then the
 * kernel neither prints "crng init done" nor, on a VM generation ID
 * change, "crng reseeded due to virtual machine fork".  Block once. */
static void *
crng_thread(void *opaque)
{
    uint8_t b;

    (void)opaque;
    while (getrandom(&b, sizeof(b), 0) < 0 && errno == EINTR)
        ;
    return NULL;
}


/* As PID 1 we adopt init's background jobs (qemu-ga, udhcpc, the echo
 * server) and their orphans: reap them.  The workload itself starts no
 * child processes. */
static void *
reap_thread(void *opaque)
{
    (void)opaque;
    for (;;) {
        if (waitpid(-1, NULL, 0) < 0 && errno != EINTR)
            sleep_ms(1000);     /* ECHILD: none for now */
    }
    return NULL;
}


static void
spawn(void *(*fn)(void *), const char *what)
{
    pthread_t tid;
    int rc = pthread_create(&tid, NULL, fn, NULL);

    if (rc != 0)
        fatal(what, rc);
    pthread_detach(tid);
}


int
main(void)
{
    uint64_t nonce = random_u64();
    uint64_t found = 0;
    int use_disk;

    parse_cmdline();
    tty_setup();
    use_disk = strcmp(cfg.disk, "none") != 0 && cfg.disk[0];

    memory_init(nonce);
    if (use_disk) {
        disk_open();
        found = disk_scan();
        atomic_store(&records_committed, found);
        status->records_committed = found;
    }

    atomic_store(&rate_req, cfg.rate);
    atomic_store(&mode_req, cfg.mode);
    atomic_store(&mode_cur, cfg.mode);
    atomic_store(&disk_on, use_disk);
    stat_last_ns = now_ns(CLOCK_MONOTONIC);

    say("ready nonce=%016" PRIx64 " records_found=%" PRIu64 " mode=%s pages=%" PRIu64
        " disk_id=%016" PRIx64 " boot=%" PRIu64 " t=%" PRIu64,
        nonce, found, mode_name(cfg.mode), npages, disk_id, boot_count,
        now_ns(CLOCK_BOOTTIME) / 1000000);

    if (use_disk)
        spawn(disk_thread, "disk thread");
    spawn(stat_thread, "stat thread");
    spawn(control_thread, "control thread");
    if (cfg.probe[0] && probe_set(cfg.probe) < 0)
        say("nak clonetest.probe=%s (bad address)", cfg.probe);
    spawn(probe_thread, "probe thread");
    spawn(reap_thread, "reap thread");
    spawn(crng_thread, "crng thread");
    memory_loop();
}
