/*
 * guestcheck-tool.c: print guestcheck reports, for debugging.
 *
 *   guestcheck ram DUMP    check a pmemsave dump of the whole guest RAM
 *   guestcheck disk RAW    check a raw image of the record disk
 *
 * Exit status: 0 ok, 1 check failed (RAM not consistent), 2 error.
 */
#include <stdio.h>
#include <string.h>

#include "guestcheck.h"


static int
checkRam(const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    GuestRamReport rep;
    int ret;

    if (guestCheckRamDump(path, &rep, &err) < 0) {
        fprintf(stderr, "guestcheck: %s\n", err->message);
        return 2;
    }
    text = guestRamReportFormat(&rep);
    printf("%s\n", text);
    ret = rep.ok ? 0 : 1;
    guestRamReportClear(&rep);
    return ret;
}


static int
checkDisk(const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    GuestDiskReport rep;

    if (guestCheckDiskImage(path, &rep, &err) < 0) {
        fprintf(stderr, "guestcheck: %s\n", err->message);
        return 2;
    }
    text = guestDiskReportFormat(&rep);
    printf("%s\n", text);
    return 0;
}


int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "ram") == 0)
        return checkRam(argv[2]);
    if (argc == 3 && strcmp(argv[1], "disk") == 0)
        return checkDisk(argv[2]);

    fprintf(stderr, "usage: guestcheck ram DUMP | guestcheck disk RAW\n");
    return 2;
}
