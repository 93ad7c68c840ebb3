/*
 * clone_file.h: the files the library keeps on the host: locks and JSON
 * records
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

#include <json-glib/json-glib.h>

/* One attempt at flock(@op | LOCK_NB) on @path (created 0600 if missing):
 * the file descriptor that holds it, -1 and no error if someone else holds
 * it (or the file was replaced under us: try again), -2 with an error. */
int cloneFileLockOnce(const char *path, int op, const char *what);

/* The file descriptor that holds flock(@op) on @path, waiting up to
 * @timeoutS seconds; -1 with an error (VIR_CLONE_ERR_TIMEOUT, or the
 * caller's @busyCode with @busyMsg when @timeoutS is 0). */
int cloneFileLock(const char *path, int op, guint timeoutS,
                  int busyCode, const char *busyMsg, const char *what);

/* Writes all of @data to @fd: 0, or -1 with errno set (no error reported). */
int cloneFileWriteAll(int fd, const void *data, size_t len);

/* @obj written whole to @path: a new file (0600, of a unique name) renamed
 * over the old one, not synced.  @what names the file in the error. */
int cloneFileWriteJSON(const char *path, JsonObject *obj, const char *what);

/* 1 and @obj, 0 if @path does not exist, -1 with an error. */
int cloneFileReadJSON(const char *path, JsonObject **obj, const char *what);
