/*
 * clone_error.c: thread-local last error and log handler
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_internal.h"

#include <string.h>

static void
cloneErrorFree(gpointer data)
{
    virCloneError *err = data;

    if (!err)
        return;
    g_free(err->message);
    g_free(err);
}

static GPrivate cloneLastError = G_PRIVATE_INIT(cloneErrorFree);

static GMutex cloneLogLock;
static virCloneLogFunc cloneLogFunc;
static void *cloneLogOpaque;


void
virCloneInitialize(void)
{
    static gsize initialized;

    if (g_once_init_enter(&initialized)) {
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        g_once_init_leave(&initialized, 1);
    }
}


static void cloneLogv(int priority, const char *fmt, va_list ap) G_GNUC_PRINTF(2, 0);

static void
cloneLogv(int priority, const char *fmt, va_list ap)
{
    g_autofree char *msg = NULL;
    virCloneLogFunc func;
    void *opaque;

    g_mutex_lock(&cloneLogLock);
    func = cloneLogFunc;
    opaque = cloneLogOpaque;
    g_mutex_unlock(&cloneLogLock);

    if (!func)
        return;
    msg = g_strdup_vprintf(fmt, ap);
    func(priority, msg, opaque);
}


void
virCloneLog(int priority, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cloneLogv(priority, fmt, ap);
    va_end(ap);
}


static void
cloneSetError(int code, int libvirtCode, char *message,
              const char *file, const char *func, int line)
{
    virCloneError *err = g_new0(virCloneError, 1);

    err->code = code;
    err->libvirtCode = libvirtCode;
    err->message = message;
    g_private_replace(&cloneLastError, err);
    virCloneLog(VIR_CLONE_LOG_ERROR, "%s:%d (%s): %s", file, line, func, message);
}


void
virCloneReportErrorFull(int code, int libvirtCode,
                        const char *file, const char *func, int line,
                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cloneSetError(code, libvirtCode, g_strdup_vprintf(fmt, ap), file, func, line);
    va_end(ap);
}


void
virCloneReportLibvirtErrorFull(virErrorPtr lverr, int code,
                               const char *file, const char *func, int line,
                               const char *fmt, ...)
{
    g_autofree char *prefix = NULL;
    va_list ap;

    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    if (lverr && lverr->code == VIR_ERR_NO_DOMAIN)
        code = VIR_CLONE_ERR_NO_DOMAIN;
    else if (lverr && lverr->code == VIR_ERR_OPERATION_INVALID && code == VIR_CLONE_ERR_LIBVIRT)
        code = VIR_CLONE_ERR_OPERATION_INVALID;

    cloneSetError(code, lverr ? lverr->code : 0,
                  g_strdup_printf("%s: %s", prefix,
                                  lverr && lverr->message ? lverr->message
                                                          : _("unknown libvirt error")),
                  file, func, line);
}


void
virCloneReportSystemErrorFull(int errnum,
                              const char *file, const char *func, int line,
                              const char *fmt, ...)
{
    g_autofree char *prefix = NULL;
    va_list ap;

    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    cloneSetError(VIR_CLONE_ERR_SYSTEM, 0,
                  g_strdup_printf("%s: %s", prefix, g_strerror(errnum)),
                  file, func, line);
}


struct _virCloneSavedError {
    virCloneError *err;
};


virCloneSavedError *
virCloneSaveLastError(void)
{
    virCloneSavedError *saved = g_new0(virCloneSavedError, 1);
    virCloneError *cur = g_private_get(&cloneLastError);

    if (cur) {
        saved->err = g_new0(virCloneError, 1);
        saved->err->code = cur->code;
        saved->err->libvirtCode = cur->libvirtCode;
        saved->err->message = g_strdup(cur->message);
    }
    return saved;
}


void
virCloneRestoreLastError(virCloneSavedError *saved)
{
    if (!saved)
        return;
    if (saved->err)
        g_private_replace(&cloneLastError, g_steal_pointer(&saved->err));
    g_free(saved);
}


/**
 * virCloneGetLastError:
 *
 * Returns the last error of the calling thread, or NULL if the last call
 * succeeded.  The error belongs to the library and stays valid until the
 * thread's next call into it.
 *
 * Since: 0.1.0
 */
CLONE_EXPORT virCloneErrorPtr
virCloneGetLastError(void)
{
    virCloneError *err = g_private_get(&cloneLastError);

    if (!err || err->code == VIR_CLONE_ERR_OK)
        return NULL;
    return err;
}


/**
 * virCloneGetLastErrorMessage:
 *
 * Returns the message of the calling thread's last error, or "no error".
 *
 * Since: 0.1.0
 */
CLONE_EXPORT const char *
virCloneGetLastErrorMessage(void)
{
    virCloneError *err = virCloneGetLastError();

    virCloneInitialize();
    if (!err)
        return _("no error");
    return err->message;
}


/**
 * virCloneResetLastError:
 *
 * Forgets the calling thread's last error.
 *
 * Since: 0.1.0
 */
CLONE_EXPORT void
virCloneResetLastError(void)
{
    g_private_replace(&cloneLastError, NULL);
}


/**
 * virCloneSetLogFunc:
 * @func: the handler, or NULL to drop log messages
 * @opaque: passed to @func
 *
 * Sets the process-wide handler of the library's log messages.
 *
 * Since: 0.1.0
 */
CLONE_EXPORT void
virCloneSetLogFunc(virCloneLogFunc func, void *opaque)
{
    g_mutex_lock(&cloneLogLock);
    cloneLogFunc = func;
    cloneLogOpaque = opaque;
    g_mutex_unlock(&cloneLogLock);
}
