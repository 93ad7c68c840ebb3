#!/bin/sh
# run-go.sh check|test: the Go binding's tests, for meson (bindings/go/meson.build).
#
# Builds in GOPATH mode (GO111MODULE=off): the package is linked into a GOPATH
# of the build directory as libvirt-clone/libvirtclone, and libvirt's Go
# binding comes from Debian's /usr/share/gocode.  Nothing is downloaded
# (GOPROXY=off).  meson sets GOPATH, GOCACHE, PKG_CONFIG_PATH (the build's
# meson-uninstalled .pc), LD_LIBRARY_PATH and:
#   LVC_GO_SRCDIR   this directory
#   LVC_GO_HEADER   include/libvirt-clone/libvirt-clone.h
#
#   check  gofmt, go vet (also with -tags libvirtorg, against libvirt-go linked
#          in as libvirt.org/go/libvirt), and a build of README.md's example
#   test   go test -v (the tests that clone need TG_GUEST_DIR)
set -eu

pkg=libvirt-clone/libvirtclone
gopath=${GOPATH%%:*}

mkdir -p "$gopath/src/libvirt-clone"
ln -sfn "$LVC_GO_SRCDIR" "$gopath/src/$pkg"

# go caches cgo packages by their own files and flags, not by the headers
# they include from elsewhere: put the public header's hash in the flags
hash=$(cksum < "$LVC_GO_HEADER" | cut -d' ' -f1)
export CGO_CPPFLAGS="${CGO_CPPFLAGS:-} -DLVC_GO_HEADER_CKSUM=$hash"

case ${1:-} in
check)
    bad=$(gofmt -l "$LVC_GO_SRCDIR"/*.go)
    if [ -n "$bad" ]; then
        echo "not gofmt-ed: $bad" >&2
        gofmt -d "$LVC_GO_SRCDIR"/*.go >&2
        exit 1
    fi
    go vet "$pkg"

    # the same package under the import path libvirt.org/go/libvirt
    libvirtgo=$(go list -f '{{.Dir}}' github.com/libvirt/libvirt-go)
    mkdir -p "$gopath/src/libvirt.org/go"
    ln -sfn "$libvirtgo" "$gopath/src/libvirt.org/go/libvirt"
    go vet -tags libvirtorg "$pkg"

    # README.md's example program
    example=$gopath/example
    mkdir -p "$example"
    awk '/^```go$/ { on = 1; next } on && /^```$/ { exit } on' \
        "$LVC_GO_SRCDIR/README.md" > "$example/main.go"
    grep -q '^package main' "$example/main.go"
    go build -o "$example/clone" "$example/main.go"
    go vet "$example/main.go"
    echo "gofmt, go vet (both import paths) and README.md's example: ok"
    ;;
test)
    exec go test -v -count=1 -timeout "${LVC_GO_TEST_TIMEOUT:-840s}" "$pkg"
    ;;
*)
    echo "usage: $0 check|test" >&2
    exit 2
    ;;
esac
