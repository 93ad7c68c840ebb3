// SPDX-License-Identifier: LGPL-2.1-or-later

//go:build !libvirtorg

package libvirtclone

// The real test guest (tests/guest/) under libvirt's embedded QEMU driver,
// for the tests that clone: one root and one running source domain per test
// process, made on first use and removed by TestMain.  The Go counterpart of
// tests/testutils-guest.c, reduced to what these tests need.
//
// Environment (set by meson):
//   TG_GUEST_DIR   <builddir>/tests/guest: vmlinuz, initramfs.img, accel,
//                  guest-domain-xml; without it the tests that need a guest
//                  are skipped
//   TG_ACCEL       kvm|qemu: overrides TG_GUEST_DIR/accel
//   TG_ROOT_BASE   where the root is made (default /var/tmp; short: QEMU's
//                  UNIX sockets live under it)
//   TG_KEEP=1      keep the root (serial logs, QEMU logs) and start no reaper

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	libvirt "github.com/libvirt/libvirt-go"
)

const (
	bootTimeout  = 180 * time.Second // TCG on a loaded machine
	rootBaseMax  = 40                // keeps QEMU's socket paths < 108 bytes
	guestDiskMiB = 64
)

type testEnv struct {
	guestDir string
	root     string
	keep     bool
	reaper   *exec.Cmd
	reaperW  io.WriteCloser
	conn     *libvirt.Connect

	src     *libvirt.Domain // running, idle workload
	srcName string
	srcLog  string
	ready   string // its "CLONETEST ready" line
}

var (
	envOnce sync.Once
	env     *testEnv
	envErr  error
)

// rootEnv names the root that TestMain made before it ran the tests again
// with libvirt's log going to a file in it.
const rootEnv = "TGGO_ROOT"

func TestMain(m *testing.M) {
	// libvirt reads its log settings once, when libvirt-go's init calls
	// virInitialize, before this runs; its benign warnings ("tainted")
	// would go to stderr.  Like the C harness, send them to ROOT/libvirt.log
	// (kept with TG_KEEP=1): make the root, then run this binary again.
	if os.Getenv("TG_GUEST_DIR") != "" && os.Getenv(rootEnv) == "" &&
		os.Getenv("LIBVIRT_LOG_OUTPUTS") == "" && os.Getenv("LIBVIRT_DEBUG") == "" {
		if root, err := makeRoot(); err == nil {
			exe, err := os.Executable()
			if err == nil {
				environ := append(os.Environ(), rootEnv+"="+root,
					"LIBVIRT_LOG_OUTPUTS=3:file:"+filepath.Join(root, "libvirt.log"))
				err = syscall.Exec(exe, os.Args, environ)
			}
			fmt.Fprintf(os.Stderr, "cannot run the tests again with libvirt's log in a file: %v\n", err)
			os.Remove(root)
		}
	}

	code := m.Run()
	if env != nil {
		env.close()
	} else if root := os.Getenv(rootEnv); root != "" {
		os.RemoveAll(root) // no test needed the guest
	}
	os.Exit(code)
}

// makeRoot makes the embedded driver's root: under TG_ROOT_BASE (short, as
// QEMU's UNIX sockets live under it), default /var/tmp.
func makeRoot() (string, error) {
	base := os.Getenv("TG_ROOT_BASE")
	if base == "" {
		base = "/var/tmp"
	}
	if len(base) > rootBaseMax {
		return "", fmt.Errorf("TG_ROOT_BASE %q is longer than %d bytes", base, rootBaseMax)
	}
	return os.MkdirTemp(base, "tggo-")
}

// guest returns the environment with its running source domain, making them
// on first use; it skips the test if TG_GUEST_DIR is not set.
func guest(t *testing.T) *testEnv {
	t.Helper()
	if os.Getenv("TG_GUEST_DIR") == "" {
		t.Skip("TG_GUEST_DIR is not set (the build's tests/guest): no real guest")
	}
	envOnce.Do(func() {
		env, envErr = newTestEnv()
	})
	if envErr != nil {
		t.Fatalf("test guest: %v", envErr)
	}
	return env
}

func newTestEnv() (*testEnv, error) {
	e := &testEnv{keep: os.Getenv("TG_KEEP") == "1"}
	var err error

	if e.guestDir, err = filepath.Abs(os.Getenv("TG_GUEST_DIR")); err != nil {
		return nil, err
	}
	for _, f := range []string{"vmlinuz", "initramfs.img"} {
		if _, err := os.Stat(filepath.Join(e.guestDir, f)); err != nil {
			return nil, fmt.Errorf("build the test guest first: %w", err)
		}
	}
	if e.root = os.Getenv(rootEnv); e.root == "" {
		if e.root, err = makeRoot(); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	if err := e.startReaper(); err != nil {
		return nil, err
	}
	if err := e.writeConfig(); err != nil {
		return nil, err
	}
	e.copyCapsCache(false)

	// libvirt's event loop, which the embedded driver needs
	if err := libvirt.EventRegisterDefaultImpl(); err != nil {
		return nil, fmt.Errorf("cannot register libvirt's event loop: %w", err)
	}
	go func() {
		for {
			if err := libvirt.EventRunDefaultImpl(); err != nil {
				fmt.Fprintf(os.Stderr, "libvirt event loop: %v\n", err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()

	uri := "qemu:///embed?root=" + e.root
	if e.conn, err = libvirt.NewConnect(uri); err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", uri, err)
	}

	e.srcName = fmt.Sprintf("gosrc-%d", os.Getpid())
	if e.src, err = e.defineGuest(e.srcName); err != nil {
		return nil, err
	}
	e.srcLog = e.serialLog(e.srcName)
	if err := e.src.Create(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", e.srcName, err)
	}
	if e.ready, err = waitLine(e.src, e.srcLog, regexp.MustCompile(`CLONETEST ready `), bootTimeout); err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// startReaper starts a process that outlives this one: when this process
// ends with the root still there (failed test, crash, timeout kill), it
// kills the root's QEMUs and removes the root.
func (e *testEnv) startReaper() error {
	const script = `root=$1
cat >/dev/null
[ -d "$root" ] || exit 0
for f in "$root"/run/qemu/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    grep -qaF "$root" "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid"
done
sleep 1
rm -rf "$root"
`
	if e.keep {
		return nil
	}
	cmd := exec.Command("/bin/sh", "-c", script, "tggo-reaper", e.root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start the reaper: %w", err)
	}
	e.reaper, e.reaperW = cmd, w
	return nil
}

func (e *testEnv) writeConfig() error {
	etc := filepath.Join(e.root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(e.root, "images"), 0o755); err != nil {
		return err
	}
	conf := "# written by bindings/go/guest_test.go\n" +
		"user = \"root\"\n" +
		"group = \"root\"\n" +
		"stdio_handler = \"file\"\n"
	return os.WriteFile(filepath.Join(etc, "qemu.conf"), []byte(conf), 0o644)
}

// copyCapsCache carries libvirt's QEMU capabilities cache (seconds to probe)
// between the guest directory, where the C tests keep it, and the root.
func (e *testEnv) copyCapsCache(save bool) {
	saved := filepath.Join(e.guestDir, "qemu-caps")
	live := filepath.Join(e.root, "cache", "qemu", "capabilities")
	from, to := saved, live
	if save {
		from, to = live, saved
	}
	ents, err := os.ReadDir(from)
	if err != nil || os.MkdirAll(to, 0o755) != nil {
		return
	}
	for _, ent := range ents {
		if !ent.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, ent.Name()))
		if err != nil {
			continue
		}
		tmp := filepath.Join(to, fmt.Sprintf(".%s.%d.tmp", ent.Name(), os.Getpid()))
		if os.WriteFile(tmp, data, 0o644) != nil || os.Rename(tmp, filepath.Join(to, ent.Name())) != nil {
			os.Remove(tmp)
		}
	}
}

func (e *testEnv) serialLog(name string) string {
	return filepath.Join(e.root, name+"-serial0.log")
}

// defineGuest defines (does not start) a domain of the test guest with a
// qcow2 disk of its own.
func (e *testEnv) defineGuest(name string) (*libvirt.Domain, error) {
	disk := filepath.Join(e.root, "images", name+".qcow2")
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", disk,
		fmt.Sprintf("%dM", guestDiskMiB)).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("qemu-img create %s: %v: %s", disk, err, bytes.TrimSpace(out))
	}
	// the domain of every test guest (tests/guest/domainxml.c), with the
	// accelerator detect-accel.sh found
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(e.guestDir, "guest-domain-xml"),
		"--guest-dir", e.guestDir, "--name", name, "--memory", "256",
		"--workload", "clonetest.mode=idle clonetest.mib=16",
		"--disk", disk, "--log", e.serialLog(name))
	cmd.Stderr = &stderr
	x, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("guest-domain-xml: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}

	dom, err := e.conn.DomainDefineXML(string(x))
	if err != nil {
		return nil, fmt.Errorf("cannot define %s: %w", name, err)
	}
	return dom, nil
}

// removeDomain destroys and undefines dom (errors ignored: it may be gone).
func removeDomain(dom *libvirt.Domain) {
	if active, err := dom.IsActive(); err == nil && active {
		dom.Destroy()
	}
	if persistent, err := dom.IsPersistent(); err == nil && persistent {
		dom.UndefineFlags(libvirt.DOMAIN_UNDEFINE_MANAGED_SAVE |
			libvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
			libvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA |
			libvirt.DOMAIN_UNDEFINE_NVRAM)
	}
}

func (e *testEnv) close() {
	if e.conn != nil {
		if doms, err := e.conn.ListAllDomains(0); err == nil {
			for i := range doms {
				removeDomain(&doms[i])
				doms[i].Free()
			}
		}
		if e.src != nil {
			e.src.Free()
		}
		e.conn.Close()
		e.copyCapsCache(true)
	}
	if e.root != "" && !e.keep {
		os.RemoveAll(e.root)
	}
	if e.reaperW != nil {
		e.reaperW.Close()
		e.reaper.Wait()
	}
}

// domainInfo is what the tests read from a domain's live XML.
type domainInfo struct {
	Name    string `xml:"name"`
	UUID    string `xml:"uuid"`
	Serials []struct {
		Log struct {
			File string `xml:"file,attr"`
		} `xml:"log"`
	} `xml:"devices>serial"`
	Disks []struct {
		Device string `xml:"device,attr"`
		Source struct {
			File string `xml:"file,attr"`
		} `xml:"source"`
	} `xml:"devices>disk"`
}

func getDomainInfo(dom *libvirt.Domain) (*domainInfo, error) {
	text, err := dom.GetXMLDesc(0)
	if err != nil {
		return nil, err
	}
	var info domainInfo
	if err := xml.Unmarshal([]byte(text), &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// waitLine waits for a line of the serial log at path that matches re, and
// returns it; it fails early if dom stops running.
func waitLine(dom *libvirt.Domain, path string, re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		// complete lines only: the console writes a line a character at
		// a time, and a regexp may match the start of one ("CLONETEST
		// ready " before its " t=")
		text := string(data)
		text = text[:strings.LastIndexByte(text, '\n')+1]
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimRight(line, "\r")
			if re.MatchString(line) {
				return line, nil
			}
		}
		if active, err := dom.IsActive(); err == nil && !active {
			return "", fmt.Errorf("the domain stopped before %q appeared in %s:\n%s", re, path, tail(data))
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no %q in %s after %v:\n%s", re, path, timeout, tail(data))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(data []byte) string {
	lines := strings.Split(strings.TrimRight(string(data), "\r\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
