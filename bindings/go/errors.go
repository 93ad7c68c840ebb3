// SPDX-License-Identifier: LGPL-2.1-or-later

package libvirtclone

/*
#cgo pkg-config: libvirt libvirt-clone
#include <stdlib.h>
#include "clone_wrapper.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// ErrorNumber is a libvirt-clone error code (virCloneErrorNumber).
//
// An ErrorNumber is itself an error, as syscall.Errno is, so that
// errors.Is(err, ErrBusy) tells whether err is an *Error with that code.
type ErrorNumber int

// The error codes of libvirt-clone.
const (
	ErrOK               = ErrorNumber(C.VIR_CLONE_ERR_OK)                // no error
	ErrInternal         = ErrorNumber(C.VIR_CLONE_ERR_INTERNAL)          // internal error
	ErrInvalidArg       = ErrorNumber(C.VIR_CLONE_ERR_INVALID_ARG)       // invalid argument or flags
	ErrNoDomain         = ErrorNumber(C.VIR_CLONE_ERR_NO_DOMAIN)         // the domain does not exist
	ErrOperationInvalid = ErrorNumber(C.VIR_CLONE_ERR_OPERATION_INVALID) // the domain's state does not allow it
	ErrUnsupported      = ErrorNumber(C.VIR_CLONE_ERR_UNSUPPORTED)       // a device or configuration that cannot be cloned
	ErrBusy             = ErrorNumber(C.VIR_CLONE_ERR_BUSY)              // another clone or a libvirt job runs on the source
	ErrPolicy           = ErrorNumber(C.VIR_CLONE_ERR_POLICY)            // invalid clone policy
	ErrLibvirt          = ErrorNumber(C.VIR_CLONE_ERR_LIBVIRT)           // a libvirt call failed
	ErrQemu             = ErrorNumber(C.VIR_CLONE_ERR_QEMU)              // QEMU refused a command
	ErrMigration        = ErrorNumber(C.VIR_CLONE_ERR_MIGRATION)         // the memory copy failed
	ErrDisk             = ErrorNumber(C.VIR_CLONE_ERR_DISK)              // a disk could not be forked
	ErrSystem           = ErrorNumber(C.VIR_CLONE_ERR_SYSTEM)            // a system call failed
	ErrTimeout          = ErrorNumber(C.VIR_CLONE_ERR_TIMEOUT)           // an operation took too long
	ErrGuest            = ErrorNumber(C.VIR_CLONE_ERR_GUEST)             // a step inside the guest failed, or no guest agent
	ErrNoTemplate       = ErrorNumber(C.VIR_CLONE_ERR_NO_TEMPLATE)       // the template does not exist
)

var errorNumberText = map[ErrorNumber]string{
	ErrOK:               "no error",
	ErrInternal:         "internal error",
	ErrInvalidArg:       "invalid argument",
	ErrNoDomain:         "no such domain",
	ErrOperationInvalid: "operation not valid in the domain's state",
	ErrUnsupported:      "configuration cannot be cloned",
	ErrBusy:             "source busy",
	ErrPolicy:           "invalid clone policy",
	ErrLibvirt:          "libvirt error",
	ErrQemu:             "QEMU error",
	ErrMigration:        "memory copy failed",
	ErrDisk:             "disk fork failed",
	ErrSystem:           "system error",
	ErrTimeout:          "timed out",
	ErrGuest:            "step inside the guest failed",
	ErrNoTemplate:       "no such template",
}

// Error describes the code in a few words.
func (n ErrorNumber) Error() string {
	if text, ok := errorNumberText[n]; ok {
		return text
	}
	return fmt.Sprintf("libvirt-clone error %d", int(n))
}

// Error is the error of every function of this package that fails: the
// calling thread's last error of libvirt-clone (virCloneError).
type Error struct {
	Code        ErrorNumber // what went wrong
	LibvirtCode int         // the virErrorNumber behind it (libvirt.ErrorNumber), or 0
	Message     string      // a whole sentence, translated
}

// Error returns the message.
func (e *Error) Error() string {
	if e.Message == "" {
		return "libvirt-clone: " + e.Code.Error()
	}
	return e.Message
}

// Is reports whether target is the ErrorNumber e.Code, for errors.Is.
func (e *Error) Is(target error) bool {
	n, ok := target.(ErrorNumber)
	return ok && n == e.Code
}

// takeError makes an *Error of @cerr, freeing its message.
func takeError(cerr *C.lvcGoError) error {
	e := &Error{
		Code:        ErrorNumber(cerr.code),
		LibvirtCode: int(cerr.libvirtCode),
	}
	if cerr.message != nil {
		e.Message = C.GoString(cerr.message)
		C.free(unsafe.Pointer(cerr.message))
		cerr.message = nil
	}
	return e
}
