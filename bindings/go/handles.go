// SPDX-License-Identifier: LGPL-2.1-or-later

package libvirtclone

// Reading and writing the C pointer inside libvirt-go's Domain and Connect.
//
// libvirt-go declares
//
//	type Domain struct { ptr C.virDomainPtr }
//	type Connect struct { ptr C.virConnectPtr }
//
// and neither gives the pointer out nor wraps one it is given.  The only way
// without patching libvirt-go is to treat a *Domain as a pointer to its first
// and only field.  See "How handles cross from libvirt's binding" in doc.go
// for the guards.

/*
#cgo pkg-config: libvirt libvirt-clone
#include <libvirt/libvirt.h>
*/
import "C"

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"
)

// The build fails here ("cannot use [N]byte{} ... as [8]byte value") if
// libvirt-go's Domain or Connect is not exactly one pointer wide.
var (
	_ [unsafe.Sizeof(uintptr(0))]byte = [unsafe.Sizeof(Domain{})]byte{}
	_ [unsafe.Sizeof(uintptr(0))]byte = [unsafe.Sizeof(Connect{})]byte{}
)

// layoutErr is not nil if libvirt-go's Domain or Connect is laid out in a way
// this package was not written for; every function that takes a Domain or
// a Connect then returns it.
var layoutErr = checkLayouts()

func checkLayouts() error {
	if err := checkHandleLayout(reflect.TypeOf(Domain{}), reflect.TypeOf(C.virDomainPtr(nil))); err != nil {
		return err
	}
	return checkHandleLayout(reflect.TypeOf(Connect{}), reflect.TypeOf(C.virConnectPtr(nil)))
}

// checkHandleLayout checks that @handle is a struct whose only field is
// "ptr", at offset 0, of the C pointer type @cptr (libvirt-go's cgo type
// and ours have the same name, in different packages).
func checkHandleLayout(handle, cptr reflect.Type) error {
	bad := func(why string) error {
		return &Error{
			Code: ErrInternal,
			Message: fmt.Sprintf("libvirtclone: %s.%s is not laid out as this package expects (%s): "+
				"it cannot take the %s out of it; update the Go binding of libvirt-clone",
				libvirtImportPath, handle.Name(), why, strings.TrimPrefix(cptr.Name(), "_Ctype_")),
		}
	}

	if handle.Kind() != reflect.Struct {
		return bad("not a struct")
	}
	if handle.NumField() != 1 {
		return bad(fmt.Sprintf("%d fields instead of 1", handle.NumField()))
	}
	f := handle.Field(0)
	switch {
	case f.Name != "ptr":
		return bad(fmt.Sprintf("its field is %q, not \"ptr\"", f.Name))
	case f.Offset != 0:
		return bad("its field is not at offset 0")
	case f.Type.Kind() != reflect.Ptr:
		return bad(fmt.Sprintf("its field is a %s, not a pointer", f.Type.Kind()))
	case f.Type.Name() != cptr.Name() || f.Type.Elem().Name() != cptr.Elem().Name():
		return bad(fmt.Sprintf("its field is a %s, not a %s", f.Type.Name(), cptr.Name()))
	case handle.Size() != unsafe.Sizeof(uintptr(0)):
		return bad(fmt.Sprintf("it is %d bytes wide", handle.Size()))
	}
	return nil
}

func invalidArg(format string, args ...interface{}) error {
	return &Error{Code: ErrInvalidArg, Message: "libvirtclone: " + fmt.Sprintf(format, args...)}
}

// domainPtr returns the virDomainPtr of @dom (borrowed: no reference taken).
func domainPtr(dom *Domain) (C.virDomainPtr, error) {
	if layoutErr != nil {
		return nil, layoutErr
	}
	if dom == nil {
		return nil, invalidArg("the domain is nil")
	}
	ptr := *(*C.virDomainPtr)(unsafe.Pointer(dom))
	if ptr == nil {
		return nil, invalidArg("the domain has no libvirt handle")
	}
	return ptr, nil
}

// connectPtr returns the virConnectPtr of @conn (borrowed).
func connectPtr(conn *Connect) (C.virConnectPtr, error) {
	if layoutErr != nil {
		return nil, layoutErr
	}
	if conn == nil {
		return nil, invalidArg("the connection is nil")
	}
	ptr := *(*C.virConnectPtr)(unsafe.Pointer(conn))
	if ptr == nil {
		return nil, invalidArg("the connection has no libvirt handle")
	}
	return ptr, nil
}

// wrapDomain makes a libvirt-go Domain that owns the reference @ptr.
func wrapDomain(ptr C.virDomainPtr) *Domain {
	dom := new(Domain)
	*(*C.virDomainPtr)(unsafe.Pointer(dom)) = ptr
	return dom
}
