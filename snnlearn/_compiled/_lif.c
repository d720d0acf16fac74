/* snnlearn._lif: fused leaky integrate-and-fire kernels on raw float/double buffers.
 *
 * No torch headers and no libtorch: arguments are any objects exporting the buffer
 * protocol (the Python side passes tensor.numpy() views), so the module never breaks
 * with a torch ABI change. Every argument is checked before any loop runs; the loops
 * run with the GIL released. The equations live in _lif_kernels.h.
 *
 *   forward(x, v, i, z, v_pre, *, steps, dt, tau_syn_inv, tau_mem_inv, v_leak, v_th, v_reset,
 *           threads, from_rest)
 *   backward(grad_z, v_pre, grad_v, grad_i, grad_x, *, steps, dt, tau_syn_inv, tau_mem_inv,
 *            v_th, v_reset, alpha, threads)
 *   backward_recompute(grad_z, x, v0, i0, grad_v, grad_i, grad_x, *, steps, dt, tau_syn_inv,
 *                      tau_mem_inv, v_leak, v_th, v_reset, alpha, threads, from_rest)
 *   li_forward(x, v, i, y, *, steps, dt, tau_syn_inv, tau_mem_inv, v_leak, threads,
 *              from_rest)
 *   li_backward(grad_y, grad_v, grad_i, grad_x, *, steps, dt, tau_syn_inv, tau_mem_inv,
 *               threads)
 *
 * The leaky integrator (LI, the non-spiking readout) is the LIF without threshold and reset.
 * One time step is steps=1: the step kernel and the sequence kernel are the same loop.
 * Neurons are independent: a call with at least PARALLEL_MIN_WORK neuron-steps splits them
 * into `threads` disjoint ranges run at once (on PyTorch's OpenMP pool; same bits).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_common.h"

/* Neurons per block: the state of a block (2 x 256 KiB in float32) stays in the core's L2
 * cache across the time loop, and each time step reads and writes runs of 256 KiB. */
#define BLOCK 65536
/* Neuron-steps below which one thread is faster: a split pays off only once the work
 * outweighs waking PyTorch's OpenMP pool (see run_parallel; the measurements behind the
 * value are in benchmarks/MEASUREMENTS.md). */
#define PARALLEL_MIN_WORK (1 << 18)
#define RANGE_ALIGN 16 /* range bounds on 64-byte lines: threads never share a cache line */
/* backward_recompute: a tile's recomputed voltages (steps x tile) are sized to about this
 * many bytes, so that they are still in the core's L2 cache when the backward sweep reads
 * them back; the tile is at least RECOMPUTE_TILE_MIN neurons (runs long enough for the
 * prefetcher when steps are many) and at most RECOMPUTE_TILE_MAX (its state is on the
 * stack: 2 x 2048 doubles = 32 KiB). 128 KiB measured faster than 32 and 512 KiB
 * (benchmarks/MEASUREMENTS.md, issue 21). */
#define RECOMPUTE_TILE_BYTES (128 * 1024)
#define RECOMPUTE_TILE_MIN 256
#define RECOMPUTE_TILE_MAX 2048
/* Backward kernels called without a gradient of the state (grad_v or grad_i None) keep it on
 * the stack for this many neurons at a time (2 x 2048 doubles = 32 KiB). */
#define LOCAL_STATE 2048

#define SCALAR float
#define KERNEL(name) name##_f32
#include "_lif_kernels.h"
#undef SCALAR
#undef KERNEL

#define SCALAR double
#define KERNEL(name) name##_f64
#include "_lif_kernels.h"
#undef SCALAR
#undef KERNEL

/* ---- running a kernel over ranges of neurons, on several threads ------------------- */

typedef enum { LIF_FORWARD, LIF_BACKWARD, LIF_BACKWARD_RECOMPUTE, LI_FORWARD, LI_BACKWARD } job_op;

typedef struct {
    char kind; /* 'f' (float32) or 'd' (float64) */
    job_op op; /* LIF_FORWARD(x, v, i, z, v_pre), LIF_BACKWARD(grad_z, v_pre, grad_v, grad_i,
                  grad_x), LIF_BACKWARD_RECOMPUTE(grad_z, x, v0, i0, grad_v, grad_i, grad_x),
                  LI_FORWARD(x, v, i, y), LI_BACKWARD(grad_y, grad_v, grad_i, grad_x) */
    void *buf[7];
    Py_ssize_t steps, n, lo, hi;
    Py_ssize_t tile; /* LIF_BACKWARD_RECOMPUTE: neurons per tile */
    const void *params; /* params_f32 or params_f64 */
} lif_job;

static void run_job(const lif_job *j)
{
    void *const *b = j->buf;
    const Py_ssize_t s = j->steps, n = j->n, lo = j->lo, hi = j->hi;
    if (j->kind == 'f') {
        switch (j->op) {
        case LIF_FORWARD: forward_f32(b[0], b[1], b[2], b[3], b[4], s, n, lo, hi, j->params); break;
        case LIF_BACKWARD: backward_f32(b[0], b[1], b[2], b[3], b[4], s, n, lo, hi, j->params); break;
        case LIF_BACKWARD_RECOMPUTE:
            backward_recompute_f32(b[0], b[1], b[2], b[3], b[4], b[5], b[6], s, n, lo, hi, j->tile,
                                   j->params);
            break;
        case LI_FORWARD: li_forward_f32(b[0], b[1], b[2], b[3], s, n, lo, hi, j->params); break;
        case LI_BACKWARD: li_backward_f32(b[0], b[1], b[2], b[3], s, n, lo, hi, j->params); break;
        }
    } else {
        switch (j->op) {
        case LIF_FORWARD: forward_f64(b[0], b[1], b[2], b[3], b[4], s, n, lo, hi, j->params); break;
        case LIF_BACKWARD: backward_f64(b[0], b[1], b[2], b[3], b[4], s, n, lo, hi, j->params); break;
        case LIF_BACKWARD_RECOMPUTE:
            backward_recompute_f64(b[0], b[1], b[2], b[3], b[4], b[5], b[6], s, n, lo, hi, j->tile,
                                   j->params);
            break;
        case LI_FORWARD: li_forward_f64(b[0], b[1], b[2], b[3], s, n, lo, hi, j->params); break;
        case LI_BACKWARD: li_backward_f64(b[0], b[1], b[2], b[3], s, n, lo, hi, j->params); break;
        }
    }
}

/* Run `job` over all n neurons: in the calling thread, or split into up to `threads`
 * ranges when the call is large enough to pay for it. Called without the GIL.
 *
 * The split runs on OpenMP's thread pool. The extension is linked against libgomp.so.1 and
 * PyTorch (imported first) has already loaded its own copy under that name, so the dynamic
 * loader hands us PyTorch's pool: the threads that just ran the previous layer pick up our
 * ranges while they are still spinning, instead of a thread of ours competing with them for
 * a core (POSIX threads of our own measured slower than one thread after a Linear layer;
 * benchmarks/MEASUREMENTS.md). Built without OpenMP, every call runs in the calling thread
 * (usable_threads, _common.h). */
static void run_parallel(const lif_job *job, int threads)
{
    const Py_ssize_t n = job->n;
    threads = usable_threads(threads);
    if (threads <= 1 || job->steps * n < PARALLEL_MIN_WORK || n < 2 * RANGE_ALIGN) {
        lif_job whole = *job;
        whole.lo = 0;
        whole.hi = n;
        run_job(&whole);
        return;
    }
    Py_ssize_t chunk = (n + threads - 1) / threads;
    chunk = (chunk + RANGE_ALIGN - 1) / RANGE_ALIGN * RANGE_ALIGN;
    lif_job parts[MAX_THREADS];
    int count = 0;
    for (Py_ssize_t lo = 0; lo < n; lo += chunk, count++) {
        parts[count] = *job;
        parts[count].lo = lo;
        parts[count].hi = (n - lo < chunk) ? n : lo + chunk;
    }
#pragma omp parallel for num_threads(count) schedule(static, 1)
    for (int t = 0; t < count; t++)
        run_job(&parts[t]);
}

/* ---- argument checking: _buffers.h, then the shapes of this module ------------------ */

#include "_buffers.h"

static int check_shape(Py_ssize_t steps, Py_ssize_t n, Py_ssize_t *total)
{
    if (steps < 0) {
        PyErr_Format(PyExc_ValueError, "steps must be >= 0, got %zd", steps);
        return -1;
    }
    if (n > 0 && steps > PY_SSIZE_T_MAX / n) {
        PyErr_SetString(PyExc_OverflowError, "steps * neurons overflows");
        return -1;
    }
    *total = steps * n;
    return 0;
}

/* Length of a state buffer without holding it (so lengths can be checked together). */
static Py_ssize_t element_count(PyObject *obj, const char *name)
{
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a float32 or float64 buffer (e.g. tensor.numpy()), got %.100s",
                     name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_ND | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s must be a contiguous float32 or float64 buffer", name);
        return -1;
    }
    Py_ssize_t count = view.itemsize > 0 ? view.len / view.itemsize : 0;
    PyBuffer_Release(&view);
    return count;
}

/* The neuron count n of a backward call: the length of grad_v or grad_i, whichever is given
 * first, or with neither (both None) the length of grad_x over steps (0 for no steps). */
static Py_ssize_t backward_count(PyObject *grad_v, PyObject *grad_i, PyObject *grad_x,
                                 Py_ssize_t steps)
{
    if (grad_v != Py_None)
        return element_count(grad_v, "grad_v");
    if (grad_i != Py_None)
        return element_count(grad_i, "grad_i");
    if (steps <= 0)
        return 0; /* nothing to compute: check_shape refuses steps < 0 */
    Py_ssize_t total = element_count(grad_x, "grad_x");
    if (total >= 0 && total % steps != 0) {
        PyErr_Format(PyExc_ValueError,
                     "grad_x has %zd elements, not a multiple of steps=%zd", total, steps);
        return -1;
    }
    return total < 0 ? -1 : total / steps;
}

/* The common tail of every function below: acquire and check the buffers (in the order of
 * the kernel's arguments; a missing optional one becomes NULL), run `op` over all n neurons
 * without the GIL, release the buffers. */
static PyObject *run_call(buffer_arg *bufs, int count, job_op op, Py_ssize_t steps,
                          Py_ssize_t n, const neuron_params *p, int threads)
{
    char kind = acquire_all(bufs, count);
    if (kind == 0)
        return NULL;
    const params_f32 q32 = make_params_f32(p);
    const params_f64 q64 = make_params_f64(p);
    lif_job job = {kind, op, {NULL}, steps, n, 0, n, 0,
                   kind == 'f' ? (const void *)&q32 : (const void *)&q64};
    if (op == LIF_BACKWARD_RECOMPUTE) {
        Py_ssize_t bytes = (steps > 0 ? steps : 1) * (kind == 'f' ? 4 : 8);
        Py_ssize_t tile = RECOMPUTE_TILE_BYTES / bytes / RANGE_ALIGN * RANGE_ALIGN;
        job.tile = tile < RECOMPUTE_TILE_MIN ? RECOMPUTE_TILE_MIN
                   : tile > RECOMPUTE_TILE_MAX ? RECOMPUTE_TILE_MAX : tile;
    }
    for (int k = 0; k < count; k++)
        job.buf[k] = bufs[k].acquired ? bufs[k].view.buf : NULL;
    Py_BEGIN_ALLOW_THREADS
    run_parallel(&job, threads);
    Py_END_ALLOW_THREADS
    release_all(bufs, count);
    Py_RETURN_NONE;
}

/* ---- forward ------------------------------------------------------------------------ */

PyDoc_STRVAR(forward_doc,
"forward(x, v, i, z, v_pre, *, steps, dt, tau_syn_inv, tau_mem_inv, v_leak, v_th, v_reset,\n"
"        threads, from_rest)\n"
"--\n\n"
"Run `steps` LIF time steps over n neurons in one call.\n\n"
"x: input (steps*n), read. v, i: state (n), initial on entry, final on exit.\n"
"from_rest: true to start from rest (v = v_leak, i = 0) instead: v and i are only written.\n"
"z: spikes (steps*n), written. v_pre: pre-reset voltages (steps*n) or None.\n"
"All buffers C-contiguous, one dtype (float32 or float64). threads: how many threads\n"
"may share a large call (1: the calling thread only).");

static PyObject *lif_forward(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"x", "v", "i", "z", "v_pre", "steps", "dt", "tau_syn_inv",
                               "tau_mem_inv", "v_leak", "v_th", "v_reset", "threads",
                               "from_rest", NULL};
    PyObject *x, *v, *i, *z, *v_pre;
    Py_ssize_t steps, n, total;
    int threads;
    neuron_params p = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOO$nddddddip:forward", keywords, &x, &v,
                                     &i, &z, &v_pre, &steps, &p.dt, &p.tau_syn_inv,
                                     &p.tau_mem_inv, &p.v_leak, &p.v_th, &p.v_reset, &threads,
                                     &p.from_rest))
        return NULL;
    if (check_threads(threads) < 0 || (n = element_count(v, "v")) < 0 ||
        check_shape(steps, n, &total) < 0)
        return NULL;
    buffer_arg bufs[] = {
        {"x", x, 0, total}, {"v", v, 1, n}, {"i", i, 1, n}, {"z", z, 1, total},
        {"v_pre", v_pre, 1, total, 1},
    };
    return run_call(bufs, (int)(sizeof(bufs) / sizeof(bufs[0])), LIF_FORWARD, steps, n, &p, threads);
}

/* ---- backward ----------------------------------------------------------------------- */

PyDoc_STRVAR(backward_doc,
"backward(grad_z, v_pre, grad_v, grad_i, grad_x, *, steps, dt, tau_syn_inv, tau_mem_inv,\n"
"         v_th, v_reset, alpha, threads)\n"
"--\n\n"
"Backpropagation through time over `steps` LIF steps of n neurons (SuperSpike surrogate).\n\n"
"grad_z, v_pre: (steps*n), read. grad_v, grad_i: (n), gradients of the final state on\n"
"entry and of the initial state on exit, or None (a zero gradient of the final state; the\n"
"initial state's is not returned). grad_x: (steps*n), written. threads: as forward.");

static PyObject *lif_backward(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"grad_z", "v_pre", "grad_v", "grad_i", "grad_x", "steps", "dt",
                               "tau_syn_inv", "tau_mem_inv", "v_th", "v_reset", "alpha",
                               "threads", NULL};
    PyObject *grad_z, *v_pre, *grad_v, *grad_i, *grad_x;
    Py_ssize_t steps, n, total;
    int threads;
    neuron_params p = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOO$nddddddi:backward", keywords, &grad_z,
                                     &v_pre, &grad_v, &grad_i, &grad_x, &steps, &p.dt,
                                     &p.tau_syn_inv, &p.tau_mem_inv, &p.v_th, &p.v_reset,
                                     &p.alpha, &threads))
        return NULL;
    if (v_pre == Py_None) {
        PyErr_SetString(PyExc_ValueError, "v_pre is required by backward");
        return NULL;
    }
    if (check_threads(threads) < 0 ||
        (n = backward_count(grad_v, grad_i, grad_x, steps)) < 0 ||
        check_shape(steps, n, &total) < 0)
        return NULL;
    buffer_arg bufs[] = {
        {"grad_z", grad_z, 0, total}, {"v_pre", v_pre, 0, total}, {"grad_v", grad_v, 1, n, 1},
        {"grad_i", grad_i, 1, n, 1},  {"grad_x", grad_x, 1, total},
    };
    return run_call(bufs, (int)(sizeof(bufs) / sizeof(bufs[0])), LIF_BACKWARD, steps, n, &p, threads);
}

PyDoc_STRVAR(backward_recompute_doc,
"backward_recompute(grad_z, x, v0, i0, grad_v, grad_i, grad_x, *, steps, dt, tau_syn_inv,\n"
"                   tau_mem_inv, v_leak, v_th, v_reset, alpha, threads, from_rest)\n"
"--\n\n"
"backward() without v_pre: the pre-reset voltages are recomputed from the forward's input\n"
"and initial state (same bits), so the forward pass need not keep them.\n\n"
"grad_z, x: (steps*n), read. v0, i0: (n) initial state, read; None with from_rest (the\n"
"state started from rest). grad_v, grad_i: (n) or None, as backward. grad_x: (steps*n),\n"
"written. threads: as forward.");

static PyObject *lif_backward_recompute(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"grad_z", "x", "v0", "i0", "grad_v", "grad_i", "grad_x",
                               "steps", "dt", "tau_syn_inv", "tau_mem_inv", "v_leak", "v_th",
                               "v_reset", "alpha", "threads", "from_rest", NULL};
    PyObject *grad_z, *x, *v0, *i0, *grad_v, *grad_i, *grad_x;
    Py_ssize_t steps, n, total;
    int threads;
    neuron_params p = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOO$ndddddddip:backward_recompute",
                                     keywords, &grad_z, &x, &v0, &i0, &grad_v, &grad_i, &grad_x,
                                     &steps, &p.dt, &p.tau_syn_inv, &p.tau_mem_inv, &p.v_leak,
                                     &p.v_th, &p.v_reset, &p.alpha, &threads, &p.from_rest))
        return NULL;
    if (!p.from_rest && (v0 == Py_None || i0 == Py_None)) {
        PyErr_SetString(PyExc_ValueError,
                        "v0 and i0 are required unless from_rest (the state the forward began in)");
        return NULL;
    }
    if (check_threads(threads) < 0 ||
        (n = backward_count(grad_v, grad_i, grad_x, steps)) < 0 ||
        check_shape(steps, n, &total) < 0)
        return NULL;
    buffer_arg bufs[] = {
        {"grad_z", grad_z, 0, total}, {"x", x, 0, total},
        {"v0", p.from_rest ? Py_None : v0, 0, n, 1}, {"i0", p.from_rest ? Py_None : i0, 0, n, 1},
        {"grad_v", grad_v, 1, n, 1}, {"grad_i", grad_i, 1, n, 1}, {"grad_x", grad_x, 1, total},
    };
    return run_call(bufs, (int)(sizeof(bufs) / sizeof(bufs[0])), LIF_BACKWARD_RECOMPUTE, steps, n,
                    &p, threads);
}

/* ---- leaky integrator ---------------------------------------------------------------- */

PyDoc_STRVAR(li_forward_doc,
"li_forward(x, v, i, y, *, steps, dt, tau_syn_inv, tau_mem_inv, v_leak, threads,\n"
"           from_rest)\n"
"--\n\n"
"Run `steps` leaky-integrator time steps over n neurons in one call.\n\n"
"x: input (steps*n), read. v, i: state (n), initial on entry, final on exit (from_rest:\n"
"as forward). y: voltages of every step (steps*n), written. All buffers C-contiguous, one dtype\n"
"(float32 or float64). threads: as forward.");

static PyObject *li_forward(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"x", "v", "i", "y", "steps", "dt", "tau_syn_inv", "tau_mem_inv",
                               "v_leak", "threads", "from_rest", NULL};
    PyObject *x, *v, *i, *y;
    Py_ssize_t steps, n, total;
    int threads;
    neuron_params p = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO$nddddip:li_forward", keywords, &x, &v,
                                     &i, &y, &steps, &p.dt, &p.tau_syn_inv, &p.tau_mem_inv,
                                     &p.v_leak, &threads, &p.from_rest))
        return NULL;
    if (check_threads(threads) < 0 || (n = element_count(v, "v")) < 0 ||
        check_shape(steps, n, &total) < 0)
        return NULL;
    buffer_arg bufs[] = {
        {"x", x, 0, total}, {"v", v, 1, n}, {"i", i, 1, n}, {"y", y, 1, total},
    };
    return run_call(bufs, (int)(sizeof(bufs) / sizeof(bufs[0])), LI_FORWARD, steps, n, &p, threads);
}

PyDoc_STRVAR(li_backward_doc,
"li_backward(grad_y, grad_v, grad_i, grad_x, *, steps, dt, tau_syn_inv, tau_mem_inv,\n"
"            threads)\n"
"--\n\n"
"Backpropagation through time over `steps` leaky-integrator steps of n neurons.\n\n"
"grad_y: (steps*n), read. grad_v, grad_i: (n), gradients of the final state on entry and\n"
"of the initial state on exit, or None (as backward). grad_x: (steps*n), written.\n"
"threads: as forward.");

static PyObject *li_backward(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"grad_y", "grad_v", "grad_i", "grad_x", "steps", "dt",
                               "tau_syn_inv", "tau_mem_inv", "threads", NULL};
    PyObject *grad_y, *grad_v, *grad_i, *grad_x;
    Py_ssize_t steps, n, total;
    int threads;
    neuron_params p = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO$ndddi:li_backward", keywords, &grad_y,
                                     &grad_v, &grad_i, &grad_x, &steps, &p.dt, &p.tau_syn_inv,
                                     &p.tau_mem_inv, &threads))
        return NULL;
    if (check_threads(threads) < 0 ||
        (n = backward_count(grad_v, grad_i, grad_x, steps)) < 0 ||
        check_shape(steps, n, &total) < 0)
        return NULL;
    buffer_arg bufs[] = {
        {"grad_y", grad_y, 0, total}, {"grad_v", grad_v, 1, n, 1}, {"grad_i", grad_i, 1, n, 1},
        {"grad_x", grad_x, 1, total},
    };
    return run_call(bufs, (int)(sizeof(bufs) / sizeof(bufs[0])), LI_BACKWARD, steps, n, &p, threads);
}

static PyMethodDef lif_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))lif_forward, METH_VARARGS | METH_KEYWORDS,
     forward_doc},
    {"backward", (PyCFunction)(void (*)(void))lif_backward, METH_VARARGS | METH_KEYWORDS,
     backward_doc},
    {"backward_recompute", (PyCFunction)(void (*)(void))lif_backward_recompute,
     METH_VARARGS | METH_KEYWORDS, backward_recompute_doc},
    {"li_forward", (PyCFunction)(void (*)(void))li_forward, METH_VARARGS | METH_KEYWORDS,
     li_forward_doc},
    {"li_backward", (PyCFunction)(void (*)(void))li_backward, METH_VARARGS | METH_KEYWORDS,
     li_backward_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef lif_module = {
    PyModuleDef_HEAD_INIT, "_lif",
    "Fused LIF and leaky-integrator forward and BPTT kernels on raw float32/float64 buffers "
    "(no torch ABI).", -1,
    lif_methods,
};

PyMODINIT_FUNC PyInit__lif(void)
{
    PyObject *module = PyModule_Create(&lif_module);
    if (module && (PyModule_AddIntConstant(module, "BLOCK", BLOCK) < 0 ||
                   PyModule_AddIntConstant(module, "PARALLEL_MIN_WORK", PARALLEL_MIN_WORK) < 0 ||
                   PyModule_AddIntConstant(module, "LOCAL_STATE", LOCAL_STATE) < 0 ||
                   PyModule_AddIntConstant(module, "MAX_THREADS", MAX_THREADS_BUILT) < 0)) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
