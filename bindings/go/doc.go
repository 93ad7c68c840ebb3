// SPDX-License-Identifier: LGPL-2.1-or-later

// Package libvirtclone live-clones running libvirt/QEMU domains: it is the Go
// binding of libvirt-clone (include/libvirt-clone/libvirt-clone.h), built
// with cgo.
//
//	clone, err := libvirtclone.CloneLive(dom, "", 0)
//	if err != nil {
//		return err
//	}
//	defer clone.Free()
//
// # Templates
//
// A Template is a running domain captured at one instant, from which any
// number of domains start, each mapping its RAM copy-on-write; Reset puts
// such a domain back at that instant:
//
//	tmpl, err := libvirtclone.CreateTemplate(dom, "web-0900", "", 0)
//	if err != nil {
//		return err
//	}
//	defer tmpl.Close() // the handle; tmpl.Delete() removes the template
//	clone, err := tmpl.CreateDomain("", 0)
//
// # Watches
//
// SandboxWatch reports the frames a clone sends, IntegrityWatch the
// differences of its kernel from a baseline, to a function called on a
// thread of the library's own, until SandboxUnwatch:
//
//	id, err := libvirtclone.SandboxWatch(clone, func(dom *libvirt.Domain, ev libvirtclone.SandboxEvent) {
//		log.Printf("%s: %v %s %s:%d", ev.Clone, ev.Type, ev.Protocol, ev.DstAddr, ev.DstPort)
//	})
//	...
//	libvirtclone.SandboxUnwatch(id)
//
// # libvirt's Go binding
//
// Domains and connections are those of libvirt's Go binding: CloneLive takes
// a *libvirt.Domain and returns one, Reap takes a *libvirt.Connect.  Domain
// and Connect in this package are aliases of these types, not new types.
//
// Debian 12 ships that binding (golang-github-libvirt-libvirt-go-dev) under
// its old import path, github.com/libvirt/libvirt-go, and this package uses
// that path by default.  Built with the tag libvirtorg (go build -tags
// libvirtorg), it uses the binding's current import path,
// libvirt.org/go/libvirt, instead; the two are the same code, but Go sees
// their types as different, so a program must use the same path as this
// package.
//
// # Ownership
//
// As everywhere in libvirt's Go binding, a returned *Domain holds a reference
// of its own: call its Free method when done with it.  Free releases the
// handle only; the clone keeps running until it is destroyed.
//
// # Event loop
//
// A connection to the embedded driver (qemu:///embed?root=DIR) needs a
// libvirt event loop run by the program: call libvirt.EventRegisterDefaultImpl
// before opening the connection, and libvirt.EventRunDefaultImpl in a loop in
// a goroutine of its own.  With other connections the loop is recommended:
// without it the library polls QEMU and the source's pause is longer.
//
// # Errors
//
// Every error returned by this package is an *Error, whose Code is one of
// the ErrorNumber constants: errors.As(err, &e) gets it, and
// errors.Is(err, libvirtclone.ErrBusy) tests the code.
//
// # How handles cross from libvirt's binding
//
// libvirt's Go binding keeps the C pointer of a Domain (virDomainPtr) and of a
// Connect (virConnectPtr) in an unexported field, the only field of the
// struct, and has no function that gives it out or wraps a C pointer.  This
// package therefore reads and writes that field through unsafe.Pointer.  Two
// guards make a change of that layout fail loudly instead of corrupting
// memory: the build fails unless both structs are exactly one pointer wide,
// and at start-up reflection checks that each has exactly one field, named
// ptr, at offset 0, of the C pointer type; if not, every function that takes
// a Domain or a Connect returns an ErrInternal error saying so.
//
// # Building
//
// The package is found through GOPATH (GO111MODULE=off); it needs no module
// download.  cgo finds libvirt-clone with pkg-config (#cgo pkg-config:
// libvirt libvirt-clone).  See bindings/go/README.md.
package libvirtclone
