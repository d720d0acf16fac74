/* snnlearn._lif_recurrent: recurrent LIF (Norse 1.1.0's lif_step) over a whole sequence,
 * forward and BPTT, on raw float/double buffers.
 *
 * Same conventions as _lif.c: no torch headers and no libtorch (arguments are objects
 * exporting the buffer protocol: the Python side passes tensor.numpy() views); every
 * argument is checked before any loop; the loops run with the GIL released; batch rows are
 * independent and a large call splits them over PyTorch's OpenMP pool (same bits). The
 * equations are in _lif_recurrent_kernels.h.
 *
 *   forward(xp, w_rec_t, v, i, z, v_pre, *, steps, batch, hidden, dt, tau_syn_inv,
 *           tau_mem_inv, v_leak, v_th, v_reset, threads)
 *   backward(grad_z, v_pre, w_rec, grad_v, grad_i, grad_i1, *, steps, batch, hidden, dt,
 *            tau_syn_inv, tau_mem_inv, v_th, v_reset, alpha, threads)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "_common.h"

/* Neuron-steps below which one thread is faster. A split runs on PyTorch's OpenMP pool,
 * whose workers are still spinning from the input projection just before (see run_parallel
 * in _lif.c); with them warm, splitting pays off at much smaller calls than in _lif.c
 * (the measurements behind the value: benchmarks/MEASUREMENTS.md). */
#define PARALLEL_MIN_WORK (1 << 15)

/* GCC and clang vector extensions keep blocks of sums in registers (see the kernels). */
#if defined(__GNUC__) || defined(__clang__)
#define HAVE_VECTORS 1
#else
#define HAVE_VECTORS 0
#endif

#define SCALAR float
#define KERNEL(name) name##_f32
#include "_lif_recurrent_kernels.h"
#undef SCALAR
#undef KERNEL

#define SCALAR double
#define KERNEL(name) name##_f64
#include "_lif_recurrent_kernels.h"
#undef SCALAR
#undef KERNEL

/* ---- running a kernel over ranges of batch rows, on several threads ---------------- */

typedef struct {
    char kind;    /* 'f' (float32) or 'd' (float64) */
    int backward; /* 0: forward(xp, w_rec_t, v, i, z, v_pre); 1: backward(grad_z, v_pre, w_rec, grad_v, grad_i, grad_i1) */
    void *buf[6];
    Py_ssize_t steps, batch, h, lo, hi;
    const void *params; /* params_f32 or params_f64 */
    void *scratch;      /* this range's scratch memory */
} rlif_job;

static void run_job(const rlif_job *j)
{
    void *const *b = j->buf;
    if (j->kind == 'f' && !j->backward)
        forward_f32(b[0], b[1], b[2], b[3], b[4], b[5], j->steps, j->batch, j->h, j->lo, j->hi,
                    j->params, (float *)((Py_ssize_t *)j->scratch + j->h), j->scratch);
    else if (j->kind == 'd' && !j->backward)
        forward_f64(b[0], b[1], b[2], b[3], b[4], b[5], j->steps, j->batch, j->h, j->lo, j->hi,
                    j->params, (double *)((Py_ssize_t *)j->scratch + j->h), j->scratch);
    else if (j->kind == 'f')
        backward_f32(b[0], b[1], b[2], b[3], b[4], b[5], j->steps, j->batch, j->h, j->lo, j->hi,
                     j->params, j->scratch);
    else
        backward_f64(b[0], b[1], b[2], b[3], b[4], b[5], j->steps, j->batch, j->h, j->lo, j->hi,
                     j->params, j->scratch);
}

/* Bytes of scratch a range of `rows` batch rows needs. */
static size_t scratch_bytes(const rlif_job *job, Py_ssize_t rows)
{
    const size_t item = job->kind == 'f' ? sizeof(float) : sizeof(double);
    if (job->backward)
        return (size_t)rows * (size_t)job->h * item;
    return (size_t)job->h * (item + sizeof(Py_ssize_t));
}

/* Split the batch rows into ranges (one per thread when the call is large enough), give
 * each its scratch, run them. Returns -1 (no exception set) if scratch memory ran out;
 * then nothing has run. Called without the GIL. */
static int run_parallel(const rlif_job *job, int threads)
{
    const Py_ssize_t batch = job->batch;
    threads = usable_threads(threads); /* 1 when built without OpenMP */
    if (job->steps * batch * job->h < PARALLEL_MIN_WORK)
        threads = 1;
    if (threads > batch)
        threads = batch > 0 ? (int)batch : 1;
    Py_ssize_t chunk = (batch + threads - 1) / threads;
    if (job->backward && chunk > 4) /* whole blocks of four rows for the dense product */
        chunk = (chunk + 3) / 4 * 4;
    rlif_job parts[MAX_THREADS];
    int count = 0;
    for (Py_ssize_t lo = 0; lo < batch || count == 0; lo += chunk, count++) {
        parts[count] = *job;
        parts[count].lo = lo;
        parts[count].hi = (batch - lo < chunk) ? batch : lo + chunk;
        const Py_ssize_t rows = parts[count].hi - parts[count].lo;
        parts[count].scratch = malloc(scratch_bytes(job, rows > 0 ? rows : 1) + 64);
        if (parts[count].scratch == NULL) {
            for (int k = 0; k < count; k++)
                free(parts[k].scratch);
            return -1;
        }
        if (batch == 0)
            break;
    }
#pragma omp parallel for num_threads(count) schedule(static, 1)
    for (int t = 0; t < count; t++)
        run_job(&parts[t]);
    for (int t = 0; t < count; t++)
        free(parts[t].scratch);
    return 0;
}

/* ---- argument checking: _buffers.h (shared with _lif.c), then this module's sizes ---- */

#include "_buffers.h"

/* Checks steps, batch, hidden and threads; sets *state = batch*hidden, *total =
 * steps*batch*hidden and *square = hidden*hidden, refusing overflow. */
static int check_sizes(Py_ssize_t steps, Py_ssize_t batch, Py_ssize_t hidden, int threads,
                       Py_ssize_t *state, Py_ssize_t *total, Py_ssize_t *square)
{
    if (steps < 0 || batch < 0 || hidden < 1) {
        PyErr_Format(PyExc_ValueError,
                     "need steps >= 0, batch >= 0 and hidden >= 1, got %zd, %zd and %zd", steps,
                     batch, hidden);
        return -1;
    }
    if (check_threads(threads) < 0)
        return -1;
    if (hidden > PY_SSIZE_T_MAX / hidden / 16 ||
        (batch > 0 && hidden > PY_SSIZE_T_MAX / batch / 16) ||
        (steps > 0 && batch * hidden > PY_SSIZE_T_MAX / steps / 16)) {
        PyErr_SetString(PyExc_OverflowError, "steps * batch * hidden overflows");
        return -1;
    }
    *state = batch * hidden;
    *total = steps * batch * hidden;
    *square = hidden * hidden;
    return 0;
}

/* The common tail of forward and backward: acquire and check the buffers (in the order of
 * the kernel's arguments; a missing optional one becomes NULL), run without the GIL,
 * release the buffers. */
static PyObject *run_call(buffer_arg *bufs, int count, int backward, Py_ssize_t steps,
                          Py_ssize_t batch, Py_ssize_t hidden, const neuron_params *p,
                          int threads)
{
    char kind = acquire_all(bufs, count);
    if (kind == 0)
        return NULL;
    const params_f32 q32 = make_params_f32(p);
    const params_f64 q64 = make_params_f64(p);
    rlif_job job = {kind, backward, {NULL}, steps, batch, hidden, 0, batch,
                    kind == 'f' ? (const void *)&q32 : (const void *)&q64, NULL};
    for (int k = 0; k < count; k++)
        job.buf[k] = bufs[k].acquired ? bufs[k].view.buf : NULL;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = run_parallel(&job, threads);
    Py_END_ALLOW_THREADS
    release_all(bufs, count);
    if (status < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* ---- forward ------------------------------------------------------------------------ */

PyDoc_STRVAR(forward_doc,
"forward(xp, w_rec_t, v, i, z, v_pre, *, steps, batch, hidden, dt, tau_syn_inv,\n"
"        tau_mem_inv, v_leak, v_th, v_reset, threads)\n"
"--\n\n"
"Run `steps` recurrent LIF steps of `batch` rows of `hidden` neurons in one call.\n\n"
"xp: projected input (steps, batch, hidden), read (step 0 includes z0's recurrent input).\n"
"w_rec_t: recurrent_weights transposed (hidden, hidden), read: row j is what a spike of\n"
"neuron j adds. v, i: state (batch, hidden), initial on entry, final on exit.\n"
"z: spikes (steps, batch, hidden), written. v_pre: pre-reset voltages, written, or None.\n"
"z or v_pre (not both) may be xp itself, which is then overwritten: each row of xp is\n"
"read before the same row of the output is written. No other buffers may overlap.\n"
"All buffers C-contiguous, one dtype (float32 or float64).");

static PyObject *rlif_forward(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"xp", "w_rec_t", "v", "i", "z", "v_pre", "steps", "batch",
                               "hidden", "dt", "tau_syn_inv", "tau_mem_inv", "v_leak", "v_th",
                               "v_reset", "threads", NULL};
    PyObject *xp, *w, *v, *i, *z, *v_pre;
    Py_ssize_t steps, batch, hidden, state, total, square;
    int threads;
    neuron_params p = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOO$nnnddddddi:forward", keywords, &xp,
                                     &w, &v, &i, &z, &v_pre, &steps, &batch, &hidden, &p.dt,
                                     &p.tau_syn_inv, &p.tau_mem_inv, &p.v_leak, &p.v_th,
                                     &p.v_reset, &threads))
        return NULL;
    if (check_sizes(steps, batch, hidden, threads, &state, &total, &square) < 0)
        return NULL;
    buffer_arg bufs[] = {
        {"xp", xp, 0, total}, {"w_rec_t", w, 0, square}, {"v", v, 1, state},
        {"i", i, 1, state},   {"z", z, 1, total, 0, 1},  {"v_pre", v_pre, 1, total, 1, 1},
    };
    return run_call(bufs, (int)(sizeof(bufs) / sizeof(bufs[0])), 0, steps, batch, hidden,
                    &p, threads);
}

/* ---- backward ----------------------------------------------------------------------- */

PyDoc_STRVAR(backward_doc,
"backward(grad_z, v_pre, w_rec, grad_v, grad_i, grad_i1, *, steps, batch, hidden, dt,\n"
"         tau_syn_inv, tau_mem_inv, v_th, v_reset, alpha, threads)\n"
"--\n\n"
"Backpropagation through time over `steps` recurrent LIF steps (SuperSpike surrogate).\n\n"
"grad_z: gradient of every step's spikes (steps, batch, hidden; the final state's z\n"
"gradient already added to the last step), read. v_pre (steps, batch, hidden), read.\n"
"w_rec: recurrent_weights (hidden, hidden), read. grad_v, grad_i: (batch, hidden),\n"
"gradients of the final state on entry and of the initial state on exit. grad_i1:\n"
"(steps, batch, hidden), written: the gradient of each step's jumped current, which is\n"
"the gradient of the projected input xp.");

static PyObject *rlif_backward(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"grad_z", "v_pre", "w_rec", "grad_v", "grad_i", "grad_i1",
                               "steps", "batch", "hidden", "dt", "tau_syn_inv", "tau_mem_inv",
                               "v_th", "v_reset", "alpha", "threads", NULL};
    PyObject *grad_z, *v_pre, *w, *grad_v, *grad_i, *grad_i1;
    Py_ssize_t steps, batch, hidden, state, total, square;
    int threads;
    neuron_params p = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOO$nnnddddddi:backward", keywords,
                                     &grad_z, &v_pre, &w, &grad_v, &grad_i, &grad_i1, &steps,
                                     &batch, &hidden, &p.dt, &p.tau_syn_inv, &p.tau_mem_inv,
                                     &p.v_th, &p.v_reset, &p.alpha, &threads))
        return NULL;
    if (check_sizes(steps, batch, hidden, threads, &state, &total, &square) < 0)
        return NULL;
    buffer_arg bufs[] = {
        {"grad_z", grad_z, 0, total}, {"v_pre", v_pre, 0, total},   {"w_rec", w, 0, square},
        {"grad_v", grad_v, 1, state}, {"grad_i", grad_i, 1, state}, {"grad_i1", grad_i1, 1, total},
    };
    return run_call(bufs, (int)(sizeof(bufs) / sizeof(bufs[0])), 1, steps, batch, hidden,
                    &p, threads);
}

static PyMethodDef rlif_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))rlif_forward, METH_VARARGS | METH_KEYWORDS,
     forward_doc},
    {"backward", (PyCFunction)(void (*)(void))rlif_backward, METH_VARARGS | METH_KEYWORDS,
     backward_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef rlif_module = {
    PyModuleDef_HEAD_INIT, "_lif_recurrent",
    "Recurrent LIF forward and BPTT over a whole sequence on raw float32/float64 buffers "
    "(no torch ABI).", -1, rlif_methods,
};

PyMODINIT_FUNC PyInit__lif_recurrent(void)
{
    PyObject *module = PyModule_Create(&rlif_module);
    if (module && (PyModule_AddIntConstant(module, "PARALLEL_MIN_WORK", PARALLEL_MIN_WORK) < 0 ||
                   PyModule_AddIntConstant(module, "MAX_THREADS", MAX_THREADS_BUILT) < 0)) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
