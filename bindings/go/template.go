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
	"sync"
	"time"
	"unsafe"
)

// TemplateCreateFlags are the flags of CreateTemplate
// (virCloneTemplateCreateFlags).  TemplateCreateWait, TemplateCreatePrecopy
// and TemplateCreateBackground mean what CloneLiveWait, CloneLivePrecopy and
// CloneLiveBackground mean for CloneLive.
type TemplateCreateFlags uint32

const (
	// TemplateCreateWait waits for a clone or template of the same source
	// that is under way instead of failing with ErrBusy.
	TemplateCreateWait = TemplateCreateFlags(C.VIR_CLONE_TEMPLATE_CREATE_WAIT)
	// TemplateCreatePrecopy forces the pre-copy strategy.
	TemplateCreatePrecopy = TemplateCreateFlags(C.VIR_CLONE_TEMPLATE_CREATE_PRECOPY)
	// TemplateCreateBackground forces the background-snapshot strategy.
	TemplateCreateBackground = TemplateCreateFlags(C.VIR_CLONE_TEMPLATE_CREATE_BACKGROUND)
	// TemplateCreateAutoDelete deletes the template when the last domain
	// started from it is gone (destroyed, shut down or undefined), once one
	// has been.
	TemplateCreateAutoDelete = TemplateCreateFlags(C.VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE)
)

// TemplateCloneFlags are the flags of Template.CreateDomain and Reset
// (virCloneTemplateCloneFlags).
type TemplateCloneFlags uint32

const (
	// TemplateClonePaused leaves the domain paused.
	TemplateClonePaused = TemplateCloneFlags(C.VIR_CLONE_TEMPLATE_CLONE_PAUSED)
	// TemplateClonePersistent defines the domain (not for Reset).
	TemplateClonePersistent = TemplateCloneFlags(C.VIR_CLONE_TEMPLATE_CLONE_PERSISTENT)
)

// TemplateInfo are the facts of a template (VIR_CLONE_TEMPLATE_INFO_*).
type TemplateInfo struct {
	SourceName string    // the source domain's name
	SourceUUID string    // the source domain's UUID
	Created    time.Time // when the template was made (second precision)
	Memory     uint64    // the guest's RAM, bytes
	Clones     uint      // the domains started from it that still exist
	Directory  string    // the directory of its files
	Sharing    bool      // its domains share its RAM copy-on-write (else each copies it)
	AutoDelete bool      // made with TemplateCreateAutoDelete
}

// Template is a clone template (virCloneTemplatePtr): a running domain
// captured at one instant, from which any number of domains start, each
// mapping the template's RAM copy-on-write.  It is a handle, a name within
// a connection: Close releases the handle, not the template, which lives on
// (beyond this process and libvirtd restarts) until Delete.  A Template not
// closed is released when the garbage collector finds it unreachable.
//
// A Template may be used from several goroutines; Close waits for the calls
// under way on it.
type Template struct {
	mu   sync.RWMutex
	ptr  C.virCloneTemplatePtr // nil once closed
	name string
}

// wrapTemplate makes a Template that owns @ptr.
func wrapTemplate(ptr C.virCloneTemplatePtr) *Template {
	t := &Template{ptr: ptr, name: C.GoString(C.virCloneTemplateGetName(ptr))}
	runtime.SetFinalizer(t, (*Template).Close)
	return t
}

// lock returns the handle with the read lock held (release it with
// t.mu.RUnlock), or an error for a nil or closed Template.
func (t *Template) lock() (C.virCloneTemplatePtr, error) {
	if t == nil {
		return nil, invalidArg("the template is nil")
	}
	t.mu.RLock()
	if t.ptr == nil {
		t.mu.RUnlock()
		return nil, invalidArg("template %q: the handle is closed", t.name)
	}
	return t.ptr, nil
}

// Close releases the handle (virCloneTemplateFree); the template stays.  It
// waits for the calls under way on t.  Closing a closed Template does
// nothing.
func (t *Template) Close() error {
	if t == nil {
		return invalidArg("the template is nil")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ptr != nil {
		C.virCloneTemplateFree(t.ptr)
		t.ptr = nil
		runtime.SetFinalizer(t, nil)
	}
	return nil
}

// Name returns the template's name (virCloneTemplateGetName); it stays
// valid after Close.
func (t *Template) Name() string {
	if t == nil {
		return ""
	}
	return t.name
}

// CreateTemplate captures the running domain dom as the template name
// (virDomainCloneTemplateCreate).  name is 1 to 64 of letters, digits, '_',
// '.', '+' and '-'.  policy is a <clonepolicy> document, or "" for the
// defaults: its <memory> settings choose how the memory is copied, its
// <template> where the files go and whether the template's domains share
// its RAM.  dom is paused once, as briefly as by CloneLive, and gains one
// image in its disks' backing chains, however many domains start from the
// template.  On failure nothing is left behind.
//
// Close the returned Template when done with it; Delete removes the
// template itself.  Errors are *Error (a name in use: ErrInvalidArg).
func CreateTemplate(dom *Domain, name, policy string, flags TemplateCreateFlags) (*Template, error) {
	t, _, err := createTemplate(dom, name, policy, flags, nil, false)
	return t, err
}

// CreateTemplateWithProgress is CreateTemplate that calls progress (if not
// nil) as CloneLiveWithProgress does, and returns the statistics of the
// copy of dom's memory (virDomainCloneTemplateCreateFull).  A panic in
// progress is raised again when the C call has returned; a template made
// by then stays (its handle is closed).
func CreateTemplateWithProgress(dom *Domain, name, policy string, flags TemplateCreateFlags,
	progress func(phase Phase, percent uint)) (*Template, Stats, error) {
	return createTemplate(dom, name, policy, flags, progress, true)
}

func createTemplate(dom *Domain, name, policy string, flags TemplateCreateFlags,
	progress func(Phase, uint), wantStats bool) (*Template, Stats, error) {
	var (
		cerr   C.lvcGoError
		cstats C.lvcGoStats
		pstats *C.lvcGoStats
		stats  Stats
	)

	src, err := domainPtr(dom)
	if err != nil {
		return nil, stats, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	cpolicy := cString(policy)
	defer C.free(unsafe.Pointer(cpolicy))
	if wantStats {
		pstats = &cstats
	}
	st := newProgress(progress)
	defer st.done()
	withProgress, handle := st.cArgs()

	ptr := C.lvcGoTemplateCreate(src, cname, cpolicy, withProgress, handle, pstats,
		C.uint(flags), &cerr)
	runtime.KeepAlive(dom)
	if ptr == nil {
		err = takeError(&cerr)
	} else if pstats != nil {
		stats = takeStats(pstats)
	}
	if st != nil && st.panicked {
		if ptr != nil {
			C.virCloneTemplateFree(ptr)
		}
		st.repanic()
	}
	if ptr == nil {
		return nil, stats, err
	}
	return wrapTemplate(ptr), stats, nil
}

// LookupTemplateByName returns the template name on conn's host
// (virCloneTemplateLookupByName); an *Error with ErrNoTemplate if there is
// none.  Close it when done.
func LookupTemplateByName(conn *Connect, name string) (*Template, error) {
	var cerr C.lvcGoError

	ptr, err := connectPtr(conn)
	if err != nil {
		return nil, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	tmpl := C.lvcGoTemplateLookupByName(ptr, cname, 0, &cerr)
	runtime.KeepAlive(conn)
	if tmpl == nil {
		return nil, takeError(&cerr)
	}
	return wrapTemplate(tmpl), nil
}

// ListAllTemplates returns the templates on conn's host, sorted by name
// (virConnectListAllCloneTemplates).  Close each when done.
func ListAllTemplates(conn *Connect) ([]*Template, error) {
	var (
		cerr  C.lvcGoError
		ctmpl *C.virCloneTemplatePtr
	)

	ptr, err := connectPtr(conn)
	if err != nil {
		return nil, err
	}
	n := C.lvcGoListAllTemplates(ptr, &ctmpl, 0, &cerr)
	runtime.KeepAlive(conn)
	if n < 0 {
		return nil, takeError(&cerr)
	}
	defer C.free(unsafe.Pointer(ctmpl))
	out := make([]*Template, 0, int(n))
	if n > 0 {
		for _, p := range unsafe.Slice(ctmpl, int(n)) {
			out = append(out, wrapTemplate(p))
		}
	}
	return out, nil
}

// Info returns the template's facts (virCloneTemplateGetInfo): an *Error
// with ErrNoTemplate if it has been deleted.
func (t *Template) Info() (TemplateInfo, error) {
	var (
		cerr  C.lvcGoError
		cinfo C.lvcGoTemplateInfo
		info  TemplateInfo
	)

	ptr, err := t.lock()
	if err != nil {
		return info, err
	}
	rc := C.lvcGoTemplateGetInfo(ptr, &cinfo, 0, &cerr)
	t.mu.RUnlock()
	if rc < 0 {
		return info, takeError(&cerr)
	}
	str := func(p **C.char) string {
		if *p == nil {
			return ""
		}
		s := C.GoString(*p)
		C.free(unsafe.Pointer(*p))
		*p = nil
		return s
	}
	info.SourceName = str(&cinfo.sourceName)
	info.SourceUUID = str(&cinfo.sourceUUID)
	info.Directory = str(&cinfo.directory)
	info.Created = time.Unix(int64(cinfo.created), 0)
	info.Memory = uint64(cinfo.memory)
	info.Clones = uint(cinfo.clones)
	info.Sharing = cinfo.sharing != 0
	info.AutoDelete = cinfo.autoDelete != 0
	return info, nil
}

// Delete removes the template: its RAM file, device state and record
// (virCloneTemplateDelete).  It is refused with ErrOperationInvalid while a
// domain started from it exists (running or defined), and with ErrBusy
// while one starts from it.  The handle stays open: Close it.
func (t *Template) Delete() error {
	var cerr C.lvcGoError

	ptr, err := t.lock()
	if err != nil {
		return err
	}
	rc := C.lvcGoTemplateDelete(ptr, 0, &cerr)
	t.mu.RUnlock()
	if rc < 0 {
		return takeError(&cerr)
	}
	return nil
}

// CreateDomain starts a domain at the template's instant
// (virCloneTemplateCreateDomain), on the template's connection: running, or
// paused with TemplateClonePaused, and defined with
// TemplateClonePersistent.  Its RAM is the template's file mapped
// copy-on-write, its writable disks new overlays over the template's
// bases; it has its own name, UUID, MAC addresses and generation ID.
// policy is a <clonepolicy> document (name, identity, network, guest agent,
// lifecycle), or "".  On failure nothing is left behind.
//
// The returned Domain holds a reference of its own: Free it when done.
func (t *Template) CreateDomain(policy string, flags TemplateCloneFlags) (*Domain, error) {
	dom, _, err := t.createDomain(policy, flags, nil, false)
	return dom, err
}

// CreateDomainWithProgress is CreateDomain that calls progress (if not nil)
// at each phase (PhasePrepare, PhaseStartClone, PhaseCopyRAM: the device
// state being loaded, PhaseFinish, PhaseDone; or PhaseRollback), as
// CloneLiveWithProgress does, and returns the statistics, with Template set
// (virCloneTemplateCreateDomainFull).  A panic in progress is raised again
// when the C call has returned; a domain started by then is left running.
func (t *Template) CreateDomainWithProgress(policy string, flags TemplateCloneFlags,
	progress func(phase Phase, percent uint)) (*Domain, Stats, error) {
	return t.createDomain(policy, flags, progress, true)
}

func (t *Template) createDomain(policy string, flags TemplateCloneFlags,
	progress func(Phase, uint), wantStats bool) (*Domain, Stats, error) {
	var (
		cerr   C.lvcGoError
		cstats C.lvcGoStats
		pstats *C.lvcGoStats
		stats  Stats
		err    error
	)

	cpolicy := cString(policy)
	defer C.free(unsafe.Pointer(cpolicy))
	if wantStats {
		pstats = &cstats
	}
	tmpl, err := t.lock()
	if err != nil {
		return nil, stats, err
	}
	st := newProgress(progress)
	defer st.done()
	withProgress, handle := st.cArgs()

	ptr := C.lvcGoTemplateCreateDomain(tmpl, cpolicy, withProgress, handle, pstats,
		C.uint(flags), &cerr)
	t.mu.RUnlock()
	if ptr == nil {
		err = takeError(&cerr)
	} else if pstats != nil {
		stats = takeStats(pstats)
	}
	if st != nil && st.panicked {
		if ptr != nil {
			C.virDomainFree(ptr)
		}
		st.repanic()
	}
	if ptr == nil {
		return nil, stats, err
	}
	return wrapDomain(ptr), stats, nil
}

// Reset puts dom, a domain started from a template, back at the template's
// instant (virDomainCloneReset): its QEMU is stopped and started again from
// the template's RAM and device state over fresh disk overlays, with the
// same name, UUID and MAC addresses.  flags may be TemplateClonePaused.  dom
// stays a valid handle.  A domain not started from a template gives
// ErrOperationInvalid.  A reset that fails after the domain was stopped
// leaves it stopped (a transient one is gone).
func Reset(dom *Domain, flags TemplateCloneFlags) error {
	var cerr C.lvcGoError

	ptr, err := domainPtr(dom)
	if err != nil {
		return err
	}
	rc := C.lvcGoReset(ptr, C.uint(flags), &cerr)
	runtime.KeepAlive(dom)
	if rc < 0 {
		return takeError(&cerr)
	}
	return nil
}
