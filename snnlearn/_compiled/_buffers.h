/* Argument checking shared by snnlearn's compiled modules (_lif.c, _lif_recurrent.c):
 * every buffer argument is acquired and checked (kind, length, writability, overlap)
 * before any kernel loop runs. Include after <Python.h> and <string.h>. */

#ifndef SNNLEARN_BUFFERS_H
#define SNNLEARN_BUFFERS_H

typedef struct {
    const char *name;
    PyObject *obj;
    int writable;
    Py_ssize_t length; /* expected number of elements */
    int optional;      /* 1: None is allowed (the kernel then gets NULL) */
    int same_as;       /* an output that may be the very memory of argument same_as - 1
                        * (same start, same length; a kernel written for it), 0: none */
    Py_buffer view;
    int acquired;
} buffer_arg;

/* 'f' or 'd' for a buffer of native float/double, else 0. */
static char scalar_kind(const Py_buffer *view)
{
    const char *fmt = view->format ? view->format : "B";
    if (*fmt == '@' || *fmt == '=' || *fmt == '<')
        fmt++;
    if (strcmp(fmt, "f") == 0 && view->itemsize == (Py_ssize_t)sizeof(float))
        return 'f';
    if (strcmp(fmt, "d") == 0 && view->itemsize == (Py_ssize_t)sizeof(double))
        return 'd';
    return 0;
}

static void release_all(buffer_arg *args, int count)
{
    for (int k = 0; k < count; k++) {
        if (args[k].acquired) {
            PyBuffer_Release(&args[k].view);
            args[k].acquired = 0;
        }
    }
}

/* Acquire every buffer, check kind, length and writability, and that no output overlaps
 * another argument (except the one argument it may be exactly: see same_as). Only an argument marked optional may be None (the kernel then gets
 * NULL); anything else must export a buffer. Returns the common kind ('f' or 'd') or 0
 * with an exception set and nothing held. */
static char acquire_all(buffer_arg *args, int count)
{
    char kind = 0;
    for (int k = 0; k < count; k++)
        args[k].acquired = 0;
    for (int k = 0; k < count; k++) {
        buffer_arg *arg = &args[k];
        if (arg->obj == Py_None && arg->optional)
            continue;
        if (arg->obj == NULL || !PyObject_CheckBuffer(arg->obj)) {
            PyErr_Format(PyExc_TypeError,
                         "%s must be a float32 or float64 buffer (e.g. tensor.numpy()), got %.100s",
                         arg->name, arg->obj ? Py_TYPE(arg->obj)->tp_name : "nothing");
            goto fail;
        }
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (arg->writable ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(arg->obj, &arg->view, flags) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError,
                         "%s must be a C-contiguous%s float32 or float64 buffer (got %.100s)",
                         arg->name, arg->writable ? ", writable" : "", Py_TYPE(arg->obj)->tp_name);
            goto fail;
        }
        arg->acquired = 1;
        char this_kind = scalar_kind(&arg->view);
        if (this_kind == 0) {
            PyErr_Format(PyExc_TypeError, "%s must hold float32 or float64 values (format '%s')",
                         arg->name, arg->view.format ? arg->view.format : "B");
            goto fail;
        }
        if (kind == 0)
            kind = this_kind;
        else if (this_kind != kind) {
            PyErr_Format(PyExc_TypeError, "%s is %s but %s is %s: all buffers need one dtype",
                         arg->name, this_kind == 'f' ? "float32" : "float64", args[0].name,
                         kind == 'f' ? "float32" : "float64");
            goto fail;
        }
        Py_ssize_t length = arg->view.len / arg->view.itemsize;
        if (length != arg->length) {
            PyErr_Format(PyExc_ValueError, "%s has %zd elements, expected %zd", arg->name,
                         length, arg->length);
            goto fail;
        }
    }
    for (int k = 0; k < count; k++) {
        if (!args[k].acquired || !args[k].writable || args[k].view.len == 0)
            continue;
        const char *lo = args[k].view.buf, *hi = lo + args[k].view.len;
        for (int m = 0; m < count; m++) {
            if (m == k || !args[m].acquired || args[m].view.len == 0)
                continue;
            const char *lo2 = args[m].view.buf, *hi2 = lo2 + args[m].view.len;
            if (lo == lo2 && hi == hi2 && (args[k].same_as == m + 1 || args[m].same_as == k + 1))
                continue; /* the one argument this output may replace, exactly */
            if (lo < hi2 && lo2 < hi) {
                PyErr_Format(PyExc_ValueError, "output %s overlaps %s in memory", args[k].name,
                             args[m].name);
                goto fail;
            }
        }
    }
    if (kind == 0)
        PyErr_SetString(PyExc_TypeError, "no buffer given");
    return kind;
fail:
    release_all(args, count);
    return 0;
}

#endif /* SNNLEARN_BUFFERS_H */
