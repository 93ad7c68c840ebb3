// SPDX-License-Identifier: LGPL-2.1-or-later

//go:build !libvirtorg

package libvirtclone

import libvirt "github.com/libvirt/libvirt-go"

// Domain is the Domain of libvirt's Go binding (an alias, not a new type).
type Domain = libvirt.Domain

// Connect is the Connect of libvirt's Go binding (an alias, not a new type).
type Connect = libvirt.Connect

// libvirtImportPath is the import path of the binding this package uses.
const libvirtImportPath = "github.com/libvirt/libvirt-go"
