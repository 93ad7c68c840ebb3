// SPDX-License-Identifier: LGPL-2.1-or-later

//go:build !libvirtorg

package libvirtclone

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	libvirt "github.com/libvirt/libvirt-go"
)

// ---- without a guest ------------------------------------------------------

func TestTemplateConstants(t *testing.T) {
	if TemplateCreateWait != TemplateCreateFlags(CloneLiveWait) ||
		TemplateCreatePrecopy != TemplateCreateFlags(CloneLivePrecopy) ||
		TemplateCreateBackground != TemplateCreateFlags(CloneLiveBackground) ||
		TemplateCreateAutoDelete != 32 {
		t.Errorf("template creation flags %d %d %d %d", TemplateCreateWait, TemplateCreatePrecopy,
			TemplateCreateBackground, TemplateCreateAutoDelete)
	}
	if TemplateClonePaused != TemplateCloneFlags(CloneLivePaused) ||
		TemplateClonePersistent != TemplateCloneFlags(CloneLivePersistent) {
		t.Errorf("template clone flags %d %d", TemplateClonePaused, TemplateClonePersistent)
	}
	if ErrNoTemplate != 15 || ErrNoTemplate.Error() != "no such template" {
		t.Errorf("ErrNoTemplate = %d %q", int(ErrNoTemplate), ErrNoTemplate.Error())
	}
	err := fmt.Errorf("lookup: %w", &Error{Code: ErrNoTemplate, Message: "no template named 'x'"})
	if !errors.Is(err, ErrNoTemplate) || errors.Is(err, ErrNoDomain) {
		t.Error("errors.Is does not match ErrNoTemplate")
	}
}

func TestTemplateInvalidArguments(t *testing.T) {
	if tm, err := CreateTemplate(nil, "t", "", 0); tm != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("CreateTemplate(nil) = %v, %v", tm, err)
	}
	if tm, _, err := CreateTemplateWithProgress(&Domain{}, "t", "", 0, nil); tm != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("CreateTemplateWithProgress(&Domain{}) = %v, %v", tm, err)
	}
	if tm, err := LookupTemplateByName(nil, "t"); tm != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("LookupTemplateByName(nil) = %v, %v", tm, err)
	}
	if l, err := ListAllTemplates(&Connect{}); l != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("ListAllTemplates(&Connect{}) = %v, %v", l, err)
	}
	if err := Reset(nil, 0); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("Reset(nil) = %v", err)
	}
	var nilTmpl *Template
	if _, err := nilTmpl.Info(); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("nil Template Info = %v", err)
	}
	if err := nilTmpl.Delete(); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("nil Template Delete = %v", err)
	}
	if d, err := nilTmpl.CreateDomain("", 0); d != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("nil Template CreateDomain = %v, %v", d, err)
	}
	if nilTmpl.Name() != "" {
		t.Error("nil Template has a name")
	}
}

// ---- with the real guest --------------------------------------------------

func hasTemplate(t *testing.T, conn *libvirt.Connect, name string) bool {
	t.Helper()
	list, err := ListAllTemplates(conn)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tm := range list {
		if tm.Name() == name {
			found = true
		}
		tm.Close()
	}
	return found
}

func wantCode(t *testing.T, what string, err error, code ErrorNumber) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || !errors.Is(err, code) {
		t.Errorf("%s: %v, want an *Error with %v", what, err, code)
	}
}

// A template of the running guest; two domains from it; list, info, a
// refused delete, a reset, then the delete once they are gone.
func TestTemplate(t *testing.T) {
	e := guest(t)
	name := fmt.Sprintf("got-%d-%d", os.Getpid(), time.Now().UnixNano()%1000000)
	srcInfo, err := getDomainInfo(e.src)
	if err != nil {
		t.Fatal(err)
	}

	// errors without a template
	_, err = LookupTemplateByName(e.conn, name)
	wantCode(t, "lookup before", err, ErrNoTemplate)
	_, err = LookupTemplateByName(e.conn, "no/such")
	wantCode(t, "a bad name", err, ErrInvalidArg)

	var phases []Phase
	tmpl, _, err := CreateTemplateWithProgress(e.src, name, "", 0, func(p Phase, percent uint) {
		if len(phases) == 0 || phases[len(phases)-1] != p {
			phases = append(phases, p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // whatever happened: the domains first, then the template
		tmpl.Delete()
		tmpl.Close()
	})
	if tmpl.Name() != name {
		t.Errorf("Name() = %q, want %q", tmpl.Name(), name)
	}
	if len(phases) < 2 || phases[0] != PhasePrepare || phases[len(phases)-1] != PhaseDone {
		t.Errorf("template phases %v", phases)
	}
	if s := domainState(t, e.src); s != libvirt.DOMAIN_RUNNING {
		t.Errorf("source state %d after the template, want running", s)
	}

	info, err := tmpl.Info()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("template %s: %+v", name, info)
	if info.SourceName != srcInfo.Name || info.SourceUUID != srcInfo.UUID || info.Memory != 256<<20 ||
		info.Clones != 0 || info.Directory == "" || info.AutoDelete ||
		time.Since(info.Created) > 10*time.Minute || time.Until(info.Created) > time.Minute {
		t.Errorf("info %+v (source %s %s)", info, srcInfo.Name, srcInfo.UUID)
	}
	_, err = CreateTemplate(e.src, name, "", 0)
	wantCode(t, "a second template of the name", err, ErrInvalidArg)

	// two domains, each from the template's instant
	a, stats, err := tmpl.CreateDomainWithProgress("", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, a)
	b, err := tmpl.CreateDomain("", 0)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, b)
	infos := map[string]*domainInfo{}
	for i, d := range []*libvirt.Domain{a, b} {
		di := checkClone(t, e, d)
		infos[di.Name] = di
		if i == 0 && (stats.Name != di.Name || stats.UUID != di.UUID) {
			t.Errorf("stats name/UUID %s %s, domain %s %s", stats.Name, stats.UUID, di.Name, di.UUID)
		}
	}
	ai, _ := getDomainInfo(a)
	bi, _ := getDomainInfo(b)
	if ai.Name == bi.Name || ai.UUID == bi.UUID {
		t.Errorf("the two domains share a name or UUID: %s %s, %s %s", ai.Name, ai.UUID, bi.Name, bi.UUID)
	}
	if stats.Template != name || stats.Total <= 0 {
		t.Errorf("stats %+v, want template %q", stats, name)
	}

	// listed, looked up, with its two domains
	if !hasTemplate(t, e.conn, name) {
		t.Errorf("%s not listed", name)
	}
	again, err := LookupTemplateByName(e.conn, name)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if info, err := again.Info(); err != nil || info.Clones != 2 {
		t.Errorf("info with two domains: %+v, %v", info, err)
	}

	// not deleted while they exist
	err = tmpl.Delete()
	wantCode(t, "delete with domains", err, ErrOperationInvalid)
	if err != nil && (!strings.Contains(err.Error(), ai.Name) || !strings.Contains(err.Error(), bi.Name)) {
		t.Errorf("the refusal does not name the domains: %v", err)
	}

	// reset: a new QEMU at the template's instant, same name and UUID
	oldID, _ := a.GetID()
	if err := Reset(a, 0); err != nil {
		t.Fatal(err)
	}
	if s := domainState(t, a); s != libvirt.DOMAIN_RUNNING {
		t.Errorf("state %d after the reset, want running", s)
	}
	// (a handle's GetID is the one it was made with: look the domain up)
	if fresh, err := e.conn.LookupDomainByName(ai.Name); err != nil {
		t.Error(err)
	} else {
		if id, _ := fresh.GetID(); id == oldID {
			t.Errorf("the same QEMU (ID %d) after the reset", id)
		}
		fresh.Free()
	}
	if ri, err := getDomainInfo(a); err != nil || ri.Name != ai.Name || ri.UUID != ai.UUID {
		t.Errorf("after the reset: %+v, %v; want %s %s", ri, err, ai.Name, ai.UUID)
	} else if _, err := waitLine(a, ri.Serials[0].Log.File, regexp.MustCompile(`CLONETEST stat `), 60*time.Second); err != nil {
		t.Error(err)
	}
	wantCode(t, "reset of the source", Reset(e.src, 0), ErrOperationInvalid)

	// gone with its domains
	for _, d := range []*libvirt.Domain{a, b} {
		if err := d.Destroy(); err != nil {
			t.Fatal(err)
		}
	}
	if info, err := tmpl.Info(); err != nil || info.Clones != 0 {
		t.Errorf("info without domains: %+v, %v", info, err)
	}
	if err := tmpl.Delete(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if hasTemplate(t, e.conn, name) {
		t.Errorf("%s still listed", name)
	}
	_, err = LookupTemplateByName(e.conn, name)
	wantCode(t, "lookup after", err, ErrNoTemplate)
	_, err = again.Info()
	wantCode(t, "info after", err, ErrNoTemplate)
	_, err = again.CreateDomain("", 0)
	wantCode(t, "a domain after", err, ErrNoTemplate)

	// a closed handle is refused, not used
	again.Close()
	_, err = again.Info()
	wantCode(t, "info of a closed handle", err, ErrInvalidArg)
	if again.Name() != name || again.Close() != nil {
		t.Error("a closed handle lost its name, or closing it twice failed")
	}
}
