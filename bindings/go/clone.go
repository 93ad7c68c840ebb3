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
	"runtime/cgo"
	"time"
	"unsafe"
)

// CloneLiveFlags are the flags of CloneLive (virDomainCloneLiveFlags).
// CloneLivePrecopy and CloneLiveBackground are mutually exclusive; without
// either the strategy comes from the policy (default: automatic choice).
type CloneLiveFlags uint32

const (
	// CloneLivePaused leaves the clone paused instead of resuming it.
	CloneLivePaused = CloneLiveFlags(C.VIR_DOMAIN_CLONE_LIVE_PAUSED)
	// CloneLivePersistent defines the clone, so that it survives its shutdown.
	CloneLivePersistent = CloneLiveFlags(C.VIR_DOMAIN_CLONE_LIVE_PERSISTENT)
	// CloneLiveWait waits for a clone of the same source that is under way
	// instead of failing with ErrBusy.
	CloneLiveWait = CloneLiveFlags(C.VIR_DOMAIN_CLONE_LIVE_WAIT)
	// CloneLivePrecopy forces the pre-copy strategy.
	CloneLivePrecopy = CloneLiveFlags(C.VIR_DOMAIN_CLONE_LIVE_PRECOPY)
	// CloneLiveBackground forces the background-snapshot strategy.
	CloneLiveBackground = CloneLiveFlags(C.VIR_DOMAIN_CLONE_LIVE_BACKGROUND)
)

// Phase is a phase of a clone, as reported to the progress function
// (virDomainCloneLivePhase).  Each is reported once, in this order, except
// that the background strategy pauses the source and forks the disks
// (PhaseSwitchover) before it copies RAM (PhaseCopyRAM).  PhaseRollback
// replaces the rest after a failure; after the automatic fallback from
// pre-copy the phases from PhaseStartClone on are reported again.
type Phase int

const (
	PhasePrepare    = Phase(C.VIR_DOMAIN_CLONE_LIVE_PHASE_PREPARE)     // checks, clone XML, overlays
	PhaseStartClone = Phase(C.VIR_DOMAIN_CLONE_LIVE_PHASE_START_CLONE) // clone QEMU started in incoming mode
	PhaseCopyRAM    = Phase(C.VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM)    // RAM being copied; percent is valid
	PhaseSwitchover = Phase(C.VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER)  // source paused, disks forked
	PhaseFinish     = Phase(C.VIR_DOMAIN_CLONE_LIVE_PHASE_FINISH)      // source resumed, clone being finished
	PhaseDone       = Phase(C.VIR_DOMAIN_CLONE_LIVE_PHASE_DONE)        // clone ready
	PhaseRollback   = Phase(C.VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK)    // undoing a failed clone
)

// String returns the phase's name in libvirt-clone ("copy-ram").
func (p Phase) String() string {
	if s := C.virDomainCloneLivePhaseToString(C.int(p)); s != nil {
		return C.GoString(s)
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Stats are the statistics of a clone (VIR_DOMAIN_CLONE_LIVE_STATS_*).
type Stats struct {
	Strategy         string        // "precopy" or "background"
	Name             string        // the clone's name
	UUID             string        // the clone's UUID
	SourcePause      time.Duration // the source's pause, from QEMU's STOP to RESUME event
	Downtime         time.Duration // the downtime QEMU reported (millisecond precision)
	Total            time.Duration // from the call to a running (or paused, if asked) clone
	CloneStart       time.Duration // starting the clone's QEMU
	DiskFork         time.Duration // forking the disks
	Bytes            uint64        // bytes sent from the source to the clone
	Passes           uint64        // pre-copy passes over RAM
	Fallbacks        uint64        // pre-copy attempts abandoned for the background strategy
	GuestSteps       uint64        // steps the guest agent carried out inside the clone (MACs, addresses, ...)
	GuestStepsFailed uint64        // steps inside the guest that failed, let go by on-failure='warn'
	GuestIdentity    time.Duration // the steps inside the guest, before the links came up
	NetworkUp        time.Duration // from the clone's resume to links and addresses up; 0: links down
	DirtyRate        uint64        // the source's dirty rate the automatic choice sampled, bytes/s; 0: not sampled
	CopyRate         uint64        // the copy's rate the automatic choice predicted with, bytes/s; 0: not sampled
	PredictedPasses  uint64        // pre-copy passes the automatic choice predicted; 0: background or not sampled
	Template         string        // the template the domain started from (Template.CreateDomainWithProgress)
}

// CloneLive makes a running copy of the running domain dom, on the same
// connection (virDomainCloneLive).  policy is a <clonepolicy> document, or ""
// for the defaults.  dom keeps running after a pause of a few milliseconds.
// The clone has its own name, UUID, MAC addresses and generation ID; its
// writable disks are qcow2 overlays over the images the source used at the
// switch-over instant.  On failure nothing is left behind.
//
// The returned Domain holds a reference of its own: Free it when done (that
// does not stop the clone).  The call blocks until the clone runs, seconds or
// more.  Errors are *Error.
func CloneLive(dom *Domain, policy string, flags CloneLiveFlags) (*Domain, error) {
	clone, _, err := cloneLive(dom, policy, flags, nil, false)
	return clone, err
}

// CloneLiveWithProgress is CloneLive that calls progress (if not nil) at
// each phase and as RAM is copied, and returns the clone's statistics
// (virDomainCloneLiveFull).  percent is the share of the source's RAM copied
// so far, 0 to 100.
//
// progress runs on the calling goroutine, inside the C call.  It must not
// call this package for the same source, must not call runtime.Goexit (so
// not t.Fatal or t.FailNow in a test: use t.Error), and should return
// quickly: during PhaseSwitchover the source is paused.  If it panics, it is
// not called again, the clone is completed or rolled back as without it
// (a clone cannot be interrupted), and the panic is raised again when the C
// call has returned; a clone made by then is left running (its handle is
// freed).
func CloneLiveWithProgress(dom *Domain, policy string, flags CloneLiveFlags,
	progress func(phase Phase, percent uint)) (*Domain, Stats, error) {
	return cloneLive(dom, policy, flags, progress, true)
}

// progressState is what the C progress callback reaches through its handle.
type progressState struct {
	fn        func(phase Phase, percent uint)
	panicked  bool
	panicking interface{}
	handle    cgo.Handle
}

// newProgress returns the state of a progress function, or nil for none;
// release it with done.
func newProgress(fn func(Phase, uint)) *progressState {
	if fn == nil {
		return nil
	}
	st := &progressState{fn: fn}
	st.handle = cgo.NewHandle(st)
	return st
}

// cArgs are the (progress, handle) arguments of the C wrappers.
func (st *progressState) cArgs() (C.int, C.uintptr_t) {
	if st == nil {
		return 0, 0
	}
	return 1, C.uintptr_t(st.handle)
}

func (st *progressState) done() {
	if st != nil {
		st.handle.Delete()
	}
}

// repanic raises again the panic of the progress function, if it panicked.
func (st *progressState) repanic() {
	if st != nil && st.panicked {
		panic(st.panicking)
	}
}

//export lvcGoProgress
func lvcGoProgress(handle C.uintptr_t, phase C.int, percent C.uint) {
	st := cgo.Handle(handle).Value().(*progressState)
	if st.panicked {
		return
	}
	// a panic must not unwind through libvirt-clone's C frames: it would
	// skip the clone's rollback and leave its locks held
	defer func() {
		if r := recover(); r != nil {
			st.panicked = true
			st.panicking = r
		}
	}()
	st.fn(Phase(phase), uint(percent))
}

func cloneLive(dom *Domain, policy string, flags CloneLiveFlags,
	progress func(Phase, uint), wantStats bool) (*Domain, Stats, error) {
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
	cpolicy := cString(policy)
	defer C.free(unsafe.Pointer(cpolicy))
	if wantStats {
		pstats = &cstats
	}

	st := newProgress(progress)
	defer st.done()
	withProgress, handle := st.cArgs()

	ptr := C.lvcGoCloneLive(src, cpolicy, withProgress, handle, pstats, C.uint(flags), &cerr)
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

// takeStats converts @cs, freeing its strings.
func takeStats(cs *C.lvcGoStats) Stats {
	str := func(p **C.char) string {
		if *p == nil {
			return ""
		}
		s := C.GoString(*p)
		C.free(unsafe.Pointer(*p))
		*p = nil
		return s
	}
	us := func(v C.ulonglong) time.Duration { return time.Duration(v) * time.Microsecond }

	return Stats{
		Strategy:         str(&cs.strategy),
		Name:             str(&cs.name),
		UUID:             str(&cs.uuid),
		SourcePause:      us(cs.sourcePauseUs),
		Downtime:         time.Duration(cs.downtimeMs) * time.Millisecond,
		Total:            us(cs.totalUs),
		CloneStart:       us(cs.cloneStartUs),
		DiskFork:         us(cs.diskForkUs),
		Bytes:            uint64(cs.bytes),
		Passes:           uint64(cs.passes),
		Fallbacks:        uint64(cs.fallbacks),
		GuestSteps:       uint64(cs.guestSteps),
		GuestStepsFailed: uint64(cs.guestStepsFailed),
		GuestIdentity:    us(cs.guestIdentityUs),
		NetworkUp:        us(cs.networkUpUs),
		DirtyRate:        uint64(cs.dirtyRate),
		CopyRate:         uint64(cs.copyRate),
		PredictedPasses:  uint64(cs.predictedPasses),
		Template:         str(&cs.template),
	}
}

// cString is C.CString, or NULL for "" (libvirt-clone's defaults).
func cString(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// PolicyNormalize validates a clone policy as CloneLive would, without a
// domain or a connection, and returns the effective policy: a <clonepolicy>
// document with every default written out (virDomainCloneLivePolicyNormalize).
// "" stands for the defaults.  The error of an invalid policy has the code
// ErrPolicy and names the line at fault.
func PolicyNormalize(policy string) (string, error) {
	var cerr C.lvcGoError

	cpolicy := cString(policy)
	defer C.free(unsafe.Pointer(cpolicy))
	ret := C.lvcGoPolicyNormalize(cpolicy, 0, &cerr)
	if ret == nil {
		return "", takeError(&cerr)
	}
	defer C.free(unsafe.Pointer(ret))
	return C.GoString(ret), nil
}

// Reap destroys every clone on conn whose time-to-live (policy <lifecycle
// ttl=.../>) has passed, undefining persistent ones and removing the clones'
// own overlays (virConnectCloneLiveReap).  Clones without a TTL and domains
// that are not clones are left alone.  It returns the number of clones
// destroyed; on error, those destroyed before it stay destroyed.
func Reap(conn *Connect) (int, error) {
	var cerr C.lvcGoError

	ptr, err := connectPtr(conn)
	if err != nil {
		return 0, err
	}
	n := C.lvcGoReap(ptr, 0, &cerr)
	if n < 0 {
		return 0, takeError(&cerr)
	}
	return int(n), nil
}
