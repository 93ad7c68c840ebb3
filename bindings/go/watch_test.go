// SPDX-License-Identifier: LGPL-2.1-or-later

//go:build !libvirtorg

package libvirtclone

// The watches.  Without a guest: a real tap device of our own (the host
// receives what is written into it as it receives a guest's transmit), the
// network device of a running domain of libvirt's test driver
// (test:///default); root only (TUNSETIFF, CAP_NET_RAW).  With the test
// guest: an integrity watch on a clone reports the clone's end.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	libvirt "github.com/libvirt/libvirt-go"
)

type watchEvent struct {
	dom   *Domain
	event SandboxEvent
}

// collector is a SandboxEventFunc that sends what it gets on a channel.
type collector chan watchEvent

func (c collector) fn(dom *Domain, event SandboxEvent) {
	c <- watchEvent{dom, event}
}

// next waits for the next event of type want (any type: -1).
func (c collector) next(t *testing.T, timeout time.Duration, want SandboxEventType) SandboxEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e := <-c:
			if want < 0 || e.event.Type == want {
				return e.event
			}
		case <-deadline:
			t.Fatalf("no %v event within %v", want, timeout)
		}
	}
}

func testDriver(t *testing.T) *libvirt.Connect {
	t.Helper()
	conn, err := libvirt.NewConnect("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestWatchConstants(t *testing.T) {
	if SandboxEventTraffic != 0 || SandboxEventLost != 1 || SandboxEventEnd != 2 ||
		SandboxEventIntegrity != 3 {
		t.Errorf("sandbox event types %d %d %d %d", SandboxEventTraffic, SandboxEventLost,
			SandboxEventEnd, SandboxEventIntegrity)
	}
	if IntegrityAlert != 0 || IntegrityPause != 1 || IntegrityDestroy != 2 || IntegrityForce != 1 {
		t.Errorf("integrity constants %d %d %d %d", IntegrityAlert, IntegrityPause,
			IntegrityDestroy, IntegrityForce)
	}
	want := map[SandboxEventType]string{
		SandboxEventTraffic: "traffic", SandboxEventLost: "lost", SandboxEventEnd: "end",
		SandboxEventIntegrity: "integrity", SandboxEventType(42): "SandboxEventType(42)",
		SandboxEventType(1 << 40): "SandboxEventType(1099511627776)",
	}
	for typ, s := range want {
		if typ.String() != s {
			t.Errorf("SandboxEventType %d: %q, want %q", int(typ), typ.String(), s)
		}
	}
}

// nil arguments, and the library's refusals on the test driver's domain.
func TestWatchInvalidArguments(t *testing.T) {
	c := make(collector, 8)
	if id, err := SandboxWatch(nil, c.fn); id != -1 || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("SandboxWatch(nil) = %d, %v", id, err)
	}
	if id, err := SandboxWatch(&Domain{}, c.fn); id != -1 || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("SandboxWatch(&Domain{}) = %d, %v", id, err)
	}
	if id, err := IntegrityWatch(nil, 0, IntegrityAlert, 0, c.fn); id != -1 || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("IntegrityWatch(nil) = %d, %v", id, err)
	}
	if id, err := SandboxWatchDevices("x", []string{"lo"}, nil); id != -1 || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("SandboxWatchDevices(nil function) = %d, %v", id, err)
	}

	conn := testDriver(t)
	dom, err := conn.LookupDomainByName("test")
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	if _, err := SandboxWatch(dom, nil); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("SandboxWatch(nil function) = %v", err)
	}
	if _, err := IntegrityWatch(dom, -time.Second, IntegrityAlert, IntegrityForce, c.fn); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("IntegrityWatch(negative interval) = %v", err)
	}
	_, err = IntegrityWatch(dom, 0, IntegrityAlert, 0, c.fn)
	wantCode(t, "integrity watch of a domain that is not a clone", err, ErrOperationInvalid)
	if err == nil || !strings.Contains(err.Error(), "domain 'test' is not a clone") {
		t.Errorf("integrity watch of the test domain: %v", err)
	}
	for _, action := range []IntegrityAction{3, -1} {
		_, err = IntegrityWatch(dom, time.Second, action, IntegrityForce, c.fn)
		wantCode(t, "unknown action", err, ErrInvalidArg)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown integrity action %d", action)) {
			t.Errorf("IntegrityWatch(action %d) = %v", action, err)
		}
	}
	_, err = IntegrityWatch(dom, time.Second, IntegrityAlert, 1<<7, c.fn)
	wantCode(t, "unknown integrity flag", err, ErrInvalidArg)
	// its NIC's testnet0 does not exist on this host
	_, err = SandboxWatch(dom, c.fn)
	if err == nil || !strings.Contains(err.Error(), "cannot find network device 'testnet0' of clone 'test'") {
		t.Errorf("SandboxWatch(test) = %v", err)
	}
	_, err = SandboxWatchDevices("x", nil, c.fn)
	wantCode(t, "a watch of no device", err, ErrInvalidArg)
	_, err = SandboxWatchDevices("x", []string{"lvcgo-nonexistent"}, c.fn)
	wantCode(t, "a watch of a missing device", err, ErrSystem)
	for _, id := range []int{0, -5, 1<<31 - 1, 1 << 40} {
		err = SandboxUnwatch(id)
		wantCode(t, "unwatch of an unknown ID", err, ErrInvalidArg)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("there is no sandbox watch with ID %d", id)) {
			t.Errorf("SandboxUnwatch(%d) = %v", id, err)
		}
	}
	if n := atomic.LoadInt64(&liveWatches); n != 0 {
		t.Errorf("%d watch handles left after refused watches", n)
	}
	if len(c) != 0 {
		t.Errorf("%d events from refused watches", len(c))
	}
}

// testTap is a tap device, up; it disappears when closed.
type testTap struct {
	name string
	fd   int
}

type ifreqFlags struct {
	name  [16]byte
	flags uint16
	_     [22]byte
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

func openTap(t *testing.T, suffix string) *testTap {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: tap devices and packet sockets")
	}
	tap := &testTap{name: fmt.Sprintf("lvcgo%d%s", os.Getpid(), suffix)}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tap.fd = fd
	t.Cleanup(tap.close)
	var ifr ifreqFlags
	copy(ifr.name[:], tap.name)
	ifr.flags = syscall.IFF_TAP | syscall.IFF_NO_PI
	if err := ioctl(fd, syscall.TUNSETIFF, unsafe.Pointer(&ifr)); err != nil {
		t.Fatalf("TUNSETIFF %s: %v", tap.name, err)
	}
	sock, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(sock)
	if err := ioctl(sock, syscall.SIOCGIFFLAGS, unsafe.Pointer(&ifr)); err != nil {
		t.Fatal(err)
	}
	ifr.flags |= syscall.IFF_UP
	if err := ioctl(sock, syscall.SIOCSIFFLAGS, unsafe.Pointer(&ifr)); err != nil {
		t.Fatal(err)
	}
	return tap
}

func (tap *testTap) close() {
	if tap.fd >= 0 {
		syscall.Close(tap.fd)
		tap.fd = -1
	}
}

// sendUDP writes what a guest sends: an Ethernet frame with a UDP datagram.
func (tap *testTap) sendUDP(t *testing.T, dst string, port uint16) {
	t.Helper()
	payload := []byte("libvirt-clone")
	udp := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], port)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	ip = append(ip, net.ParseIP("10.0.2.15").To4()...)
	ip = append(ip, net.ParseIP(dst).To4()...)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	sum = (sum & 0xffff) + (sum >> 16)
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	frame := []byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00}
	frame = append(append(frame, ip...), udp...)
	if _, err := syscall.Write(tap.fd, frame); err != nil {
		t.Fatalf("write to %s: %v", tap.name, err)
	}
}

// A running domain of the test driver whose NIC is our tap: frames written
// into the tap come to the function as SandboxEventTraffic, on another
// thread, with the domain; the tap's end is SandboxEventEnd; unwatching
// releases the watch's handle, and a second unwatch fails.
func TestSandboxWatchTap(t *testing.T) {
	tap := openTap(t, "a")
	conn := testDriver(t)
	name := fmt.Sprintf("gow-%d", os.Getpid())
	dom, err := conn.DomainCreateXML(fmt.Sprintf("<domain type='test'><name>%s</name>"+
		"<memory>65536</memory><os><type>hvm</type></os><devices>"+
		"<interface type='ethernet'><target dev='%s' managed='no'/></interface>"+
		"</devices></domain>", name, tap.name), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dom.Destroy()
		dom.Free()
	}()

	c := make(collector, 64)
	id, err := SandboxWatch(dom, c.fn)
	if err != nil || id <= 0 {
		t.Fatalf("SandboxWatch = %d, %v", id, err)
	}
	unwatched := false
	defer func() {
		if !unwatched {
			SandboxUnwatch(id)
		}
	}()
	if n := atomic.LoadInt64(&liveWatches); n != 1 {
		t.Errorf("%d watch handles, want 1", n)
	}

	tap.sendUDP(t, "10.0.2.2", 4242)
	select {
	case e := <-c:
		ev := e.event
		if ev.Type != SandboxEventTraffic || ev.Clone != name || ev.Device != tap.name ||
			ev.Protocol != "udp" || ev.DstAddr != "10.0.2.2" || ev.DstPort != 4242 ||
			ev.DstMAC != "52:54:00:12:34:56" || ev.Count != 1 || ev.Integrity != "" || ev.Action != "" {
			t.Errorf("first event %+v", ev)
		}
		if d := time.Since(ev.Time); d < -time.Minute || d > time.Minute {
			t.Errorf("event time %v", ev.Time)
		}
		if e.dom == nil {
			t.Error("no domain in the event")
		} else if n, err := e.dom.GetName(); err != nil || n != name {
			t.Errorf("the event's domain is %q, %v", n, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s of the frame")
	}
	tap.sendUDP(t, "10.0.2.3", 53)
	if ev := c.next(t, 5*time.Second, SandboxEventTraffic); ev.DstAddr != "10.0.2.3" || ev.DstPort != 53 {
		t.Errorf("second event %+v", ev)
	}

	tap.close()
	if ev := c.next(t, 10*time.Second, SandboxEventEnd); ev.Clone != name || ev.Device != "" {
		t.Errorf("end event %+v", ev)
	}
	if err := SandboxUnwatch(id); err != nil {
		t.Fatalf("SandboxUnwatch(%d) = %v", id, err)
	}
	unwatched = true
	if n := atomic.LoadInt64(&liveWatches); n != 0 {
		t.Errorf("%d watch handles left after the unwatch", n)
	}
	wantCode(t, "second unwatch", SandboxUnwatch(id), ErrInvalidArg)
}

// A watch of devices (a nil domain) whose function unwatches its own watch:
// no event follows, and the handle is released once the function returned.
func TestSandboxWatchDevicesUnwatchItself(t *testing.T) {
	tap := openTap(t, "b")
	var id int32
	calls := make(chan error, 8)
	fn := func(dom *Domain, event SandboxEvent) {
		if dom != nil {
			calls <- fmt.Errorf("a domain for a watch of devices")
			return
		}
		calls <- SandboxUnwatch(int(atomic.LoadInt32(&id)))
	}
	n, err := SandboxWatchDevices("gow-devices", []string{tap.name}, fn)
	if err != nil {
		t.Fatal(err)
	}
	atomic.StoreInt32(&id, int32(n))
	tap.sendUDP(t, "10.0.2.2", 4242)
	select {
	case err := <-calls:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		SandboxUnwatch(n)
		t.Fatal("no event within 5 s of the frame")
	}
	tap.sendUDP(t, "10.0.2.4", 4243)
	deadline := time.Now().Add(5 * time.Second)
	for atomic.LoadInt64(&liveWatches) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := atomic.LoadInt64(&liveWatches); n != 0 {
		t.Errorf("%d watch handles left after the watch unwatched itself", n)
	}
	time.Sleep(300 * time.Millisecond)
	if len(calls) != 0 {
		t.Errorf("%d calls after the unwatch", len(calls))
	}
	wantCode(t, "unwatch after the watch unwatched itself", SandboxUnwatch(n), ErrInvalidArg)
}

// ---- with the real guest --------------------------------------------------

// The source (not a clone) is refused; an integrity watch with IntegrityAlert
// on a clone reports the end through the function when the clone is
// destroyed; unwatch works once.
func TestIntegrityWatchEnd(t *testing.T) {
	e := guest(t)
	c := make(collector, 16)
	_, err := IntegrityWatch(e.src, 0, IntegrityAlert, 0, c.fn)
	wantCode(t, "integrity watch of the source", err, ErrOperationInvalid)

	clone, err := CloneLive(e.src, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, clone)
	name, err := clone.GetName()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	id, err := IntegrityWatch(clone, 500*time.Millisecond, IntegrityAlert, 0, c.fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("integrity baseline of %s: %v", name, time.Since(start))
	unwatched := false
	defer func() {
		if !unwatched {
			SandboxUnwatch(id)
		}
	}()
	if err := clone.Destroy(); err != nil {
		t.Fatal(err)
	}
	// the first event: an idle clone's kernel differs from no baseline
	ev := c.next(t, 15*time.Second, -1)
	if ev.Type != SandboxEventEnd || ev.Clone != name || ev.Integrity != "" {
		t.Errorf("first event %+v, want the end of %s", ev, name)
	}
	if err := SandboxUnwatch(id); err != nil {
		t.Fatal(err)
	}
	unwatched = true
	wantCode(t, "second unwatch", SandboxUnwatch(id), ErrInvalidArg)
}
