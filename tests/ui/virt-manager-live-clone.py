#!/usr/bin/python3
#
# virt-manager-live-clone.py: drive virt-manager's clone dialog through the
# accessibility tree (dogtail), as virt-manager's own UI tests do.
#
# usage: virt-manager-live-clone.py SOURCE CLONE OUTDIR
#
# Starts virt-manager on qemu:///system (DISPLAY, a D-Bus session bus and
# the patched virt-manager are the caller's), right-clicks the running
# SOURCE in the manager's list, chooses "Clone...", checks that the dialog
# offers the live clone, ticks "Sandbox", names the clone CLONE, saves a
# picture of the dialog as OUTDIR/virt-manager-live-clone.png and clicks
# "Clone".  Then it waits until the job's progress dialog is gone, the clone
# dialog has closed and CLONE is in the manager's list.  An error dialog
# fails it, with its text.  It prints what it sees on stdout; virt-manager's
# own output goes to OUTDIR/virt-manager.log.  Exit status 0: all done;
# 1: a step failed.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
import os
import subprocess
import sys
import time
import traceback

from dogtail.config import config
config.checkForA11y = False      # GTK's atk-bridge is on without GSettings
config.logDebugToFile = False
config.logDebugToStdOut = False
config.searchShowingOnly = True
config.childrenLimit = 10000
config.defaultDelay = 0.2
config.actionDelay = 0.2
from dogtail import tree          # noqa: E402

import gi                         # noqa: E402
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk     # noqa: E402

PHASE_TEXTS = ("Preparing the clone", "Starting the clone", "Copying memory",
               "Switching over", "Finishing the clone", "Done", "Rolling back")


APP = None          # virt-manager's accessible application
OUTDIR = "."


def log(msg):
    print(msg, flush=True)


def fail(msg):
    log("FAIL: " + msg)
    if APP is not None:
        # what the accessibility tree looked like, for the post-mortem
        path = os.path.join(OUTDIR, "virt-manager-a11y.txt")
        try:
            from dogtail import dump
            dump.plain(APP, path)
            log("accessibility tree: %s" % path)
        except Exception as e:
            log("cannot dump the accessibility tree: %s" % e)
    sys.exit(1)


def wait_for(what, fn, timeout):
    """Poll fn() until it returns something true; fail after @timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            res = fn()
        except Exception:   # the tree changes under our feet: try again
            res = None
        if res:
            return res
        if time.monotonic() > deadline:
            fail("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(0.2)


def find(node, name=None, role=None):
    """The first showing descendant of @node with that name and role, or None."""
    def pred(n):
        return ((name is None or n.name == name) and
                (role is None or n.roleName == role) and n.showing)
    return node.findChild(pred, retry=False, requireResult=False)


def find_cell(vmlist, name):
    """The list's cell of machine @name: its text is the name, then the state."""
    return vmlist.findChild(lambda n: n.roleName == "table cell" and n.showing and
                            n.name.split("\n")[0].strip() == name,
                            retry=False, requireResult=False)


def error_dialog(app):
    """The text of virt-manager's error dialog, if one is showing."""
    for alert in app.findChildren(lambda n: n.roleName == "alert" and n.showing):
        texts = [n.name for n in alert.findChildren(lambda n: n.roleName == "label")]
        return " / ".join(t for t in texts if t)
    return None


def screenshot(node, path):
    """Save the screen area of @node (a window) as a PNG."""
    x, y = node.position
    w, h = node.size
    root = Gdk.get_default_root_window()
    pixbuf = Gdk.pixbuf_get_from_window(root, x, y, w, h)
    pixbuf.savev(path, "png", [], [])
    log("screenshot: %s (%dx%d)" % (path, w, h))


class VirtManager:
    """virt-manager on qemu:///system, its manager window and list."""

    def __init__(self, outdir, logname, env=None):
        self.log = open(os.path.join(outdir, logname), "w")
        self.proc = subprocess.Popen(["/usr/bin/virt-manager", "--no-fork", "--debug",
                                      "--connect", "qemu:///system",
                                      "--test-options=first-run"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        global APP
        self.app = wait_for("virt-manager on the accessibility bus",
                            lambda: self.proc.poll() is None and self._app(), 60)
        APP = self.app
        manager = wait_for("the manager window",
                           lambda: find(self.app, "Virtual Machine Manager", "frame"), 60)
        self.vmlist = wait_for("the list of machines", lambda: find(manager, "vm-list"), 30)

    def _app(self):
        """Our virt-manager process's application, on the accessibility bus."""
        for app in tree.root.applications():
            if app.name == "virt-manager" and app.get_process_id() == self.proc.pid:
                return app
        return None

    def quit(self):
        global APP
        APP = None
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def clone_menu_item(self, vm):
        """Right-click @vm in the list: its "Clone..." menu item."""
        cell = wait_for("%s in the list" % vm, lambda: find_cell(self.vmlist, vm), 120)
        log("list entry: %r" % cell.name)
        cell.click()
        cell.click(button=3)
        return wait_for("the menu item Clone...",
                        lambda: find(self.app, "Clone...", "menu item"), 10)

    def open_clone_dialog(self, vm):
        item = self.clone_menu_item(vm)
        if not item.sensitive:
            fail("Clone... is not available for the running machine")
        item.click()
        return wait_for("the clone dialog",
                        lambda: find(self.app, "Clone Virtual Machine", "frame"), 30)


def check_box(dialog, prefix):
    return wait_for("the check box %s..." % prefix,
                    lambda: dialog.findChild(lambda n: n.roleName == "check box" and
                                             n.showing and n.name.startswith(prefix),
                                             retry=False, requireResult=False), 10)


def fill_dialog(dialog, clone):
    """Live clone, sandbox, the name @clone."""
    live = check_box(dialog, "Live clone")
    sandbox = check_box(dialog, "Sandbox")
    log("dialog offers: %r, %r" % (live.name, sandbox.name))
    if not live.checked:
        live.click()
    wait_for("Live clone checked", lambda: live.checked, 5)
    if not sandbox.sensitive:
        fail("Sandbox is not available with the live clone")
    if not sandbox.checked:
        sandbox.click()
    wait_for("Sandbox checked", lambda: sandbox.checked, 5)
    if find(dialog, "storage-list"):
        fail("the live clone dialog shows the offline cloner's storage list")
    entry = dialog.findChild(lambda n: n.roleName == "text" and n.showing, retry=False)
    log("proposed name: %r" % entry.text)
    entry.text = clone
    wait_for("the name %s in the entry" % clone, lambda: entry.text == clone, 5)


def click_clone(dialog):
    ok = find(dialog, "Clone", "push button")
    if not ok or not ok.sensitive:
        fail("the Clone button is not available")
    ok.click()


def watch_job(app, dialog, clone):
    """Follow the job's progress dialog until it is gone; returns the stages
    it showed and the text of an error dialog, if one came."""
    title = "Creating virtual machine clone '%s'" % clone
    started = time.monotonic()
    seen = []
    progress_seen = False
    while True:
        err = error_dialog(app)
        if err:
            return seen, err
        try:
            prog = find(app, title, "dialog") or find(app, title, "frame")
            if prog:
                progress_seen = True
                for lbl in prog.findChildren(lambda n: n.roleName == "label" and n.showing):
                    if lbl.name in PHASE_TEXTS and (not seen or seen[-1] != lbl.name):
                        seen.append(lbl.name)
                        log("progress: %s" % lbl.name)
            elif progress_seen or not dialog.showing:
                break
        except Exception:
            pass
        if time.monotonic() - started > 600:
            fail("the clone did not end within 600 s")
        time.sleep(0.1)
    log("job ended after %.1f s" % (time.monotonic() - started))
    if not progress_seen:
        fail("no progress dialog '%s'" % title)
    return seen, error_dialog(app)


def main():
    source, clone, outdir = sys.argv[1:4]
    global OUTDIR
    OUTDIR = outdir
    vmm = None
    try:
        # 1. the live sandbox clone, from the dialog
        vmm = VirtManager(outdir, "virt-manager.log")
        log("virt-manager is up")
        dialog = vmm.open_clone_dialog(source)
        fill_dialog(dialog, clone)
        time.sleep(0.5)                      # let it draw
        screenshot(dialog, os.path.join(outdir, "virt-manager-live-clone.png"))
        click_clone(dialog)
        seen, err = watch_job(vmm.app, dialog, clone)
        if err:
            fail("virt-manager shows an error: " + err)
        log("stages: %s" % ",".join(seen))
        if not seen:
            fail("the progress dialog showed none of the clone's stages")
        wait_for("the clone dialog to close", lambda: not dialog.showing, 30)
        wait_for("%s in the manager's list" % clone,
                 lambda: find_cell(vmm.vmlist, clone), 60)
        log("%s is in the manager's list" % clone)

        # 2. the same name again: the library's error, in the error dialog
        dialog = vmm.open_clone_dialog(source)
        fill_dialog(dialog, clone)
        click_clone(dialog)
        _, err = watch_job(vmm.app, dialog, clone)
        log("error dialog: %r" % err)
        want = "a domain named '%s' exists already" % clone
        # (the dialog wraps long lines)
        if not err or want not in " ".join(err.split()):
            fail("no error dialog with the library's message %r" % want)
        alert = wait_for("the error dialog",
                         lambda: vmm.app.findChild(lambda n: n.roleName == "alert" and n.showing,
                                                   retry=False, requireResult=False), 5)
        find(alert, "Close", "push button").click()
        wait_for("the error dialog to close", lambda: not error_dialog(vmm.app), 10)
        find(dialog, "Cancel", "push button").click()
        wait_for("the clone dialog to close", lambda: not dialog.showing, 10)
        vmm.quit()

        # 3. without the libvirt_clone module: virt-manager as before, no
        # clone of a running machine
        hide = os.path.join(outdir, "no-libvirt-clone")
        os.makedirs(hide, exist_ok=True)
        with open(os.path.join(hide, "libvirt_clone.py"), "w") as f:
            f.write('raise ImportError("libvirt_clone hidden by the test")\n')
        vmm = VirtManager(outdir, "virt-manager-without-module.log",
                          env=dict(os.environ, PYTHONPATH=hide))
        item = vmm.clone_menu_item(source)
        if item.sensitive:
            fail("without libvirt_clone, Clone... is available for a running machine")
        log("without libvirt_clone: Clone... is not available for the running machine")
        vmm.quit()
        vmm = None
    except SystemExit:
        raise
    except Exception:
        fail("unexpected exception:\n" + traceback.format_exc())
    finally:
        if vmm:
            vmm.proc.kill()
    log("OK")


if __name__ == "__main__":
    main()
