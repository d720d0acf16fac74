/* LIF and leaky-integrator (LI) kernels for one scalar type: included by _lif.c once per type.
 *
 * Before including, define SCALAR (float or double) and KERNEL(name) (a name suffix).
 * The equations are the reference's (snnlearn/functional/lif.py), line for line and in
 * the same order of operations; compiled with -ffp-contract=off so that no fused
 * multiply-add changes the last bit and a spike at the threshold cannot flip, and with
 * -fno-trapping-math so that the spike comparison does not stop gcc from vectorizing.
 *
 *   i1 = i + x
 *   v1 = v + a * ((v_leak - v) + i1)      a = dt * tau_mem_inv
 *   i2 = i1 + c * i1                      c = -dt * tau_syn_inv
 *   z  = H(v1 - v_th)                     H(u) = 1 if u > 0 else 0 (NaN does not spike, as in Norse)
 *   v2 = (1 - z) * v1 + z * v_reset
 *
 * Backward (z is not detached, so the reset carries gradient; SuperSpike surrogate):
 *   gv1 = gv2 * (1 - z) + (gz + gv2 * (v_reset - v1)) / (alpha * |v1 - v_th| + 1)^2
 *   gi1 = gi2 + c * gi2 + a * gv1         (= grad of x and of i)
 *   gv  = gv1 - a * gv1
 *
 * The leaky integrator (LI: the readout, snnlearn/functional/leaky_integrator.py,
 * li_feed_forward_step) is the same without threshold and reset, sharing a, c and v_leak:
 *   i1 = i + x
 *   v1 = v + a * ((v_leak - v) + i1)
 *   i2 = i1 + c * i1                      output v1, state (v1, i2)
 * Its backward is linear (no forward values needed). With gy the gradient of the output
 * v1 of a step and gv2, gi2 those of the state after it:
 *   gv1 = gy + gv2
 *   gi1 = gi2 + c * gi2 + a * gv1         (= grad of x and of i)
 *   gv  = gv1 - a * gv1
 */

#include "_common.h" /* KERNEL(params), KERNEL(make_params) for this SCALAR */

/* One neuron's step of the backward pass (the header's equations, SuperSpike surrogate):
 * from its pre-reset voltage v1 and the gradients gz of its spike and (gv, gi) of the state
 * after the step, the gradient gx of its input and (gv, gi) of the state before it. Written
 * once for the backward kernel (v1 read from v_pre) and the recompute (v1 recomputed); a,
 * c, v_th, v_reset, alpha and SCALAR come from the calling kernel. */
#ifndef LIF_NEURON_BACKWARD
#define LIF_NEURON_BACKWARD(v1, gz, gv, gi, gx)                                                \
    do {                                                                                       \
        const SCALAR u_ = (v1) - v_th;                                                         \
        const SCALAR spike_ = (u_ > 0) ? (SCALAR)1 : (SCALAR)0;                                \
        const SCALAR gv2_ = (gv), gi2_ = (gi);                                                 \
        const SCALAR denom_ = alpha * (u_ < 0 ? -u_ : u_) + (SCALAR)1;                         \
        const SCALAR gu_ = ((gz) + gv2_ * (v_reset - (v1))) / (denom_ * denom_);               \
        const SCALAR gv1_ = gv2_ * ((SCALAR)1 - spike_) + gu_;                                 \
        const SCALAR gi1_ = gi2_ + c * gi2_ + a * gv1_;                                        \
        (gx) = gi1_;                                                                           \
        (gi) = gi1_;                                                                           \
        (gv) = gv1_ - a * gv1_;                                                                \
    } while (0)
#endif

/* A backward kernel's gradient of the state (grad_v or grad_i) for the `width` neurons from
 * `start`: the caller's buffer, or where the caller passed none (NULL) `width` zeros in
 * `local`, a buffer on the kernel's stack (the final state's gradient is zero, and the
 * initial state's is not returned). */
static inline SCALAR *KERNEL(state_gradient)(SCALAR *grad, Py_ssize_t start, SCALAR *local,
                                             Py_ssize_t width)
{
    if (grad)
        return grad + start;
    for (Py_ssize_t k = 0; k < width; k++)
        local[k] = 0;
    return local;
}

/* The resting state of `width` neurons: v = v_leak, i = 0 (written by the thread that runs
 * them, right before it uses them). */
static inline void KERNEL(rest)(SCALAR *restrict v, SCALAR *restrict i, Py_ssize_t width,
                                SCALAR v_leak)
{
    for (Py_ssize_t k = 0; k < width; k++) {
        v[k] = v_leak;
        i[k] = 0;
    }
}

/* Forward over `steps` time steps of neurons lo..hi-1 of n. x and z are (steps, n),
 * row-major. v and i hold the initial state on entry (or, with p->from_rest, are only
 * written: the state starts from rest) and the final state on exit, updated in place.
 * v_pre, when not NULL, receives the pre-reset voltages v1 (steps, n) that the backward
 * pass needs. Neurons are processed in blocks of up to BLOCK: a block's state stays
 * in the core's cache across all time steps while x and z stream through in rows as long as
 * the block (long runs are what the hardware prefetcher needs: short blocks measured
 * slower, see benchmarks/MEASUREMENTS.md). Neurons are independent, so threads may run
 * disjoint ranges lo..hi at once. */
MULTIVERSION static void KERNEL(forward)(const SCALAR *restrict x, SCALAR *restrict v, SCALAR *restrict i,
                            SCALAR *restrict z, SCALAR *restrict v_pre,
                            Py_ssize_t steps, Py_ssize_t n, Py_ssize_t lo, Py_ssize_t hi,
                            const KERNEL(params) *p)
{
    const SCALAR a = p->a, c = p->c, v_leak = p->v_leak, v_th = p->v_th, v_reset = p->v_reset;
    for (Py_ssize_t start = lo; start < hi; start += BLOCK) {
        const Py_ssize_t width = (hi - start < BLOCK) ? hi - start : BLOCK;
        SCALAR *restrict vb = v + start, *restrict ib = i + start;
        if (p->from_rest)
            KERNEL(rest)(vb, ib, width, v_leak);
        for (Py_ssize_t t = 0; t < steps; t++) {
            const SCALAR *restrict xt = x + t * n + start;
            SCALAR *restrict zt = z + t * n + start;
            SCALAR *restrict pt = v_pre ? v_pre + t * n + start : NULL;
            for (Py_ssize_t k = 0; k < width; k++) {
                const SCALAR i1 = ib[k] + xt[k];
                SCALAR v1, spike;
                LIF_NEURON_UPDATE(vb[k], ib[k], i1, v1, spike);
                zt[k] = spike;
                if (pt) pt[k] = v1;
            }
        }
    }
}

/* Backpropagation through time over the whole sequence, last step first, for neurons
 * lo..hi-1 of n. grad_z and v_pre are (steps, n); grad_v and grad_i hold the gradients of
 * the final state on entry and those of the initial state on exit, or are NULL (zero on
 * entry, not returned: the neurons then run in chunks of LOCAL_STATE with that gradient on
 * the stack); grad_x (steps, n) is written. */
MULTIVERSION static void KERNEL(backward)(const SCALAR *restrict grad_z, const SCALAR *restrict v_pre,
                             SCALAR *restrict grad_v, SCALAR *restrict grad_i,
                             SCALAR *restrict grad_x,
                             Py_ssize_t steps, Py_ssize_t n, Py_ssize_t lo, Py_ssize_t hi,
                             const KERNEL(params) *p)
{
    const SCALAR a = p->a, c = p->c, v_th = p->v_th, v_reset = p->v_reset, alpha = p->alpha;
    SCALAR gv_local[LOCAL_STATE], gi_local[LOCAL_STATE];
    const Py_ssize_t chunk = (grad_v && grad_i) ? BLOCK : LOCAL_STATE;
    for (Py_ssize_t start = lo; start < hi; start += chunk) {
        const Py_ssize_t width = (hi - start < chunk) ? hi - start : chunk;
        SCALAR *restrict gvb = KERNEL(state_gradient)(grad_v, start, gv_local, width);
        SCALAR *restrict gib = KERNEL(state_gradient)(grad_i, start, gi_local, width);
        for (Py_ssize_t t = steps - 1; t >= 0; t--) {
            const SCALAR *restrict gzt = grad_z + t * n + start;
            const SCALAR *restrict v1t = v_pre + t * n + start;
            SCALAR *restrict gxt = grad_x + t * n + start;
            for (Py_ssize_t k = 0; k < width; k++) {
                const SCALAR v1 = v1t[k];
                LIF_NEURON_BACKWARD(v1, gzt[k], gvb[k], gib[k], gxt[k]);
            }
        }
    }
}


/* The backward pass above without the pre-reset voltages kept from the forward pass: they
 * are recomputed here from the input x and the initial state, in tiles of `tile` neurons
 * (at most RECOMPUTE_TILE_MAX), each tile's T x tile voltages written into its own rows of
 * grad_x (in cache: a tile's rows are sized to stay in the core's L2) and read back by the
 * backward sweep, which overwrites them element for element with the gradient of x. The
 * forward equations are the forward kernel's, in the same order of operations: the
 * voltages, hence the gradients, are bit for bit those of forward + backward. v0 and i0
 * (n) are the initial state, read only; with p->from_rest they are not read (may be NULL)
 * and the state starts from rest. grad_v and grad_i may be NULL, as in the backward kernel
 * (the tile's gradient of the state then lives on the stack). The forward pass then
 * writes no (steps, n) buffer besides
 * the spikes, and backward reads x where it read v_pre: the same traffic, one allocation
 * and one pass over memory fewer per training step. */
MULTIVERSION static void KERNEL(backward_recompute)(
    const SCALAR *restrict grad_z, const SCALAR *restrict x, const SCALAR *restrict v0,
    const SCALAR *restrict i0, SCALAR *restrict grad_v, SCALAR *restrict grad_i,
    SCALAR *restrict grad_x, Py_ssize_t steps, Py_ssize_t n, Py_ssize_t lo, Py_ssize_t hi,
    Py_ssize_t tile, const KERNEL(params) *p)
{
    const SCALAR a = p->a, c = p->c, v_leak = p->v_leak, v_th = p->v_th, v_reset = p->v_reset,
                 alpha = p->alpha;
    SCALAR vs[RECOMPUTE_TILE_MAX], is[RECOMPUTE_TILE_MAX];
    SCALAR gvs[RECOMPUTE_TILE_MAX], gis[RECOMPUTE_TILE_MAX]; /* grad_v, grad_i NULL */
    if (tile > RECOMPUTE_TILE_MAX)
        tile = RECOMPUTE_TILE_MAX;
    for (Py_ssize_t start = lo; start < hi; start += tile) {
        const Py_ssize_t width = (hi - start < tile) ? hi - start : tile;
        if (p->from_rest)
            KERNEL(rest)(vs, is, width, v_leak);
        else
            for (Py_ssize_t k = 0; k < width; k++) {
                vs[k] = v0[start + k];
                is[k] = i0[start + k];
            }
        for (Py_ssize_t t = 0; t < steps; t++) { /* the forward kernel's loop, v1 kept */
            const SCALAR *restrict xt = x + t * n + start;
            SCALAR *restrict pt = grad_x + t * n + start;
            for (Py_ssize_t k = 0; k < width; k++) {
                const SCALAR i1 = is[k] + xt[k];
                SCALAR v1, spike;
                LIF_NEURON_UPDATE(vs[k], is[k], i1, v1, spike);
                pt[k] = v1;
            }
        }
        SCALAR *restrict gvb = KERNEL(state_gradient)(grad_v, start, gvs, width);
        SCALAR *restrict gib = KERNEL(state_gradient)(grad_i, start, gis, width);
        for (Py_ssize_t t = steps - 1; t >= 0; t--) { /* the backward kernel's loop */
            const SCALAR *restrict gzt = grad_z + t * n + start;
            SCALAR *gxt = grad_x + t * n + start; /* v1 in, gradient of x out */
            IVDEP
            for (Py_ssize_t k = 0; k < width; k++) {
                const SCALAR v1 = gxt[k];
                LIF_NEURON_BACKWARD(v1, gzt[k], gvb[k], gib[k], gxt[k]);
            }
        }
    }
}


/* Forward over `steps` time steps of neurons lo..hi-1 of n. x and y (the voltages) are
 * (steps, n), row-major. v and i hold the initial state on entry and the final state on
 * exit. Neurons are independent: threads may run disjoint ranges lo..hi at once. */
MULTIVERSION static void KERNEL(li_forward)(const SCALAR *restrict x, SCALAR *restrict v,
                                SCALAR *restrict i, SCALAR *restrict y,
                                Py_ssize_t steps, Py_ssize_t n, Py_ssize_t lo, Py_ssize_t hi,
                                const KERNEL(params) *p)
{
    const SCALAR a = p->a, c = p->c, v_leak = p->v_leak;
    for (Py_ssize_t start = lo; start < hi; start += BLOCK) {
        const Py_ssize_t width = (hi - start < BLOCK) ? hi - start : BLOCK;
        SCALAR *restrict vb = v + start, *restrict ib = i + start;
        if (p->from_rest)
            KERNEL(rest)(vb, ib, width, v_leak);
        for (Py_ssize_t t = 0; t < steps; t++) {
            const SCALAR *restrict xt = x + t * n + start;
            SCALAR *restrict yt = y + t * n + start;
            for (Py_ssize_t k = 0; k < width; k++) {
                const SCALAR i1 = ib[k] + xt[k];
                const SCALAR v1 = vb[k] + a * ((v_leak - vb[k]) + i1);
                ib[k] = i1 + c * i1;
                vb[k] = v1;
                yt[k] = v1;
            }
        }
    }
}

/* Backpropagation through time over the whole sequence, last step first, for neurons
 * lo..hi-1 of n. grad_y is (steps, n); grad_v and grad_i hold the gradients of the final
 * state on entry and those of the initial state on exit, or are NULL (as in the LIF
 * backward kernel); grad_x (steps, n) is written. */
MULTIVERSION static void KERNEL(li_backward)(const SCALAR *restrict grad_y,
                                 SCALAR *restrict grad_v, SCALAR *restrict grad_i,
                                 SCALAR *restrict grad_x,
                                 Py_ssize_t steps, Py_ssize_t n, Py_ssize_t lo, Py_ssize_t hi,
                                 const KERNEL(params) *p)
{
    const SCALAR a = p->a, c = p->c;
    SCALAR gv_local[LOCAL_STATE], gi_local[LOCAL_STATE];
    const Py_ssize_t chunk = (grad_v && grad_i) ? BLOCK : LOCAL_STATE;
    for (Py_ssize_t start = lo; start < hi; start += chunk) {
        const Py_ssize_t width = (hi - start < chunk) ? hi - start : chunk;
        SCALAR *restrict gvb = KERNEL(state_gradient)(grad_v, start, gv_local, width);
        SCALAR *restrict gib = KERNEL(state_gradient)(grad_i, start, gi_local, width);
        for (Py_ssize_t t = steps - 1; t >= 0; t--) {
            const SCALAR *restrict gyt = grad_y + t * n + start;
            SCALAR *restrict gxt = grad_x + t * n + start;
            for (Py_ssize_t k = 0; k < width; k++) {
                const SCALAR gv1 = gyt[k] + gvb[k];
                const SCALAR gi2 = gib[k];
                const SCALAR gi1 = gi2 + c * gi2 + a * gv1;
                gxt[k] = gi1;
                gib[k] = gi1;
                gvb[k] = gv1 - a * gv1;
            }
        }
    }
}
