// SPDX-License-Identifier: LGPL-2.1-or-later

//go:build !libvirtorg

package libvirtclone

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	libvirt "github.com/libvirt/libvirt-go"
)

// ---- without a guest ------------------------------------------------------

// The layout of libvirt-go's Domain and Connect that handles.go relies on.
func TestHandleLayout(t *testing.T) {
	if layoutErr != nil {
		t.Fatal(layoutErr)
	}
	if err := checkLayouts(); err != nil {
		t.Fatal(err)
	}

	// the check refuses what it must refuse
	var ptr *int
	ptrType := reflect.TypeOf(ptr)
	bad := map[string]reflect.Type{
		"two fields":    reflect.TypeOf(struct{ ptr, more *int }{}),
		"renamed field": reflect.TypeOf(struct{ p *int }{}),
		"not a pointer": reflect.TypeOf(struct{ ptr uintptr }{}),
		"other pointer": reflect.TypeOf(struct{ ptr *byte }{}),
		"not a struct":  ptrType,
	}
	for what, typ := range bad {
		err := checkHandleLayout(typ, ptrType)
		var e *Error
		if !errors.As(err, &e) || e.Code != ErrInternal {
			t.Errorf("%s: checkHandleLayout = %v, want an ErrInternal *Error", what, err)
		}
	}
	if err := checkHandleLayout(reflect.TypeOf(struct{ ptr *int }{}), ptrType); err != nil {
		t.Errorf("a good layout: %v", err)
	}

	// a Domain whose pointer is nil (the zero value) is refused, not used
	if _, err := CloneLive(&Domain{}, "", 0); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("CloneLive(&Domain{}) = %v, want ErrInvalidArg", err)
	}
	if unsafe.Sizeof(Domain{}) != unsafe.Sizeof(uintptr(0)) {
		t.Errorf("sizeof(Domain) = %d", unsafe.Sizeof(Domain{}))
	}
}

func TestErrors(t *testing.T) {
	codes := []ErrorNumber{ErrOK, ErrInternal, ErrInvalidArg, ErrNoDomain, ErrOperationInvalid,
		ErrUnsupported, ErrBusy, ErrPolicy, ErrLibvirt, ErrQemu, ErrMigration, ErrDisk,
		ErrSystem, ErrTimeout, ErrGuest, ErrNoTemplate}
	for i, code := range codes {
		if int(code) != i {
			t.Errorf("%v = %d, want %d (virCloneErrorNumber order)", code, int(code), i)
		}
		if strings.HasPrefix(code.Error(), "libvirt-clone error") {
			t.Errorf("code %d has no description", int(code))
		}
	}
	if s := ErrorNumber(99).Error(); s != "libvirt-clone error 99" {
		t.Errorf("ErrorNumber(99).Error() = %q", s)
	}

	var err error = fmt.Errorf("context: %w", &Error{Code: ErrBusy, Message: "the source is busy"})
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrBusy {
		t.Fatalf("errors.As(%v) = %v", err, e)
	}
	if !errors.Is(err, ErrBusy) || errors.Is(err, ErrPolicy) {
		t.Error("errors.Is does not match the code")
	}
	if err.Error() != "context: the source is busy" {
		t.Errorf("Error() = %q", err.Error())
	}
	if s := (&Error{Code: ErrDisk}).Error(); s != "libvirt-clone: disk fork failed" {
		t.Errorf("Error() without a message = %q", s)
	}
}

func TestInvalidArguments(t *testing.T) {
	if d, err := CloneLive(nil, "", 0); d != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("CloneLive(nil) = %v, %v", d, err)
	}
	if d, _, err := CloneLiveWithProgress(nil, "", 0, nil); d != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("CloneLiveWithProgress(nil) = %v, %v", d, err)
	}
	if n, err := Reap(nil); n != 0 || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("Reap(nil) = %d, %v", n, err)
	}
}

func TestPolicyNormalize(t *testing.T) {
	def, err := PolicyNormalize("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "<clonepolicy") || !strings.Contains(def, "<lifecycle") {
		t.Errorf("default policy:\n%s", def)
	}
	// a normalized policy normalizes to itself
	again, err := PolicyNormalize(def)
	if err != nil || again != def {
		t.Errorf("normalizing the defaults again: %v\n%s", err, again)
	}
	ttl, err := PolicyNormalize("<clonepolicy><lifecycle ttl='60'/></clonepolicy>")
	if err != nil || !strings.Contains(ttl, "ttl='60'") && !strings.Contains(ttl, `ttl="60"`) {
		t.Errorf("ttl policy: %v\n%s", err, ttl)
	}

	_, err = PolicyNormalize("<clonepolicy>\n  <bogus/>\n</clonepolicy>")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("bad policy: %v, want an *Error", err)
	}
	if e.Code != ErrPolicy || !errors.Is(err, ErrPolicy) || e.Message == "" {
		t.Errorf("bad policy: %+v, want ErrPolicy", e)
	}
	t.Logf("bad policy: %v", err)
}

func TestPhaseString(t *testing.T) {
	want := map[Phase]string{
		PhasePrepare: "prepare", PhaseStartClone: "start-clone", PhaseCopyRAM: "copy-ram",
		PhaseSwitchover: "switchover", PhaseFinish: "finish", PhaseDone: "done",
		PhaseRollback: "rollback", Phase(42): "Phase(42)",
	}
	for p, s := range want {
		if p.String() != s {
			t.Errorf("Phase %d: %q, want %q", int(p), p.String(), s)
		}
	}
}

// ---- with the real guest --------------------------------------------------

// discard destroys a clone (transient ones then vanish) and frees it.
func discard(t *testing.T, clone *libvirt.Domain) {
	t.Cleanup(func() {
		removeDomain(clone)
		clone.Free()
	})
}

func domainState(t *testing.T, dom *libvirt.Domain) libvirt.DomainState {
	t.Helper()
	state, _, err := dom.GetState()
	if err != nil {
		t.Fatal(err)
	}
	return state
}

var readyTime = regexp.MustCompile(` t=([0-9]+)`)

// checkClone checks that clone is a running copy of the source: another
// name and UUID, and a workload that goes on from the source's state (stat
// lines on its own console, no new boot).
func checkClone(t *testing.T, e *testEnv, clone *libvirt.Domain) *domainInfo {
	t.Helper()
	src, err := getDomainInfo(e.src)
	if err != nil {
		t.Fatal(err)
	}
	info, err := getDomainInfo(clone)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name == "" || info.Name == src.Name {
		t.Errorf("clone name %q (source %q)", info.Name, src.Name)
	}
	if info.UUID == "" || info.UUID == src.UUID {
		t.Errorf("clone UUID %q (source %q)", info.UUID, src.UUID)
	}
	if s := domainState(t, clone); s != libvirt.DOMAIN_RUNNING {
		t.Errorf("clone state %d, want running", s)
	}
	if s := domainState(t, e.src); s != libvirt.DOMAIN_RUNNING {
		t.Errorf("source state %d, want running", s)
	}
	if len(info.Serials) == 0 || info.Serials[0].Log.File == "" || info.Serials[0].Log.File == e.srcLog {
		t.Fatalf("clone serial log: %+v", info.Serials)
	}

	// the workload, not a new boot, writes to the clone's console
	log := info.Serials[0].Log.File
	line, err := waitLine(clone, log, regexp.MustCompile(`CLONETEST (stat|ready) `), 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "ready") {
		t.Fatalf("the clone booted anew: %q", line)
	}
	bootT, _ := strconv.ParseUint(readyTime.FindStringSubmatch(e.ready)[1], 10, 64)
	m := readyTime.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no t= in %q", line)
	}
	if cloneT, _ := strconv.ParseUint(m[1], 10, 64); cloneT < bootT {
		t.Errorf("clone's guest time %d ms < the source's at its ready line, %d ms", cloneT, bootT)
	}
	t.Logf("clone %s (%s): %s", info.Name, info.UUID, line)
	return info
}

func TestCloneLive(t *testing.T) {
	e := guest(t)
	clone, err := CloneLive(e.src, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, clone)
	info := checkClone(t, e, clone)

	// the returned Domain is an ordinary libvirt-go Domain
	name, err := clone.GetName()
	if err != nil || name != info.Name {
		t.Errorf("GetName() = %q, %v; want %q", name, err, info.Name)
	}
	byName, err := e.conn.LookupDomainByName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Free()
	u1, _ := byName.GetUUIDString()
	u2, _ := clone.GetUUIDString()
	if u1 != u2 {
		t.Errorf("UUID by name %s, of the returned domain %s", u1, u2)
	}
}

func TestCloneLiveWithProgress(t *testing.T) {
	e := guest(t)
	var (
		phases      []Phase
		lastPercent uint
		wentBack    bool
		calls       int
	)
	progress := func(phase Phase, percent uint) {
		calls++
		if len(phases) == 0 || phases[len(phases)-1] != phase {
			phases = append(phases, phase)
			lastPercent = 0
		}
		if percent > 100 || (phase == PhaseCopyRAM && percent < lastPercent) {
			wentBack = true
		}
		lastPercent = percent
	}

	clone, stats, err := CloneLiveWithProgress(e.src, "", 0, progress)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, clone)
	info := checkClone(t, e, clone)
	t.Logf("%d progress calls, phases %v, stats %+v", calls, phases, stats)

	want := []Phase{PhasePrepare, PhaseStartClone, PhaseCopyRAM, PhaseSwitchover, PhaseFinish, PhaseDone}
	if stats.Strategy == "background" {
		want = []Phase{PhasePrepare, PhaseStartClone, PhaseSwitchover, PhaseCopyRAM, PhaseFinish, PhaseDone}
	} else if stats.Strategy != "precopy" {
		t.Errorf("strategy %q", stats.Strategy)
	}
	if !reflect.DeepEqual(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	if wentBack {
		t.Error("RAM progress went back or past 100")
	}
	if stats.Name != info.Name || stats.UUID != info.UUID {
		t.Errorf("stats name/UUID %s %s, clone %s %s", stats.Name, stats.UUID, info.Name, info.UUID)
	}
	if stats.Total <= 0 || stats.Bytes == 0 || stats.CloneStart <= 0 || stats.Total < stats.CloneStart {
		t.Errorf("implausible stats %+v", stats)
	}
	checkAutoStats(t, e.conn, stats)
}

// checkAutoStats: the automatic choice's measurement of an idle source
// (the default policy): sampled, pre-copy within twice the passes
// predicted + 3.  QEMU before 9.0 may sample nothing (before 8.2; under TCG auto is
// the background snapshot): then the three are 0.
func checkAutoStats(t *testing.T, conn *Connect, stats Stats) {
	t.Helper()
	version, err := conn.GetVersion()
	if err != nil {
		t.Fatal(err)
	}
	if version < 9000000 && stats.CopyRate == 0 {
		if stats.DirtyRate != 0 || stats.PredictedPasses != 0 {
			t.Errorf("not sampled, yet dirty rate %d, %d passes predicted",
				stats.DirtyRate, stats.PredictedPasses)
		}
		return
	}
	if stats.CopyRate == 0 || stats.DirtyRate >= stats.CopyRate {
		t.Errorf("idle source: dirty rate %d B/s, copy rate %d B/s", stats.DirtyRate, stats.CopyRate)
	}
	if stats.Strategy != "precopy" || stats.Fallbacks != 0 || stats.PredictedPasses == 0 ||
		stats.Passes > 2*stats.PredictedPasses+3 {
		t.Errorf("idle source: %s after %d fallbacks, %d passes, %d predicted",
			stats.Strategy, stats.Fallbacks, stats.Passes, stats.PredictedPasses)
	}
}

func TestCloneLiveBadPolicy(t *testing.T) {
	e := guest(t)
	before, err := e.conn.ListAllDomains(0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		before[i].Free()
	}

	clone, err := CloneLive(e.src, "<clonepolicy><bogus/></clonepolicy>", 0)
	if clone != nil {
		discard(t, clone)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("CloneLive with a bad policy: %v, want an *Error", err)
	}
	if ce.Code != ErrPolicy || !errors.Is(err, ErrPolicy) {
		t.Errorf("code %d (%v), want ErrPolicy: %s", int(ce.Code), ce.Code, ce.Message)
	}
	t.Logf("refused: %v", err)

	after, err := e.conn.ListAllDomains(0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range after {
		after[i].Free()
	}
	if len(after) != len(before) {
		t.Errorf("%d domains before, %d after a refused clone", len(before), len(after))
	}
}

func TestCloneLiveFlags(t *testing.T) {
	e := guest(t)
	_, err := CloneLive(e.src, "", CloneLivePrecopy|CloneLiveBackground)
	if !errors.Is(err, ErrInvalidArg) {
		t.Errorf("PRECOPY|BACKGROUND: %v, want ErrInvalidArg", err)
	}
	_, err = CloneLive(e.src, "", 1<<20)
	if !errors.Is(err, ErrInvalidArg) {
		t.Errorf("unknown flag: %v, want ErrInvalidArg", err)
	}

	clone, err := CloneLive(e.src, "", CloneLivePaused|CloneLivePersistent)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, clone)
	if s := domainState(t, clone); s != libvirt.DOMAIN_PAUSED {
		t.Errorf("CloneLivePaused: state %d, want paused", s)
	}
	if persistent, err := clone.IsPersistent(); err != nil || !persistent {
		t.Errorf("CloneLivePersistent: persistent %v, %v", persistent, err)
	}
}

func TestCloneLiveShutOff(t *testing.T) {
	e := guest(t)
	name := fmt.Sprintf("gooff-%d", os.Getpid())
	off, err := e.defineGuest(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeDomain(off)
		off.Free()
	})

	clone, err := CloneLive(off, "", 0)
	if clone != nil {
		discard(t, clone)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != ErrOperationInvalid {
		t.Fatalf("cloning a shut-off domain: %v, want ErrOperationInvalid", err)
	}
	if !strings.Contains(ce.Message, name) {
		t.Errorf("the message does not name the domain: %s", ce.Message)
	}
	t.Logf("refused: %v", err)
}

func TestReap(t *testing.T) {
	e := guest(t)
	clone, err := CloneLive(e.src, "<clonepolicy><lifecycle ttl='2'/></clonepolicy>", 0)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, clone)
	keeper, err := CloneLive(e.src, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, keeper)

	time.Sleep(3 * time.Second)
	n, err := Reap(e.conn)
	if err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1", n, err)
	}
	if active, err := clone.IsActive(); err == nil && active {
		t.Error("the expired clone still runs")
	}
	if s := domainState(t, keeper); s != libvirt.DOMAIN_RUNNING {
		t.Errorf("the clone without TTL: state %d", s)
	}
	if n, err := Reap(e.conn); err != nil || n != 0 {
		t.Errorf("Reap again = %d, %v; want 0", n, err)
	}
}

// A panic in the progress function does not unwind through libvirt-clone:
// the clone completes, the function is not called again, and the panic
// comes out of CloneLiveWithProgress.
func TestProgressPanic(t *testing.T) {
	e := guest(t)
	type boom struct{}
	doms, err := e.conn.ListAllDomains(0)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for i := range doms {
		name, _ := doms[i].GetName()
		known[name] = true
		doms[i].Free()
	}
	t.Cleanup(func() { // the clone, whose handle the panic dropped
		doms, _ := e.conn.ListAllDomains(0)
		for i := range doms {
			if name, _ := doms[i].GetName(); !known[name] {
				removeDomain(&doms[i])
			}
			doms[i].Free()
		}
	})

	calls := 0
	got := func() (r interface{}) {
		defer func() { r = recover() }()
		CloneLiveWithProgress(e.src, "", 0, func(phase Phase, percent uint) {
			calls++
			if phase == PhaseStartClone {
				panic(boom{})
			}
		})
		return nil
	}()
	if _, ok := got.(boom); !ok {
		t.Fatalf("recovered %v, want the callback's panic", got)
	}
	if calls != 2 {
		t.Errorf("%d calls, want 2 (prepare, start-clone, then none)", calls)
	}
	if s := domainState(t, e.src); s != libvirt.DOMAIN_RUNNING {
		t.Errorf("source state %d, want running", s)
	}
	// the library is usable again for this source: its lock was released
	clone, err := CloneLive(e.src, "", 0)
	if err != nil {
		t.Fatalf("a clone after the panic: %v", err)
	}
	discard(t, clone)
}
