/*
 * libvirt_clone_module.c: the C half of the Python binding (_libvirt_clone)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private: use the libvirt_clone module (libvirt_clone.py), which wraps
 * these functions.  Handles cross the boundary the way libvirt-python's own
 * modules (libvirtmod, libvirtmod_qemu) pass them:
 *
 *  - a libvirt.virDomain keeps its virDomainPtr in "_o", a PyCapsule named
 *    "virDomainPtr" (a virConnect: "_o", "virConnectPtr");
 *  - such a capsule has no destructor: the reference it carries belongs to
 *    the libvirt.virDomain object around it, whose __del__ calls
 *    libvirtmod.virDomainFree(capsule).  A capsule made here must have no
 *    destructor either, or the domain would be freed twice.
 *
 * The clone returned by virDomainCloneLiveFull() is a new reference; it is
 * handed to a new libvirt.virDomain(conn, _obj=capsule) here, in C, so that
 * no Python code runs between the C call and the moment the wrapper owns it.
 *
 * A template handle (virCloneTemplatePtr) is ours alone: it travels in a
 * PyCapsule named "virCloneTemplatePtr" whose destructor calls
 * virCloneTemplateFree(), so that the handle is freed once, when the last
 * reference to the capsule goes (libvirt_clone.Template holds one; a call
 * that releases the GIL holds another for its duration).
 *
 * The GIL is released while the library works (clone, template, reap); the
 * progress callback takes it back (PyGILState_Ensure) for each call into
 * Python.
 *
 * A watch (sandbox_watch(), integrity_watch()) calls back from a thread of
 * the library's own, as libvirt-python's event callbacks come from the
 * event loop: each call takes the GIL, turns the event into a
 * libvirt_clone.SandboxEvent (the library's strings are valid during the
 * call only) and calls the Python callback; an exception it raises is
 * reported with PyErr_WriteUnraisable() (sys.unraisablehook) and the watch
 * goes on.  The watch holds references to the callback, its opaque and the
 * domain object; its free callback drops them, under the GIL.  Calls that
 * may wait for a callback under way (unwatch) release the GIL first.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdlib.h>

#include <libvirt/libvirt.h>

#include "libvirt-clone/libvirt-clone.h"

#define LC_DOMAIN_CAPSULE "virDomainPtr"
#define LC_CONNECT_CAPSULE "virConnectPtr"
#define LC_TEMPLATE_CAPSULE "virCloneTemplatePtr"

PyMODINIT_FUNC PyInit__libvirt_clone(void);

/* Module state: the process has one libvirt and one libvirt_clone, so a
 * static pair is enough (the module does not support subinterpreters). */
static PyObject *lcDomainClass;   /* libvirt.virDomain */
static PyObject *lcErrorClass;    /* libvirt_clone.libvirtCloneError, once set */
static PyObject *lcTemplateClass; /* libvirt_clone.Template, once set */
static PyObject *lcEventClass;    /* libvirt_clone.SandboxEvent, once set */

/* Nonzero while this thread runs a progress callback: the library must not
 * be re-entered from it (its last error and the source's lock are the
 * calling thread's). */
static _Thread_local int lcInCallback;


/* ---- errors ------------------------------------------------------------- */

/* Raise the calling thread's last libvirt-clone error as the registered
 * error class: cls(message, code, libvirt_code).  Returns NULL. */
static PyObject *
lcRaiseLastError(const char *fallback)
{
    virCloneErrorPtr err = virCloneGetLastError();
    int code = err ? err->code : VIR_CLONE_ERR_INTERNAL;
    int libvirtCode = err ? err->libvirtCode : 0;
    const char *msg = err && err->message ? err->message : fallback;
    PyObject *exc;

    if (!lcErrorClass) {
        PyErr_SetString(PyExc_RuntimeError, msg);
        return NULL;
    }
    exc = PyObject_CallFunction(lcErrorClass, "sii", msg, code, libvirtCode);
    if (!exc)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}


static int
lcCheckNotInCallback(void)
{
    if (lcInCallback) {
        PyErr_SetString(PyExc_RuntimeError,
                        "libvirt_clone must not be called from a clone's progress callback");
        return -1;
    }
    return 0;
}


/* flags: a Python int in [0, UINT_MAX]; unknown bits are the library's to
 * reject. */
static int
lcFlags(PyObject *obj, unsigned int *flags)
{
    unsigned long v;

    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "flags must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    v = PyLong_AsUnsignedLong(obj);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (v > UINT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "flags do not fit in an unsigned int");
        return -1;
    }
    *flags = (unsigned int)v;
    return 0;
}


/* The pointer in obj._o, a capsule named @name (as libvirt-python makes). */
static void *
lcUnwrap(PyObject *obj, const char *name, const char *what)
{
    PyObject *cap = PyObject_GetAttrString(obj, "_o");
    void *ptr;

    if (!cap) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "expected a libvirt.%s, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (cap == Py_None) {
        Py_DECREF(cap);
        PyErr_Format(PyExc_ValueError, "this libvirt.%s has been freed", what);
        return NULL;
    }
    ptr = PyCapsule_GetPointer(cap, name);
    Py_DECREF(cap);
    if (!ptr) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "expected a libvirt.%s, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
    }
    return ptr;
}


/* ---- progress ----------------------------------------------------------- */

typedef struct {
    PyObject *callback;       /* borrowed; called as callback(phase, percent) */
    PyObject *exc;            /* the first exception it raised (owned), or NULL */
} lcProgress;


static void
lcSaveException(lcProgress *p)
{
#if PY_VERSION_HEX >= 0x030C0000
    p->exc = PyErr_GetRaisedException();
#else
    PyObject *type;
    PyObject *value;
    PyObject *tb;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    p->exc = value;
#endif
}


/* Called by the library, without the GIL, in the thread that called
 * clone_live() (template_create(), template_create_domain()).  After the
 * callback has raised once it is not called again; the exception is
 * re-raised when the call returns. */
static void
lcProgressCall(lcProgress *p, int phase, unsigned int percent)
{
    PyGILState_STATE gil;
    PyObject *ret;

    gil = PyGILState_Ensure();
    if (!p->exc) {
        lcInCallback = 1;
        ret = PyObject_CallFunction(p->callback, "iI", phase, percent);
        lcInCallback = 0;
        if (ret)
            Py_DECREF(ret);
        else
            lcSaveException(p);
    }
    PyGILState_Release(gil);
}


/* virDomainCloneLiveProgressCallback */
static void
lcProgressCb(virDomainPtr source, int phase, unsigned int percent, void *opaque)
{
    (void)source;
    lcProgressCall(opaque, phase, percent);
}


/* virCloneTemplateProgressCallback */
static void
lcTemplateProgressCb(virCloneTemplatePtr tmpl, int phase, unsigned int percent, void *opaque)
{
    (void)tmpl;
    lcProgressCall(opaque, phase, percent);
}


/* After a failed call with a progress callback: raise the library's error,
 * with the callback's exception, if it raised, as its context.  Returns
 * NULL. */
static PyObject *
lcRaiseFailure(lcProgress *p, const char *fallback)
{
    lcRaiseLastError(fallback);
    if (p->exc) {
        /* the callback failed first: show it as the context */
        PyObject *callExc;
#if PY_VERSION_HEX >= 0x030C0000
        callExc = PyErr_GetRaisedException();
        PyException_SetContext(callExc, p->exc);  /* steals */
        PyErr_SetRaisedException(callExc);
#else
        PyObject *type;
        PyObject *tb;

        PyErr_Fetch(&type, &callExc, &tb);
        PyErr_NormalizeException(&type, &callExc, &tb);
        PyException_SetContext(callExc, p->exc);  /* steals */
        PyErr_Restore(type, callExc, tb);
#endif
        p->exc = NULL;
    }
    return NULL;
}


/* After a call that succeeded although the callback raised: raise the
 * callback's exception with @result in its attribute @attr (the caller
 * owns what was made).  Returns NULL. */
static PyObject *
lcRaiseProgressException(lcProgress *p, const char *attr, PyObject *result)
{
    if (PyObject_SetAttrString(p->exc, attr, result) < 0)
        PyErr_Clear();
    PyErr_SetObject((PyObject *)Py_TYPE(p->exc), p->exc);
    Py_CLEAR(p->exc);
    return NULL;
}


static int
lcCheckProgress(PyObject *callback)
{
    if (callback != Py_None && !PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
        return -1;
    }
    return 0;
}


/* ---- statistics --------------------------------------------------------- */

static PyObject *
lcTypedParamValue(const virTypedParameter *p)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        return PyLong_FromLong(p->value.i);
    case VIR_TYPED_PARAM_UINT:
        return PyLong_FromUnsignedLong(p->value.ui);
    case VIR_TYPED_PARAM_LLONG:
        return PyLong_FromLongLong(p->value.l);
    case VIR_TYPED_PARAM_ULLONG:
        return PyLong_FromUnsignedLongLong(p->value.ul);
    case VIR_TYPED_PARAM_DOUBLE:
        return PyFloat_FromDouble(p->value.d);
    case VIR_TYPED_PARAM_BOOLEAN:
        return PyBool_FromLong(p->value.b);
    case VIR_TYPED_PARAM_STRING:
        return PyUnicode_DecodeUTF8(p->value.s, (Py_ssize_t)strlen(p->value.s), "replace");
    default:
        Py_RETURN_NONE;
    }
}


static PyObject *
lcStatsToDict(const virTypedParameter *params, int n)
{
    PyObject *dict = PyDict_New();

    if (!dict)
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *v = lcTypedParamValue(&params[i]);

        if (!v || PyDict_SetItemString(dict, params[i].field, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(v);
    }
    return dict;
}


/* ---- functions ---------------------------------------------------------- */

/* libvirt.virDomain(conn, _obj=capsule) owning @clone; frees @clone if it
 * cannot. */
static PyObject *
lcWrapDomain(PyObject *conn, virDomainPtr clone)
{
    PyObject *cap = PyCapsule_New(clone, LC_DOMAIN_CAPSULE, NULL);
    PyObject *args = NULL;
    PyObject *kwargs = NULL;
    PyObject *ret = NULL;

    if (!cap)
        goto error;
    if (!(args = Py_BuildValue("(O)", conn)) ||
        !(kwargs = Py_BuildValue("{s:O}", "_obj", cap)))
        goto error;
    ret = PyObject_Call(lcDomainClass, args, kwargs);
    if (!ret)
        goto error;
    Py_DECREF(cap);
    Py_DECREF(args);
    Py_DECREF(kwargs);
    return ret;

 error:
    /* no wrapper took the reference (libvirt.virDomain.__init__ fails
     * only before it stores _obj): drop it here; the capsule has no
     * destructor */
    virDomainFree(clone);
    Py_XDECREF(cap);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return NULL;
}


PyDoc_STRVAR(lcCloneLive_doc,
"clone_live(dom, policy, flags, progress, want_stats) -> (virDomain, dict | None)\n\n"
"Private: see libvirt_clone.clone_live().");

static PyObject *
lcCloneLive(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "dom", "policy", "flags", "progress", "want_stats", NULL };
    PyObject *pydom;
    const char *policy = NULL;
    PyObject *pyflags;
    PyObject *callback = Py_None;
    int wantStats = 0;
    unsigned int flags;
    virDomainPtr dom;
    virDomainPtr clone;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    lcProgress progress = { NULL, NULL };
    PyObject *conn = NULL;
    PyObject *wrapped = NULL;
    PyObject *pystats = NULL;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OzO|Op:clone_live", kwlist,
                                     &pydom, &policy, &pyflags, &callback, &wantStats))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0)
        return NULL;
    if (lcCheckProgress(callback) < 0)
        return NULL;
    if (!(dom = lcUnwrap(pydom, LC_DOMAIN_CAPSULE, "virDomain")))
        return NULL;
    if (!(conn = PyObject_CallMethod(pydom, "connect", NULL)))
        return NULL;
    progress.callback = callback;

    /* our own reference: the Python object may lose its pointer while the
     * GIL is released */
    virDomainRef(dom);
    Py_BEGIN_ALLOW_THREADS
    clone = virDomainCloneLiveFull(dom, policy,
                                   callback != Py_None ? lcProgressCb : NULL, &progress,
                                   wantStats ? &stats : NULL, wantStats ? &nstats : NULL,
                                   flags);
    virDomainFree(dom);
    Py_END_ALLOW_THREADS

    if (!clone) {
        lcRaiseFailure(&progress, "the clone failed");
        goto cleanup;
    }

    wrapped = lcWrapDomain(conn, clone);
    if (wrapped && wantStats)
        pystats = lcStatsToDict(stats, nstats);
    if (!wrapped || (wantStats && !pystats)) {
        /* the clone runs and is returned to no one: a MemoryError at most */
        Py_CLEAR(wrapped);
        goto cleanup;
    }

    if (progress.exc) {
        /* the clone is made; hand it over with the callback's exception */
        lcRaiseProgressException(&progress, "clone", wrapped);
        Py_CLEAR(wrapped);
        goto cleanup;
    }

 cleanup:
    virTypedParamsFree(stats, nstats);
    Py_XDECREF(progress.exc);
    Py_XDECREF(conn);
    if (!wrapped) {
        Py_XDECREF(pystats);
        return NULL;
    }
    return Py_BuildValue("(NN)", wrapped, pystats ? pystats : Py_NewRef(Py_None));
}


PyDoc_STRVAR(lcPolicyNormalize_doc,
"policy_normalize(xml, flags) -> str\n\nPrivate: see libvirt_clone.policy_normalize().");

static PyObject *
lcPolicyNormalize(PyObject *self, PyObject *args)
{
    const char *xml = NULL;
    PyObject *pyflags;
    unsigned int flags;
    char *out;
    PyObject *ret;

    (void)self;
    if (!PyArg_ParseTuple(args, "zO:policy_normalize", &xml, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0)
        return NULL;
    if (!(out = virDomainCloneLivePolicyNormalize(xml, flags)))
        return lcRaiseLastError("invalid clone policy");
    ret = PyUnicode_FromString(out);
    free(out);
    return ret;
}


PyDoc_STRVAR(lcReap_doc, "reap(conn, flags) -> int\n\nPrivate: see libvirt_clone.reap().");

static PyObject *
lcReap(PyObject *self, PyObject *args)
{
    PyObject *pyconn;
    PyObject *pyflags;
    unsigned int flags;
    virConnectPtr conn;
    int n;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO:reap", &pyconn, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0)
        return NULL;
    if (!(conn = lcUnwrap(pyconn, LC_CONNECT_CAPSULE, "virConnect")))
        return NULL;

    virConnectRef(conn);
    Py_BEGIN_ALLOW_THREADS
    n = virConnectCloneLiveReap(conn, flags);
    virConnectClose(conn);
    Py_END_ALLOW_THREADS
    if (n < 0)
        return lcRaiseLastError("reaping failed");
    return PyLong_FromLong(n);
}


/* ---- templates ---------------------------------------------------------- */

static void
lcTemplateCapsuleFree(PyObject *cap)
{
    virCloneTemplatePtr tmpl = PyCapsule_GetPointer(cap, LC_TEMPLATE_CAPSULE);

    if (tmpl)
        virCloneTemplateFree(tmpl);
    else
        PyErr_Clear();
}


/* libvirt_clone.Template(conn, _obj=capsule) owning @tmpl; frees @tmpl if
 * it cannot. */
static PyObject *
lcWrapTemplate(PyObject *conn, virCloneTemplatePtr tmpl)
{
    PyObject *cap;
    PyObject *args = NULL;
    PyObject *kwargs = NULL;
    PyObject *ret = NULL;

    if (!lcTemplateClass) {
        virCloneTemplateFree(tmpl);
        PyErr_SetString(PyExc_RuntimeError, "libvirt_clone.Template is not registered");
        return NULL;
    }
    /* from here on the capsule owns the handle */
    if (!(cap = PyCapsule_New(tmpl, LC_TEMPLATE_CAPSULE, lcTemplateCapsuleFree))) {
        virCloneTemplateFree(tmpl);
        return NULL;
    }
    if ((args = Py_BuildValue("(O)", conn)) &&
        (kwargs = Py_BuildValue("{s:O}", "_obj", cap)))
        ret = PyObject_Call(lcTemplateClass, args, kwargs);
    Py_DECREF(cap);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return ret;
}


/* The handle in a libvirt_clone.Template's "_o", and in *@cap a new
 * reference to its capsule: it keeps the handle alive while the GIL is
 * released (release it with Py_DECREF). */
static virCloneTemplatePtr
lcTemplateUnwrap(PyObject *obj, PyObject **cap)
{
    virCloneTemplatePtr tmpl;

    *cap = NULL;
    if (!lcTemplateClass || !PyObject_TypeCheck(obj, (PyTypeObject *)lcTemplateClass)) {
        PyErr_Format(PyExc_TypeError, "expected a libvirt_clone.Template, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (!(*cap = PyObject_GetAttrString(obj, "_o")))
        return NULL;
    if (*cap == Py_None) {
        Py_CLEAR(*cap);
        PyErr_SetString(PyExc_ValueError, "this libvirt_clone.Template has been freed");
        return NULL;
    }
    if (!(tmpl = PyCapsule_GetPointer(*cap, LC_TEMPLATE_CAPSULE)))
        Py_CLEAR(*cap);
    return tmpl;
}


PyDoc_STRVAR(lcTemplateCreate_doc,
"template_create(dom, name, policy, flags, progress, want_stats) -> (Template, dict | None)\n\n"
"Private: see libvirt_clone.template_create().");

static PyObject *
lcTemplateCreate(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "dom", "name", "policy", "flags", "progress", "want_stats", NULL };
    PyObject *pydom;
    const char *name;
    const char *policy = NULL;
    PyObject *pyflags;
    PyObject *callback = Py_None;
    int wantStats = 0;
    unsigned int flags;
    virDomainPtr dom;
    virCloneTemplatePtr tmpl;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    lcProgress progress = { NULL, NULL };
    PyObject *conn = NULL;
    PyObject *wrapped = NULL;
    PyObject *pystats = NULL;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OszO|Op:template_create", kwlist,
                                     &pydom, &name, &policy, &pyflags, &callback, &wantStats))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        lcCheckProgress(callback) < 0)
        return NULL;
    if (!(dom = lcUnwrap(pydom, LC_DOMAIN_CAPSULE, "virDomain")))
        return NULL;
    if (!(conn = PyObject_CallMethod(pydom, "connect", NULL)))
        return NULL;
    progress.callback = callback;

    virDomainRef(dom);
    Py_BEGIN_ALLOW_THREADS
    tmpl = virDomainCloneTemplateCreateFull(dom, name, policy,
                                            callback != Py_None ? lcProgressCb : NULL, &progress,
                                            wantStats ? &stats : NULL, wantStats ? &nstats : NULL,
                                            flags);
    virDomainFree(dom);
    Py_END_ALLOW_THREADS

    if (!tmpl) {
        lcRaiseFailure(&progress, "the template could not be made");
        goto cleanup;
    }
    wrapped = lcWrapTemplate(conn, tmpl);
    if (wrapped && wantStats)
        pystats = lcStatsToDict(stats, nstats);
    if (!wrapped || (wantStats && !pystats)) {
        Py_CLEAR(wrapped);
        goto cleanup;
    }
    if (progress.exc) {
        /* the template is made; hand it over with the callback's exception */
        lcRaiseProgressException(&progress, "template", wrapped);
        Py_CLEAR(wrapped);
    }

 cleanup:
    virTypedParamsFree(stats, nstats);
    Py_XDECREF(progress.exc);
    Py_XDECREF(conn);
    if (!wrapped) {
        Py_XDECREF(pystats);
        return NULL;
    }
    return Py_BuildValue("(NN)", wrapped, pystats ? pystats : Py_NewRef(Py_None));
}


PyDoc_STRVAR(lcTemplateLookup_doc,
"template_lookup(conn, name, flags) -> Template\n\n"
"Private: see libvirt_clone.template_lookup().");

static PyObject *
lcTemplateLookup(PyObject *self, PyObject *args)
{
    PyObject *pyconn;
    const char *name;
    PyObject *pyflags;
    unsigned int flags;
    virConnectPtr conn;
    virCloneTemplatePtr tmpl;

    (void)self;
    if (!PyArg_ParseTuple(args, "OsO:template_lookup", &pyconn, &name, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0)
        return NULL;
    if (!(conn = lcUnwrap(pyconn, LC_CONNECT_CAPSULE, "virConnect")))
        return NULL;

    virConnectRef(conn);
    Py_BEGIN_ALLOW_THREADS
    tmpl = virCloneTemplateLookupByName(conn, name, flags);
    virConnectClose(conn);
    Py_END_ALLOW_THREADS
    if (!tmpl)
        return lcRaiseLastError("no such template");
    return lcWrapTemplate(pyconn, tmpl);
}


PyDoc_STRVAR(lcTemplateList_doc,
"template_list(conn, flags) -> list[Template]\n\n"
"Private: see libvirt_clone.list_templates().");

static PyObject *
lcTemplateList(PyObject *self, PyObject *args)
{
    PyObject *pyconn;
    PyObject *pyflags;
    unsigned int flags;
    virConnectPtr conn;
    virCloneTemplatePtr *tmpls = NULL;
    PyObject *list = NULL;
    int n;
    int i;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO:template_list", &pyconn, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0)
        return NULL;
    if (!(conn = lcUnwrap(pyconn, LC_CONNECT_CAPSULE, "virConnect")))
        return NULL;

    virConnectRef(conn);
    Py_BEGIN_ALLOW_THREADS
    n = virConnectListAllCloneTemplates(conn, &tmpls, flags);
    virConnectClose(conn);
    Py_END_ALLOW_THREADS
    if (n < 0)
        return lcRaiseLastError("cannot list the templates");

    if (!(list = PyList_New(0)))
        goto cleanup;
    for (i = 0; i < n; i++) {
        /* lcWrapTemplate takes the handle, whatever happens */
        PyObject *t = lcWrapTemplate(pyconn, tmpls[i]);

        tmpls[i] = NULL;
        if (!t || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(t);
    }

 cleanup:
    for (i = 0; i < n; i++) {
        if (tmpls[i])
            virCloneTemplateFree(tmpls[i]);
    }
    free(tmpls);
    return list;
}


PyDoc_STRVAR(lcTemplateName_doc,
"template_name(tmpl) -> str\n\nPrivate: see libvirt_clone.Template.name().");

static PyObject *
lcTemplateName(PyObject *self, PyObject *pytmpl)
{
    PyObject *cap;
    virCloneTemplatePtr tmpl;
    const char *name;
    PyObject *ret;

    (void)self;
    if (!(tmpl = lcTemplateUnwrap(pytmpl, &cap)))
        return NULL;
    if ((name = virCloneTemplateGetName(tmpl)))
        ret = PyUnicode_FromString(name);
    else
        ret = lcRaiseLastError("the template has no name");
    Py_DECREF(cap);
    return ret;
}


PyDoc_STRVAR(lcTemplateInfo_doc,
"template_info(tmpl, flags) -> dict\n\nPrivate: see libvirt_clone.Template.info().");

static PyObject *
lcTemplateInfo(PyObject *self, PyObject *args)
{
    PyObject *pytmpl;
    PyObject *pyflags;
    PyObject *cap = NULL;
    unsigned int flags;
    virCloneTemplatePtr tmpl;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int rc;
    PyObject *ret;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO:template_info", &pytmpl, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        !(tmpl = lcTemplateUnwrap(pytmpl, &cap)))
        return NULL;

    Py_BEGIN_ALLOW_THREADS
    rc = virCloneTemplateGetInfo(tmpl, &params, &nparams, flags);
    Py_END_ALLOW_THREADS
    Py_DECREF(cap);
    if (rc < 0)
        return lcRaiseLastError("cannot read the template");
    ret = lcStatsToDict(params, nparams);
    virTypedParamsFree(params, nparams);
    return ret;
}


PyDoc_STRVAR(lcTemplateDelete_doc,
"template_delete(tmpl, flags)\n\nPrivate: see libvirt_clone.Template.delete().");

static PyObject *
lcTemplateDelete(PyObject *self, PyObject *args)
{
    PyObject *pytmpl;
    PyObject *pyflags;
    PyObject *cap = NULL;
    unsigned int flags;
    virCloneTemplatePtr tmpl;
    int rc;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO:template_delete", &pytmpl, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        !(tmpl = lcTemplateUnwrap(pytmpl, &cap)))
        return NULL;

    Py_BEGIN_ALLOW_THREADS
    rc = virCloneTemplateDelete(tmpl, flags);
    Py_END_ALLOW_THREADS
    Py_DECREF(cap);
    if (rc < 0)
        return lcRaiseLastError("cannot delete the template");
    Py_RETURN_NONE;
}


PyDoc_STRVAR(lcTemplateCreateDomain_doc,
"template_create_domain(tmpl, policy, flags, progress, want_stats) -> (virDomain, dict | None)\n\n"
"Private: see libvirt_clone.Template.create_domain().");

static PyObject *
lcTemplateCreateDomain(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "tmpl", "policy", "flags", "progress", "want_stats", NULL };
    PyObject *pytmpl;
    const char *policy = NULL;
    PyObject *pyflags;
    PyObject *callback = Py_None;
    int wantStats = 0;
    unsigned int flags;
    PyObject *cap = NULL;
    virCloneTemplatePtr tmpl;
    virDomainPtr dom;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    lcProgress progress = { NULL, NULL };
    PyObject *conn = NULL;
    PyObject *wrapped = NULL;
    PyObject *pystats = NULL;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OzO|Op:template_create_domain", kwlist,
                                     &pytmpl, &policy, &pyflags, &callback, &wantStats))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        lcCheckProgress(callback) < 0)
        return NULL;
    if (!(tmpl = lcTemplateUnwrap(pytmpl, &cap)))
        return NULL;
    if (!(conn = PyObject_CallMethod(pytmpl, "connect", NULL))) {
        Py_DECREF(cap);
        return NULL;
    }
    progress.callback = callback;

    Py_BEGIN_ALLOW_THREADS
    dom = virCloneTemplateCreateDomainFull(tmpl, policy,
                                           callback != Py_None ? lcTemplateProgressCb : NULL,
                                           &progress,
                                           wantStats ? &stats : NULL, wantStats ? &nstats : NULL,
                                           flags);
    Py_END_ALLOW_THREADS
    Py_DECREF(cap);

    if (!dom) {
        lcRaiseFailure(&progress, "the domain could not be started from the template");
        goto cleanup;
    }
    wrapped = lcWrapDomain(conn, dom);
    if (wrapped && wantStats)
        pystats = lcStatsToDict(stats, nstats);
    if (!wrapped || (wantStats && !pystats)) {
        Py_CLEAR(wrapped);
        goto cleanup;
    }
    if (progress.exc) {
        lcRaiseProgressException(&progress, "clone", wrapped);
        Py_CLEAR(wrapped);
    }

 cleanup:
    virTypedParamsFree(stats, nstats);
    Py_XDECREF(progress.exc);
    Py_XDECREF(conn);
    if (!wrapped) {
        Py_XDECREF(pystats);
        return NULL;
    }
    return Py_BuildValue("(NN)", wrapped, pystats ? pystats : Py_NewRef(Py_None));
}


PyDoc_STRVAR(lcReset_doc, "reset(dom, flags)\n\nPrivate: see libvirt_clone.reset().");

static PyObject *
lcReset(PyObject *self, PyObject *args)
{
    PyObject *pydom;
    PyObject *pyflags;
    unsigned int flags;
    virDomainPtr dom;
    int rc;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO:reset", &pydom, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0)
        return NULL;
    if (!(dom = lcUnwrap(pydom, LC_DOMAIN_CAPSULE, "virDomain")))
        return NULL;

    virDomainRef(dom);
    Py_BEGIN_ALLOW_THREADS
    rc = virDomainCloneReset(dom, flags);
    virDomainFree(dom);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return lcRaiseLastError("the reset failed");
    Py_RETURN_NONE;
}


PyDoc_STRVAR(lcMemoryPeek_doc, "memory_peek(dom, start, size, flags) -> bytes\n\n"
             "Private: see libvirt_clone.memory_peek().");

static PyObject *
lcMemoryPeek(PyObject *self, PyObject *args)
{
    PyObject *pydom;
    PyObject *pyflags;
    unsigned long long start;
    Py_ssize_t size;
    unsigned int flags;
    virDomainPtr dom;
    PyObject *buf;
    int rc;

    (void)self;
    if (!PyArg_ParseTuple(args, "OKnO:memory_peek", &pydom, &start, &size, &pyflags))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0)
        return NULL;
    if (!(dom = lcUnwrap(pydom, LC_DOMAIN_CAPSULE, "virDomain")))
        return NULL;
    if (!(buf = PyBytes_FromStringAndSize(NULL, size)))
        return NULL;

    virDomainRef(dom);
    Py_BEGIN_ALLOW_THREADS
    rc = virDomainCloneMemoryPeek(dom, start, (size_t)size, PyBytes_AS_STRING(buf), flags);
    virDomainFree(dom);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        Py_DECREF(buf);
        return lcRaiseLastError("the memory read failed");
    }
    return buf;
}


PyDoc_STRVAR(lcMemoryDump_doc, "memory_dump(dom, file, format, flags)\n\n"
             "Private: see libvirt_clone.memory_dump().");

static PyObject *
lcMemoryDump(PyObject *self, PyObject *args)
{
    PyObject *pydom;
    PyObject *pyflags;
    PyObject *pyfile;
    unsigned int format;
    unsigned int flags;
    virDomainPtr dom;
    int rc;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO&IO:memory_dump", &pydom, PyUnicode_FSConverter, &pyfile,
                          &format, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        !(dom = lcUnwrap(pydom, LC_DOMAIN_CAPSULE, "virDomain"))) {
        Py_DECREF(pyfile);
        return NULL;
    }

    virDomainRef(dom);
    Py_BEGIN_ALLOW_THREADS
    rc = virDomainCloneMemoryDump(dom, PyBytes_AS_STRING(pyfile), format, flags);
    virDomainFree(dom);
    Py_END_ALLOW_THREADS
    Py_DECREF(pyfile);
    if (rc < 0)
        return lcRaiseLastError("the memory dump failed");
    Py_RETURN_NONE;
}


/* ---- watches ------------------------------------------------------------ */

/* What a watch's C callbacks reach through their opaque. */
typedef struct {
    PyObject *callback;       /* called as callback(dom, event, opaque) */
    PyObject *opaque;
    PyObject *dom;            /* the libvirt.virDomain watched, or None */
} lcWatch;


static lcWatch *
lcWatchNew(PyObject *dom, PyObject *callback, PyObject *opaque)
{
    lcWatch *w = PyMem_Malloc(sizeof(*w));

    if (!w) {
        PyErr_NoMemory();
        return NULL;
    }
    w->callback = Py_NewRef(callback);
    w->opaque = Py_NewRef(opaque);
    w->dom = Py_NewRef(dom);
    return w;
}


/* Frees @w; the caller holds the GIL. */
static void
lcWatchDispose(lcWatch *w)
{
    Py_DECREF(w->callback);
    Py_DECREF(w->opaque);
    Py_DECREF(w->dom);
    PyMem_Free(w);
}


/* virFreeCallback of a watch: called by the library, without the GIL, when
 * the watch is unwatched (in the thread that unwatched it, or in the
 * watch's thread when it unwatched itself). */
static void
lcWatchFreeCb(void *opaque)
{
    PyGILState_STATE gil = PyGILState_Ensure();

    lcWatchDispose(opaque);
    PyGILState_Release(gil);
}


/* A str of @s (NULL: None); bytes that are not UTF-8 are replaced. */
static PyObject *
lcStrOrNone(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}


/* @ev as a libvirt_clone.SandboxEvent (a dict of the same keys until the
 * class is registered): a copy, valid after the callback. */
static PyObject *
lcSandboxEventNew(const virDomainCloneSandboxEvent *ev)
{
    PyObject *kwargs;
    PyObject *args;
    PyObject *ret;

    kwargs = Py_BuildValue("{s:i,s:L,s:N,s:N,s:N,s:N,s:N,s:N,s:i,s:I,"
                           "s:N,s:K,s:K,s:K,s:i,s:N}",
                           "type", ev->type,
                           "time_ms", ev->timeMs,
                           "clone", lcStrOrNone(ev->clone),
                           "device", lcStrOrNone(ev->device),
                           "protocol", lcStrOrNone(ev->protocol),
                           "kind", lcStrOrNone(ev->kind),
                           "dst_mac", lcStrOrNone(ev->dstMac),
                           "dst_addr", lcStrOrNone(ev->dstAddr),
                           "dst_port", ev->dstPort,
                           "count", ev->count,
                           "integrity", lcStrOrNone(ev->integrity),
                           "address", ev->address,
                           "old_value", ev->oldValue,
                           "new_value", ev->newValue,
                           "cpu", ev->cpu,
                           "action", lcStrOrNone(ev->action));
    if (!kwargs || !lcEventClass)
        return kwargs;
    if (!(args = PyTuple_New(0))) {
        Py_DECREF(kwargs);
        return NULL;
    }
    ret = PyObject_Call(lcEventClass, args, kwargs);
    Py_DECREF(args);
    Py_DECREF(kwargs);
    return ret;
}


/* virDomainCloneSandboxEventCallback: called by the library, without the
 * GIL, in the watch's thread, one call at a time. */
static void
lcWatchEventCb(virDomainPtr clone, const virDomainCloneSandboxEvent *ev, void *opaque)
{
    lcWatch *w = opaque;
    PyGILState_STATE gil;
    PyObject *event;
    PyObject *ret = NULL;

    (void)clone;   /* w->dom wraps it (None for a watch of devices) */
    gil = PyGILState_Ensure();
    if ((event = lcSandboxEventNew(ev))) {
        ret = PyObject_CallFunctionObjArgs(w->callback, w->dom, event, w->opaque, NULL);
        Py_DECREF(event);
    }
    if (ret)
        Py_DECREF(ret);
    else
        PyErr_WriteUnraisable(w->callback);   /* nobody to raise it to */
    PyGILState_Release(gil);
}


static int
lcCheckCallback(PyObject *callback)
{
    if (!PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError, "callback must be callable, not %.100s",
                     Py_TYPE(callback)->tp_name);
        return -1;
    }
    return 0;
}


/* A Python int in [0, UINT_MAX] named @what. */
static int
lcUInt(PyObject *obj, const char *what, unsigned int *out)
{
    unsigned long v;

    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    v = PyLong_AsUnsignedLong(obj);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (v > UINT_MAX) {
        PyErr_Format(PyExc_OverflowError, "%s does not fit in an unsigned int", what);
        return -1;
    }
    *out = (unsigned int)v;
    return 0;
}


PyDoc_STRVAR(lcSandboxWatch_doc,
"sandbox_watch(dom, callback, opaque, flags) -> int\n\n"
"Private: see libvirt_clone.sandbox_watch().");

static PyObject *
lcSandboxWatch(PyObject *self, PyObject *args)
{
    PyObject *pydom;
    PyObject *callback;
    PyObject *opaque;
    PyObject *pyflags;
    unsigned int flags;
    virDomainPtr dom;
    lcWatch *w;
    int id;

    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO:sandbox_watch", &pydom, &callback, &opaque, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        lcCheckCallback(callback) < 0)
        return NULL;
    if (!(dom = lcUnwrap(pydom, LC_DOMAIN_CAPSULE, "virDomain")))
        return NULL;
    if (!(w = lcWatchNew(pydom, callback, opaque)))
        return NULL;

    virDomainRef(dom);
    Py_BEGIN_ALLOW_THREADS
    id = virDomainCloneSandboxWatch(dom, lcWatchEventCb, w, lcWatchFreeCb, flags);
    virDomainFree(dom);
    Py_END_ALLOW_THREADS
    if (id < 0) {
        /* the library did not take @w: the free callback is not called */
        lcWatchDispose(w);
        return lcRaiseLastError("cannot watch the domain");
    }
    return PyLong_FromLong(id);
}


/* The items of the tuple @tuple, which must be str, as a NULL-terminated
 * array of their UTF-8 strings: they live as long as @tuple.  Free the
 * array with PyMem_Free(). */
static const char **
lcStringArray(PyObject *tuple, const char *what)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    const char **ret;

    if (!(ret = PyMem_Calloc((size_t)n + 1, sizeof(*ret)))) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);

        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s must be a list of str, not of %.100s", what,
                         Py_TYPE(item)->tp_name);
            PyMem_Free(ret);
            return NULL;
        }
        if (!(ret[i] = PyUnicode_AsUTF8(item))) {
            PyMem_Free(ret);
            return NULL;
        }
    }
    return ret;
}


PyDoc_STRVAR(lcSandboxWatchDevices_doc,
"sandbox_watch_devices(clone_name, devices, callback, opaque, flags) -> int\n\n"
"Private: see libvirt_clone.sandbox_watch_devices().");

static PyObject *
lcSandboxWatchDevices(PyObject *self, PyObject *args)
{
    const char *name;
    PyObject *devlist;
    PyObject *callback;
    PyObject *opaque;
    PyObject *pyflags;
    unsigned int flags;
    const char **devices;
    lcWatch *w;
    int id;

    (void)self;
    if (!PyArg_ParseTuple(args, "sOOOO:sandbox_watch_devices", &name, &devlist, &callback,
                          &opaque, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        lcCheckCallback(callback) < 0)
        return NULL;
    if (PyUnicode_Check(devlist)) {
        PyErr_SetString(PyExc_TypeError, "devices must be a list of str, not a str");
        return NULL;
    }
    /* a tuple of our own: the strings live as long as it does */
    if (!(devlist = PySequence_Tuple(devlist)))
        return NULL;
    if (!(devices = lcStringArray(devlist, "devices"))) {
        Py_DECREF(devlist);
        return NULL;
    }
    if (!(w = lcWatchNew(Py_None, callback, opaque))) {
        PyMem_Free(devices);
        Py_DECREF(devlist);
        return NULL;
    }

    Py_BEGIN_ALLOW_THREADS
    id = virDomainCloneSandboxWatchDevices(name, devices, lcWatchEventCb, w, lcWatchFreeCb, flags);
    Py_END_ALLOW_THREADS
    PyMem_Free(devices);
    Py_DECREF(devlist);
    if (id < 0) {
        lcWatchDispose(w);
        return lcRaiseLastError("cannot watch the devices");
    }
    return PyLong_FromLong(id);
}


PyDoc_STRVAR(lcIntegrityWatch_doc,
"integrity_watch(dom, callback, interval_ms, action, opaque, flags) -> int\n\n"
"Private: see libvirt_clone.integrity_watch().");

static PyObject *
lcIntegrityWatch(PyObject *self, PyObject *args)
{
    PyObject *pydom;
    PyObject *callback;
    PyObject *pyinterval;
    int action;
    PyObject *opaque;
    PyObject *pyflags;
    unsigned int interval;
    unsigned int flags;
    virDomainPtr dom;
    lcWatch *w;
    int id;

    (void)self;
    if (!PyArg_ParseTuple(args, "OOOiOO:integrity_watch", &pydom, &callback, &pyinterval,
                          &action, &opaque, &pyflags))
        return NULL;
    if (lcCheckNotInCallback() < 0 || lcFlags(pyflags, &flags) < 0 ||
        lcUInt(pyinterval, "interval_ms", &interval) < 0 || lcCheckCallback(callback) < 0)
        return NULL;
    if (!(dom = lcUnwrap(pydom, LC_DOMAIN_CAPSULE, "virDomain")))
        return NULL;
    if (!(w = lcWatchNew(pydom, callback, opaque)))
        return NULL;

    virDomainRef(dom);
    Py_BEGIN_ALLOW_THREADS
    id = virDomainCloneIntegrityWatch(dom, interval, action, lcWatchEventCb, w,
                                      lcWatchFreeCb, flags);
    virDomainFree(dom);
    Py_END_ALLOW_THREADS
    if (id < 0) {
        lcWatchDispose(w);
        return lcRaiseLastError("cannot watch the domain's kernel");
    }
    return PyLong_FromLong(id);
}


PyDoc_STRVAR(lcSandboxUnwatch_doc,
"sandbox_unwatch(id)\n\nPrivate: see libvirt_clone.sandbox_unwatch().");

static PyObject *
lcSandboxUnwatch(PyObject *self, PyObject *args)
{
    int id;
    int rc;

    (void)self;
    if (!PyArg_ParseTuple(args, "i:sandbox_unwatch", &id))
        return NULL;
    if (lcCheckNotInCallback() < 0)
        return NULL;
    /* it waits for a callback under way, which needs the GIL; it calls the
     * free callback, which takes the GIL */
    Py_BEGIN_ALLOW_THREADS
    rc = virDomainCloneSandboxUnwatch(id);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return lcRaiseLastError("no such watch");
    Py_RETURN_NONE;
}


PyDoc_STRVAR(lcSandboxEventTypeToString_doc,
"sandbox_event_type_to_string(type) -> str | None\n\n"
"The library's name of a sandbox event type (\"traffic\").");

static PyObject *
lcSandboxEventTypeToString(PyObject *self, PyObject *arg)
{
    long type;
    const char *s;

    (void)self;
    type = PyLong_AsLong(arg);
    if (type == -1 && PyErr_Occurred())
        return NULL;
    if (type < INT_MIN || type > INT_MAX ||
        !(s = virDomainCloneSandboxEventTypeToString((int)type)))
        Py_RETURN_NONE;
    return PyUnicode_FromString(s);
}


PyDoc_STRVAR(lcPhaseToString_doc,
"phase_to_string(phase) -> str | None\n\nThe library's name of a phase (\"copy-ram\").");

static PyObject *
lcPhaseToString(PyObject *self, PyObject *arg)
{
    long phase;
    const char *s;

    (void)self;
    phase = PyLong_AsLong(arg);
    if (phase == -1 && PyErr_Occurred())
        return NULL;
    if (phase < INT_MIN || phase > INT_MAX || !(s = virDomainCloneLivePhaseToString((int)phase)))
        Py_RETURN_NONE;
    return PyUnicode_FromString(s);
}


/* Keeps class @cls in @slot; a subclass of @base if not NULL. */
static PyObject *
lcSetClass(PyObject **slot, PyObject *cls, PyObject *base)
{
    if (!PyType_Check(cls) ||
        (base && !PyType_IsSubtype((PyTypeObject *)cls, (PyTypeObject *)base))) {
        PyErr_SetString(PyExc_TypeError,
                        base ? "an Exception subclass is needed" : "a class is needed");
        return NULL;
    }
    Py_XSETREF(*slot, Py_NewRef(cls));
    Py_RETURN_NONE;
}


PyDoc_STRVAR(lcSetErrorClass_doc,
"set_error_class(cls)\n\nPrivate: the class errors are raised as, called "
"as cls(message, code, libvirt_code).");

static PyObject *
lcSetErrorClass(PyObject *self, PyObject *cls)
{
    (void)self;
    return lcSetClass(&lcErrorClass, cls, PyExc_Exception);
}


PyDoc_STRVAR(lcSetTemplateClass_doc,
"set_template_class(cls)\n\nPrivate: the class templates are returned as, called "
"as cls(conn, _obj=capsule).");

static PyObject *
lcSetTemplateClass(PyObject *self, PyObject *cls)
{
    (void)self;
    return lcSetClass(&lcTemplateClass, cls, NULL);
}


PyDoc_STRVAR(lcSetEventClass_doc,
"set_event_class(cls)\n\nPrivate: the class watch events are passed as, called "
"as cls(**fields).");

static PyObject *
lcSetEventClass(PyObject *self, PyObject *cls)
{
    (void)self;
    return lcSetClass(&lcEventClass, cls, NULL);
}


static PyMethodDef lcMethods[] = {
    { "clone_live", (PyCFunction)(void (*)(void))lcCloneLive, METH_VARARGS | METH_KEYWORDS,
      lcCloneLive_doc },
    { "policy_normalize", lcPolicyNormalize, METH_VARARGS, lcPolicyNormalize_doc },
    { "reap", lcReap, METH_VARARGS, lcReap_doc },
    { "phase_to_string", lcPhaseToString, METH_O, lcPhaseToString_doc },
    { "template_create", (PyCFunction)(void (*)(void))lcTemplateCreate,
      METH_VARARGS | METH_KEYWORDS, lcTemplateCreate_doc },
    { "template_lookup", lcTemplateLookup, METH_VARARGS, lcTemplateLookup_doc },
    { "template_list", lcTemplateList, METH_VARARGS, lcTemplateList_doc },
    { "template_name", lcTemplateName, METH_O, lcTemplateName_doc },
    { "template_info", lcTemplateInfo, METH_VARARGS, lcTemplateInfo_doc },
    { "template_delete", lcTemplateDelete, METH_VARARGS, lcTemplateDelete_doc },
    { "template_create_domain", (PyCFunction)(void (*)(void))lcTemplateCreateDomain,
      METH_VARARGS | METH_KEYWORDS, lcTemplateCreateDomain_doc },
    { "reset", lcReset, METH_VARARGS, lcReset_doc },
    { "memory_peek", lcMemoryPeek, METH_VARARGS, lcMemoryPeek_doc },
    { "memory_dump", lcMemoryDump, METH_VARARGS, lcMemoryDump_doc },
    { "sandbox_watch", lcSandboxWatch, METH_VARARGS, lcSandboxWatch_doc },
    { "sandbox_watch_devices", lcSandboxWatchDevices, METH_VARARGS, lcSandboxWatchDevices_doc },
    { "integrity_watch", lcIntegrityWatch, METH_VARARGS, lcIntegrityWatch_doc },
    { "sandbox_unwatch", lcSandboxUnwatch, METH_VARARGS, lcSandboxUnwatch_doc },
    { "sandbox_event_type_to_string", lcSandboxEventTypeToString, METH_O,
      lcSandboxEventTypeToString_doc },
    { "set_error_class", lcSetErrorClass, METH_O, lcSetErrorClass_doc },
    { "set_template_class", lcSetTemplateClass, METH_O, lcSetTemplateClass_doc },
    { "set_event_class", lcSetEventClass, METH_O, lcSetEventClass_doc },
    { NULL, NULL, 0, NULL },
};


static struct PyModuleDef lcModule = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_libvirt_clone",
    .m_doc = "C half of the libvirt_clone module (private).",
    .m_size = -1,
    .m_methods = lcMethods,
};


static int
lcAddConstants(PyObject *m)
{
    static const struct {
        const char *name;
        long value;
    } ints[] = {
#define LC_INT(x) { #x, (long)(x) }
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PAUSED),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PERSISTENT),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_WAIT),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PRECOPY),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_BACKGROUND),

        LC_INT(VIR_CLONE_TEMPLATE_CREATE_WAIT),
        LC_INT(VIR_CLONE_TEMPLATE_CREATE_PRECOPY),
        LC_INT(VIR_CLONE_TEMPLATE_CREATE_BACKGROUND),
        LC_INT(VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE),
        LC_INT(VIR_CLONE_TEMPLATE_CLONE_PAUSED),
        LC_INT(VIR_CLONE_TEMPLATE_CLONE_PERSISTENT),

        LC_INT(VIR_DOMAIN_CLONE_MEMORY_FORCE),
        LC_INT(VIR_DOMAIN_CLONE_MEMORY_CONSISTENT),
        LC_INT(VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT),
        LC_INT(VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW),
        LC_INT(VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF),

        LC_INT(VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC),
        LC_INT(VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST),
        LC_INT(VIR_DOMAIN_CLONE_SANDBOX_EVENT_END),
        LC_INT(VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY),

        LC_INT(VIR_DOMAIN_CLONE_INTEGRITY_ALERT),
        LC_INT(VIR_DOMAIN_CLONE_INTEGRITY_PAUSE),
        LC_INT(VIR_DOMAIN_CLONE_INTEGRITY_DESTROY),
        LC_INT(VIR_DOMAIN_CLONE_INTEGRITY_FORCE),

        LC_INT(VIR_DOMAIN_CLONE_LIVE_PHASE_PREPARE),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PHASE_START_CLONE),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PHASE_FINISH),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PHASE_DONE),
        LC_INT(VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK),

        LC_INT(VIR_CLONE_ERR_OK),
        LC_INT(VIR_CLONE_ERR_INTERNAL),
        LC_INT(VIR_CLONE_ERR_INVALID_ARG),
        LC_INT(VIR_CLONE_ERR_NO_DOMAIN),
        LC_INT(VIR_CLONE_ERR_OPERATION_INVALID),
        LC_INT(VIR_CLONE_ERR_UNSUPPORTED),
        LC_INT(VIR_CLONE_ERR_BUSY),
        LC_INT(VIR_CLONE_ERR_POLICY),
        LC_INT(VIR_CLONE_ERR_LIBVIRT),
        LC_INT(VIR_CLONE_ERR_QEMU),
        LC_INT(VIR_CLONE_ERR_MIGRATION),
        LC_INT(VIR_CLONE_ERR_DISK),
        LC_INT(VIR_CLONE_ERR_SYSTEM),
        LC_INT(VIR_CLONE_ERR_TIMEOUT),
        LC_INT(VIR_CLONE_ERR_GUEST),
        LC_INT(VIR_CLONE_ERR_NO_TEMPLATE),

        LC_INT(LIBVIRT_CLONE_VERSION_MAJOR),
        LC_INT(LIBVIRT_CLONE_VERSION_MINOR),
        LC_INT(LIBVIRT_CLONE_VERSION_MICRO),
#undef LC_INT
    };
    static const struct {
        const char *name;
        const char *value;
    } strs[] = {
#define LC_STR(x) { #x, x }
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_NAME),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_UUID),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_BYTES),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_PASSES),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES),
        LC_STR(VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE),

        LC_STR(VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME),
        LC_STR(VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID),
        LC_STR(VIR_CLONE_TEMPLATE_INFO_CREATED),
        LC_STR(VIR_CLONE_TEMPLATE_INFO_MEMORY),
        LC_STR(VIR_CLONE_TEMPLATE_INFO_CLONES),
        LC_STR(VIR_CLONE_TEMPLATE_INFO_DIRECTORY),
        LC_STR(VIR_CLONE_TEMPLATE_INFO_SHARING),
        LC_STR(VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE),
#undef LC_STR
    };

    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (PyModule_AddIntConstant(m, ints[i].name, ints[i].value) < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (PyModule_AddStringConstant(m, strs[i].name, strs[i].value) < 0)
            return -1;
    }
    return 0;
}


PyMODINIT_FUNC
PyInit__libvirt_clone(void)
{
    PyObject *m = NULL;
    PyObject *libvirt = NULL;

    /* libvirt-python's own module: its virDomain wraps our clones */
    if (!(libvirt = PyImport_ImportModule("libvirt")))
        return NULL;
    Py_XSETREF(lcDomainClass, PyObject_GetAttrString(libvirt, "virDomain"));
    Py_DECREF(libvirt);
    if (!lcDomainClass)
        return NULL;

    if (!(m = PyModule_Create(&lcModule)))
        return NULL;
    if (lcAddConstants(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
