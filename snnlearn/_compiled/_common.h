/* What snnlearn's compiled modules (_lif.c, _lif_recurrent.c) share: the vector-width
 * dispatch, the thread limit, and the neuron parameters as the Python side passes them and
 * as a kernel of one scalar type reads them. Include after <Python.h>.
 *
 * Included once per module for the shared part, then again by each kernel header with
 * SCALAR and KERNEL(name) defined, for that type's params struct and make_params. */

#ifndef SNNLEARN_COMMON_H
#define SNNLEARN_COMMON_H

/* Wider vector units where the CPU has them, picked at load time (GCC on Linux/ELF).
 * Results do not change: +, -, *, / and comparisons are exact IEEE operations at any
 * vector width, and -ffp-contract=off forbids fused multiply-adds. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

/* Before a loop whose iterations the programmer asserts carry no dependence from one to
 * the next (buffers that may alias only element for element): vectorize it without a
 * run-time overlap check. */
#if defined(__clang__)
#define IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif

/* Most ranges one call is split into. A build without OpenMP (setup.py falls back to it
 * when the compiler has none) runs every call in the calling thread. */
#define MAX_THREADS 64
#ifdef _OPENMP
#define MAX_THREADS_BUILT MAX_THREADS
#else
#define MAX_THREADS_BUILT 1
#endif

/* How many threads a call may use: what the caller asked for (PyTorch's setting), at most
 * what this build supports. */
static inline int usable_threads(int threads)
{
    return threads > MAX_THREADS_BUILT ? MAX_THREADS_BUILT : threads;
}

static int check_threads(int threads)
{
    if (threads < 1) {
        PyErr_Format(PyExc_ValueError, "threads must be >= 1, got %d", threads);
        return -1;
    }
    return 0;
}

/* One LIF neuron's step once its input current i1 = i + x (+ recurrent input) is known: the
 * pre-reset voltage v1, the spike, and the state (v, i) after it, in the order of operations
 * of the reference (snnlearn/functional/lif.py; _lif_kernels.h's header has the equations),
 * so bit for bit. Written once for the three kernels that integrate (forward, the
 * backward's recompute, the recurrent forward); a, c, v_leak, v_th, v_reset and SCALAR come
 * from the calling kernel. A macro, so that each inner loop is the same code and vectorizes
 * as before. */
#define LIF_NEURON_UPDATE(v, i, i1, v1, spike)                                                 \
    do {                                                                                       \
        (v1) = (v) + a * ((v_leak - (v)) + (i1));                                              \
        (spike) = ((v1) - v_th > 0) ? (SCALAR)1 : (SCALAR)0;                                   \
        (i) = (i1) + c * (i1);                                                                 \
        (v) = ((SCALAR)1 - (spike)) * (v1) + (spike) * v_reset;                                \
    } while (0)

/* The parameters of one call, as parsed from Python (doubles whatever the buffers hold). */
typedef struct {
    double dt, tau_syn_inv, tau_mem_inv, v_leak, v_th, v_reset, alpha;
    int from_rest; /* forward: start from rest (v = v_leak, i = 0), not from v and i */
} neuron_params;

#endif /* SNNLEARN_COMMON_H */

#ifdef SCALAR
/* The parameters as a kernel of one scalar type reads them: the products the equations
 * use (a = dt * tau_mem_inv, c = -dt * tau_syn_inv), rounded once to SCALAR, as the
 * reference's Python floats are rounded once when they meet a tensor. */
typedef struct {
    SCALAR a, c, v_leak, v_th, v_reset, alpha;
    int from_rest;
} KERNEL(params);

static inline KERNEL(params) KERNEL(make_params)(const neuron_params *p)
{
    KERNEL(params) q;
    q.a = (SCALAR)(p->dt * p->tau_mem_inv);
    q.c = (SCALAR)(-p->dt * p->tau_syn_inv);
    q.v_leak = (SCALAR)p->v_leak;
    q.v_th = (SCALAR)p->v_th;
    q.v_reset = (SCALAR)p->v_reset;
    q.alpha = (SCALAR)p->alpha;
    q.from_rest = p->from_rest;
    return q;
}
#endif
