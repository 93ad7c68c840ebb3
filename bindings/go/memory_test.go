// SPDX-License-Identifier: LGPL-2.1-or-later

//go:build !libvirtorg

package libvirtclone

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	libvirt "github.com/libvirt/libvirt-go"
)

// the top of the BIOS (the reset vector): ROM, the same for every reader
const biosTop = 0xfff00

func TestMemoryInvalidArguments(t *testing.T) {
	if MemoryForce != 1 || MemoryConsistent != 2 || MemoryTemplateInstant != 4 ||
		MemoryDumpRaw != 0 || MemoryDumpELF != 1 {
		t.Errorf("memory constants %d %d %d", MemoryForce, MemoryDumpRaw, MemoryDumpELF)
	}
	if b, err := MemoryPeek(nil, 0, 16, 0); b != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("MemoryPeek(nil) = %v, %v", b, err)
	}
	if b, err := MemoryPeek(&Domain{}, 0, -1, 0); b != nil || !errors.Is(err, ErrInvalidArg) {
		t.Errorf("MemoryPeek(&Domain{}) = %v, %v", b, err)
	}
	if err := MemoryDump(nil, "/nonexistent", MemoryDumpRaw, 0); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("MemoryDump(nil) = %v", err)
	}
}

// The source (not a clone) is refused without MemoryForce and read with it
// as libvirt's MemoryPeek reads it; a clone of it the same, in a raw dump
// too, and device memory is refused.
func TestMemoryPeekAndDump(t *testing.T) {
	e := guest(t)
	_, err := MemoryPeek(e.src, biosTop, 256, 0)
	wantCode(t, "peek of the source", err, ErrOperationInvalid)
	mine, err := MemoryPeek(e.src, biosTop, 256, MemoryForce)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := e.src.MemoryPeek(biosTop, 256, libvirt.MEMORY_PHYSICAL)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mine, theirs) {
		t.Errorf("forced peek of the source differs from libvirt's")
	}

	clone, err := CloneLive(e.src, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	discard(t, clone)
	if b, err := MemoryPeek(clone, biosTop, 256, 0); err != nil || !bytes.Equal(b, mine) {
		t.Errorf("peek of the clone: %v", err)
	}
	_, err = MemoryPeek(clone, 0xfec00000, 16, 0)
	wantCode(t, "peek of the IOAPIC", err, ErrInvalidArg)
	raw := filepath.Join(t.TempDir(), "dump.raw")
	if err := MemoryDump(clone, raw, MemoryDumpRaw, 0); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 256)
	if _, err := f.ReadAt(b, biosTop); err != nil || !bytes.Equal(b, mine) {
		t.Errorf("raw dump at the BIOS top: %v", err)
	}
}
