// SPDX-License-Identifier: LGPL-2.1-or-later

package libvirtclone

/*
#cgo pkg-config: libvirt libvirt-clone
#include <stdlib.h>
#include "clone_wrapper.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// MemoryFlags are the flags of MemoryPeek and MemoryDump
// (virDomainCloneMemoryFlags).
type MemoryFlags uint32

const (
	// MemoryForce reads a domain that is not a clone: a production
	// domain's memory holds its keys and passwords, so without it such a
	// domain gives ErrOperationInvalid.
	MemoryForce = MemoryFlags(C.VIR_DOMAIN_CLONE_MEMORY_FORCE)
	// MemoryConsistent (MemoryDump only) dumps all of RAM as it was at one
	// instant, through a background snapshot: the guest pauses once, as
	// briefly as for a live clone.
	MemoryConsistent = MemoryFlags(C.VIR_DOMAIN_CLONE_MEMORY_CONSISTENT)
	// MemoryTemplateInstant (MemoryDump only, raw format) dumps a domain
	// started from a template as it was at the template's instant, from
	// the template's RAM file: no pause.
	MemoryTemplateInstant = MemoryFlags(C.VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT)
)

// MemoryDumpFormat is the format of MemoryDump
// (virDomainCloneMemoryDumpFormat).
type MemoryDumpFormat uint32

const (
	// MemoryDumpRaw puts the byte at guest-physical address A at offset A
	// of the file, with holes where there is no RAM (a sparse file).
	MemoryDumpRaw = MemoryDumpFormat(C.VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW)
	// MemoryDumpELF writes an ELF core file with the vCPUs' registers, as
	// QEMU's dump-guest-memory does, for crash and gdb.
	MemoryDumpELF = MemoryDumpFormat(C.VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF)
)

// MemoryPeek reads size bytes of the running clone dom's guest-physical
// memory at start (virDomainCloneMemoryPeek), from its QEMU process on this
// host, without pausing the guest.  The range must be RAM or ROM (device
// memory gives ErrInvalidArg).
func MemoryPeek(dom *Domain, start uint64, size int, flags MemoryFlags) ([]byte, error) {
	var cerr C.lvcGoError

	ptr, err := domainPtr(dom)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, invalidArg("size must not be negative")
	}
	buf := C.malloc(C.size_t(size) + 1)
	defer C.free(buf)
	rc := C.lvcGoMemoryPeek(ptr, C.ulonglong(start), C.size_t(size), buf, C.uint(flags), &cerr)
	runtime.KeepAlive(dom)
	if rc < 0 {
		return nil, takeError(&cerr)
	}
	return C.GoBytes(buf, C.int(size)), nil
}

// MemoryDump writes all guest memory of the running clone dom to file
// (virDomainCloneMemoryDump), created with mode 0600, without pausing the
// guest.
func MemoryDump(dom *Domain, file string, format MemoryDumpFormat, flags MemoryFlags) error {
	var cerr C.lvcGoError

	ptr, err := domainPtr(dom)
	if err != nil {
		return err
	}
	cfile := C.CString(file)
	defer C.free(unsafe.Pointer(cfile))
	rc := C.lvcGoMemoryDump(ptr, cfile, C.uint(format), C.uint(flags), &cerr)
	runtime.KeepAlive(dom)
	if rc < 0 {
		return takeError(&cerr)
	}
	return nil
}
