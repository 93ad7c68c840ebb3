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
	"math"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"time"
	"unsafe"
)

// SandboxEventType is what a SandboxEvent reports
// (virDomainCloneSandboxEventType).
type SandboxEventType int

const (
	// SandboxEventTraffic: frames the clone sent to one destination.
	SandboxEventTraffic = SandboxEventType(C.VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC)
	// SandboxEventLost: Count frames the kernel dropped on Device before
	// the watch could read them.
	SandboxEventLost = SandboxEventType(C.VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST)
	// SandboxEventEnd: the clone stopped (every watched device is gone):
	// the last event of the watch, which stays registered until
	// SandboxUnwatch.
	SandboxEventEnd = SandboxEventType(C.VIR_DOMAIN_CLONE_SANDBOX_EVENT_END)
	// SandboxEventIntegrity: the guest kernel differs from its baseline
	// (IntegrityWatch).
	SandboxEventIntegrity = SandboxEventType(C.VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY)
)

// String returns the type's name in libvirt-clone ("traffic").
func (t SandboxEventType) String() string {
	if t >= math.MinInt32 && t <= math.MaxInt32 {
		if s := C.virDomainCloneSandboxEventTypeToString(C.int(t)); s != nil {
			return C.GoString(s)
		}
	}
	return fmt.Sprintf("SandboxEventType(%d)", int(t))
}

// IntegrityAction is what IntegrityWatch does to the clone on its first
// alert (virDomainCloneIntegrityAction).
type IntegrityAction int

const (
	IntegrityAlert   = IntegrityAction(C.VIR_DOMAIN_CLONE_INTEGRITY_ALERT)   // report only
	IntegrityPause   = IntegrityAction(C.VIR_DOMAIN_CLONE_INTEGRITY_PAUSE)   // pause the clone
	IntegrityDestroy = IntegrityAction(C.VIR_DOMAIN_CLONE_INTEGRITY_DESTROY) // destroy the clone
)

// IntegrityFlags are the flags of IntegrityWatch
// (virDomainCloneIntegrityFlags).
type IntegrityFlags uint32

const (
	// IntegrityForce watches a domain that is not a clone: the watch
	// reads its memory, which holds a production guest's secrets, so
	// without it such a domain gives ErrOperationInvalid.
	IntegrityForce = IntegrityFlags(C.VIR_DOMAIN_CLONE_INTEGRITY_FORCE)
)

// SandboxEvent is what a watch reports (virDomainCloneSandboxEvent), copied
// from the library's event: it stays valid after the callback.  Strings the
// event does not set are "".
type SandboxEvent struct {
	Type  SandboxEventType
	Time  time.Time // when the first frame counted in the event was seen
	Clone string    // the clone's name

	// SandboxEventTraffic (Device and Count also SandboxEventLost)
	Device   string // the tap device the frames came from ("vnet3")
	Protocol string // "arp", "icmp", "icmpv6", "udp", "tcp", "ipv4", "ipv6", "other"
	Kind     string // a detail: "syn", "echo-request", "request", "proto-47", ...
	DstMAC   string // destination MAC ("ff:ff:ff:ff:ff:ff")
	DstAddr  string // destination IPv4 or IPv6 address, or the address asked for
	DstPort  int    // TCP or UDP destination port, or -1
	Count    uint   // frames summed in this event

	// SandboxEventIntegrity
	Integrity string // what differs: "text", "rodata", "idt-gate", "cr4.smep", ...
	Address   uint64 // the kernel virtual address of what differs; 0 for a bit
	OldValue  uint64 // the baseline's value
	NewValue  uint64 // the value found now
	CPU       int    // the vCPU of a register difference, -1 for memory
	Action    string // what the watch did: "alert", "paused", "destroying"
}

// SandboxEventFunc is called for each event of a watch.  dom is the watched
// domain, borrowed from the watch for the call (do not Free it; nil for
// SandboxWatchDevices).
type SandboxEventFunc func(dom *Domain, event SandboxEvent)

// watchState is what the C callbacks of a watch reach through its handle.
type watchState struct {
	fn     SandboxEventFunc
	handle cgo.Handle
}

// liveWatches counts the watch states not released yet (for the tests).
var liveWatches int64

func newWatch(fn SandboxEventFunc) *watchState {
	st := &watchState{fn: fn}
	st.handle = cgo.NewHandle(st)
	atomic.AddInt64(&liveWatches, 1)
	return st
}

func (st *watchState) release() {
	st.handle.Delete()
	atomic.AddInt64(&liveWatches, -1)
}

func goStringOrEmpty(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

//export lvcGoSandboxEvent
func lvcGoSandboxEvent(handle C.uintptr_t, dom C.virDomainPtr, ev *C.virDomainCloneSandboxEvent) {
	st := cgo.Handle(handle).Value().(*watchState)
	event := SandboxEvent{
		Type:      SandboxEventType(ev._type),
		Time:      time.UnixMilli(int64(ev.timeMs)),
		Clone:     goStringOrEmpty(ev.clone),
		Device:    goStringOrEmpty(ev.device),
		Protocol:  goStringOrEmpty(ev.protocol),
		Kind:      goStringOrEmpty(ev.kind),
		DstMAC:    goStringOrEmpty(ev.dstMac),
		DstAddr:   goStringOrEmpty(ev.dstAddr),
		DstPort:   int(ev.dstPort),
		Count:     uint(ev.count),
		Integrity: goStringOrEmpty(ev.integrity),
		Address:   uint64(ev.address),
		OldValue:  uint64(ev.oldValue),
		NewValue:  uint64(ev.newValue),
		CPU:       int(ev.cpu),
		Action:    goStringOrEmpty(ev.action),
	}
	var d *Domain
	if dom != nil {
		d = wrapDomain(dom) // borrowed: the watch holds the reference
	}
	st.fn(d, event)
}

//export lvcGoWatchFree
func lvcGoWatchFree(handle C.uintptr_t) {
	cgo.Handle(handle).Value().(*watchState).release()
}

// SandboxWatch watches what the running domain dom (normally a sandbox
// clone) sends on its tap devices (virDomainCloneSandboxWatch): every
// interface of type bridge, network or ethernet with a target device.  fn
// gets one SandboxEventTraffic event for the first frame to a new
// destination, within milliseconds, then one a second with the count while
// frames to it go on; SandboxEventLost when frames were dropped;
// SandboxEventEnd when the clone stops.
//
// fn runs on a thread of the library's own, one call at a time per watch,
// not on the caller's goroutine.  It must return quickly (frames wait in
// the kernel meanwhile), must not call runtime.Goexit (t.Fatal), and may
// call SandboxUnwatch, for its own watch too: no event follows.  A panic
// in fn is not recovered: as in any goroutine, it ends the program.
//
// Needs CAP_NET_RAW and the domain on this host.  Returns the watch's ID
// for SandboxUnwatch; a domain that is not running or has no tap device
// gives ErrOperationInvalid.
func SandboxWatch(dom *Domain, fn SandboxEventFunc) (int, error) {
	ptr, err := domainPtr(dom)
	if err != nil {
		return -1, err
	}
	if fn == nil {
		return -1, invalidArg("the event function is nil")
	}
	defer runtime.KeepAlive(dom)
	return startWatch(fn, func(handle C.uintptr_t, cerr *C.lvcGoError) C.int {
		return C.lvcGoSandboxWatch(ptr, handle, 0, cerr)
	})
}

// SandboxWatchDevices is SandboxWatch for a caller that knows the clone's
// tap devices and must not or cannot ask libvirt
// (virDomainCloneSandboxWatchDevices): the events name the clone
// cloneName, and fn gets a nil domain.
func SandboxWatchDevices(cloneName string, devices []string, fn SandboxEventFunc) (int, error) {
	if fn == nil {
		return -1, invalidArg("the event function is nil")
	}
	cname := C.CString(cloneName)
	defer C.free(unsafe.Pointer(cname))
	// a NULL-terminated array in C memory
	carray := C.calloc(C.size_t(len(devices)+1), C.size_t(unsafe.Sizeof((*C.char)(nil))))
	defer C.free(carray)
	cdevs := unsafe.Slice((**C.char)(carray), len(devices)+1)
	for i, dev := range devices {
		cdevs[i] = C.CString(dev)
		defer C.free(unsafe.Pointer(cdevs[i]))
	}
	return startWatch(fn, func(handle C.uintptr_t, cerr *C.lvcGoError) C.int {
		return C.lvcGoSandboxWatchDevices(cname, &cdevs[0], handle, 0, cerr)
	})
}

// IntegrityWatch watches the kernel of the running clone dom
// (virDomainCloneIntegrityWatch): a baseline of its kernel image,
// descriptor tables and protection bits is taken now, from its memory and
// registers, then compared every interval (0: one second; at least a
// millisecond).  Each difference is reported once to fn, as a
// SandboxEventIntegrity event; on the first one the watch takes action.
// When the clone stops, the watch reports SandboxEventEnd and checks no
// more; it stays registered until SandboxUnwatch.  fn runs as for
// SandboxWatch.
//
// A domain that is not a clone gives ErrOperationInvalid unless flags has
// IntegrityForce; an unknown action gives ErrInvalidArg.
func IntegrityWatch(dom *Domain, interval time.Duration, action IntegrityAction,
	flags IntegrityFlags, fn SandboxEventFunc) (int, error) {
	ptr, err := domainPtr(dom)
	if err != nil {
		return -1, err
	}
	if fn == nil {
		return -1, invalidArg("the event function is nil")
	}
	ms := interval.Milliseconds()
	if interval < 0 || ms > math.MaxUint32 {
		return -1, invalidArg("the interval %v is out of range", interval)
	}
	if interval > 0 && ms == 0 {
		ms = 1
	}
	if action < math.MinInt32 || action > math.MaxInt32 {
		return -1, invalidArg("unknown integrity action %d", int(action))
	}
	defer runtime.KeepAlive(dom)
	return startWatch(fn, func(handle C.uintptr_t, cerr *C.lvcGoError) C.int {
		return C.lvcGoIntegrityWatch(ptr, C.uint(ms), C.int(action), handle, C.uint(flags), cerr)
	})
}

// startWatch starts a watch of fn with start, which gets fn's handle and
// the error to fill: the watch's ID, or the error.
func startWatch(fn SandboxEventFunc, start func(handle C.uintptr_t, cerr *C.lvcGoError) C.int) (int, error) {
	var cerr C.lvcGoError

	st := newWatch(fn)
	id := start(C.uintptr_t(st.handle), &cerr)
	if id < 0 {
		st.release() // the library does not call the free callback then
		return -1, takeError(&cerr)
	}
	return int(id), nil
}

// SandboxUnwatch stops a watch of SandboxWatch, SandboxWatchDevices or
// IntegrityWatch (virDomainCloneSandboxUnwatch): no event is delivered once
// it is called.  It waits for a call of the watch's function under way on
// another thread to return; called from that function, it returns at once.
// An ID no watch has gives ErrInvalidArg.
func SandboxUnwatch(id int) error {
	var cerr C.lvcGoError

	if id < math.MinInt32 || id > math.MaxInt32 {
		return invalidArg("there is no sandbox watch with ID %d", id)
	}
	if C.lvcGoSandboxUnwatch(C.int(id), &cerr) < 0 {
		return takeError(&cerr)
	}
	return nil
}
