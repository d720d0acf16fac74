/* Recurrent LIF kernels for one scalar type: included by _lif_recurrent.c once per type.
 *
 * Before including, define SCALAR (float or double) and KERNEL(name) (a name suffix).
 * The equations are the reference's (snnlearn/functional/lif_recurrent.py), in the same
 * order of operations (compiled with -ffp-contract=off: no fused multiply-add). The input
 * projection, including the first step's recurrent input from the initial spikes z0, is
 * computed by PyTorch beforehand: xp[t] = x[t] @ input_weights.T (+ z0 @ recurrent_weights.T
 * at t = 0). Per batch row and step:
 *
 *   i1 = (i + xp) + sum_{j: z_prev[j] = 1} recurrent_weights[:, j]   (t >= 1)
 *   v1 = v + a * ((v_leak - v) + i1)      a = dt * tau_mem_inv
 *   i2 = i1 + c * i1                      c = -dt * tau_syn_inv
 *   z  = H(v1 - v_th)                     H(u) = 1 if u > 0 else 0 (NaN does not spike, as in Norse)
 *   v2 = (1 - z) * v1 + z * v_reset       (z detached: the reset carries no gradient)
 *
 * The recurrent sum adds one contiguous row of w_rec_t = recurrent_weights.T per spike of
 * the previous step: its cost follows the spikes, not hidden^2.
 *
 * Backward (SuperSpike surrogate), last step first, gz the gradient of the step's spikes:
 *   gz  = grad_z[t] + (recurrent_weights.T @ gi1[t+1])   (second term: 0 at the last step)
 *   gv1 = gv2 * (1 - z) + gz / (alpha * |v1 - v_th| + 1)^2
 *   gi1 = gi2 + c * gi2 + a * gv1          (written out: the gradient of xp[t])
 *   gv  = gv1 - a * gv1,   gi = gi1
 * The product recurrent_weights.T @ gi1 is dense (hidden^2 per row and step).
 */

#include "_common.h" /* KERNEL(params), KERNEL(make_params) for this SCALAR */

#if HAVE_VECTORS
/* GCC/clang vector extension: 64 bytes (16 floats or 8 doubles), in registers; loads and
 * stores need only the scalar's alignment. */
typedef SCALAR KERNEL(vec) __attribute__((vector_size(64), aligned(sizeof(SCALAR)), may_alias));
#endif

/* acc[k] = sum over the listed spikes s of w[spikes[s]][k] (w row-major, h columns), summed
 * in spike order from 0. Blocks of 4 vectors stay in registers while the spike rows are
 * added, so memory traffic is one load per element per spike. */
MULTIVERSION static void KERNEL(recurrent_sum)(SCALAR *restrict acc, const SCALAR *restrict w,
                                         const Py_ssize_t *restrict spikes, Py_ssize_t count,
                                         Py_ssize_t h)
{
    Py_ssize_t k0 = 0;
#if HAVE_VECTORS
    typedef KERNEL(vec) V;
    const Py_ssize_t L = (Py_ssize_t)(sizeof(V) / sizeof(SCALAR));
    for (; k0 + 4 * L <= h; k0 += 4 * L) {
        V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (Py_ssize_t s = 0; s < count; s++) {
            const SCALAR *ws = w + spikes[s] * h + k0;
            a0 += *(const V *)ws;
            a1 += *(const V *)(ws + L);
            a2 += *(const V *)(ws + 2 * L);
            a3 += *(const V *)(ws + 3 * L);
        }
        *(V *)(acc + k0) = a0;
        *(V *)(acc + k0 + L) = a1;
        *(V *)(acc + k0 + 2 * L) = a2;
        *(V *)(acc + k0 + 3 * L) = a3;
    }
    for (; k0 + L <= h; k0 += L) {
        V a0 = {0};
        for (Py_ssize_t s = 0; s < count; s++)
            a0 += *(const V *)(w + spikes[s] * h + k0);
        *(V *)(acc + k0) = a0;
    }
#endif
    for (Py_ssize_t k = k0; k < h; k++) {
        SCALAR x = 0;
        for (Py_ssize_t s = 0; s < count; s++)
            x += w[spikes[s] * h + k];
        acc[k] = x;
    }
}

/* Forward over all steps for batch rows lo..hi-1 of `batch`. xp, z, v_pre: (steps, batch, h);
 * w_rec_t: (h, h) = recurrent_weights.T; v, i: (batch, h), initial on entry, final on exit.
 * Scratch: acc (h scalars), spikes (h indices). The inner loops are kept free of branches
 * and calls so that gcc vectorizes them (all but the last, which lists the spikes).
 *
 * z or v_pre may be xp itself (the caller's projection, no longer needed): so that a call
 * needs one buffer of the output's size less. They are therefore not `restrict`; element k
 * of a row of xp is read before element k of the same row of z is written, and a row of
 * v_pre is written (memcpy) after its row of xp was read, so the k loop carries no
 * dependence from one element to the next and may be vectorized (IVDEP). */
MULTIVERSION static void KERNEL(forward)(const SCALAR *xp, const SCALAR *restrict w_rec_t,
                                         SCALAR *restrict v, SCALAR *restrict i,
                                         SCALAR *z, SCALAR *v_pre,
                                         Py_ssize_t steps, Py_ssize_t batch, Py_ssize_t h,
                                         Py_ssize_t lo, Py_ssize_t hi, const KERNEL(params) *p,
                                         SCALAR *restrict acc, Py_ssize_t *restrict spikes)
{
    const SCALAR a = p->a, c = p->c, v_leak = p->v_leak, v_th = p->v_th, v_reset = p->v_reset;
    for (Py_ssize_t b = lo; b < hi; b++) {
        SCALAR *restrict vb = v + b * h;
        SCALAR *restrict ib = i + b * h;
        Py_ssize_t count = 0; /* spikes of the previous step (none before the first) */
        for (Py_ssize_t t = 0; t < steps; t++) {
            const Py_ssize_t row = (t * batch + b) * h;
            const SCALAR *xt = xp + row;
            SCALAR *zt = z + row;
            /* the recurrent input: one row of w_rec_t per spike of the previous step */
            KERNEL(recurrent_sum)(acc, w_rec_t, spikes, count, h);
            IVDEP
            for (Py_ssize_t k = 0; k < h; k++) {
                const SCALAR i1 = (ib[k] + xt[k]) + acc[k];
                SCALAR v1, spike;
                LIF_NEURON_UPDATE(vb[k], ib[k], i1, v1, spike);
                zt[k] = spike;
                acc[k] = v1; /* acc is free again: it keeps v1 for v_pre */
            }
            if (v_pre)
                memcpy(v_pre + row, acc, (size_t)h * sizeof(SCALAR));
            count = 0;
            for (Py_ssize_t k = 0; k < h; k++) {
                spikes[count] = k;
                count += zt[k] != 0;
            }
        }
    }
}

/* out[r][j] = sum_k g[r][k] * w[k][j] for 4 rows r at once, summed in k order from 0:
 * blocks of 4 rows x 4 vectors of j stay in registers while k runs, so each row of w is
 * loaded once for the four. A k where all four g[r][k] are 0 is skipped. */
MULTIVERSION static void KERNEL(dense4)(const SCALAR *restrict g0, const SCALAR *restrict g1,
                                  const SCALAR *restrict g2, const SCALAR *restrict g3,
                                  const SCALAR *restrict w, Py_ssize_t h,
                                  SCALAR *restrict o0, SCALAR *restrict o1,
                                  SCALAR *restrict o2, SCALAR *restrict o3)
{
    Py_ssize_t j0 = 0;
#if HAVE_VECTORS
    typedef KERNEL(vec) V;
    const Py_ssize_t L = (Py_ssize_t)(sizeof(V) / sizeof(SCALAR));
    for (; j0 + 4 * L <= h; j0 += 4 * L) {
        V r00 = {0}, r01 = {0}, r02 = {0}, r03 = {0}, r10 = {0}, r11 = {0}, r12 = {0}, r13 = {0};
        V r20 = {0}, r21 = {0}, r22 = {0}, r23 = {0}, r30 = {0}, r31 = {0}, r32 = {0}, r33 = {0};
        for (Py_ssize_t k = 0; k < h; k++) {
            const SCALAR c0 = g0[k], c1 = g1[k], c2 = g2[k], c3 = g3[k];
            if (c0 == 0 && c1 == 0 && c2 == 0 && c3 == 0)
                continue;
            const SCALAR *wk = w + k * h + j0;
            const V w0 = *(const V *)wk, w1 = *(const V *)(wk + L);
            const V w2 = *(const V *)(wk + 2 * L), w3 = *(const V *)(wk + 3 * L);
            r00 += c0 * w0; r01 += c0 * w1; r02 += c0 * w2; r03 += c0 * w3;
            r10 += c1 * w0; r11 += c1 * w1; r12 += c1 * w2; r13 += c1 * w3;
            r20 += c2 * w0; r21 += c2 * w1; r22 += c2 * w2; r23 += c2 * w3;
            r30 += c3 * w0; r31 += c3 * w1; r32 += c3 * w2; r33 += c3 * w3;
        }
        *(V *)(o0 + j0) = r00; *(V *)(o0 + j0 + L) = r01;
        *(V *)(o0 + j0 + 2 * L) = r02; *(V *)(o0 + j0 + 3 * L) = r03;
        *(V *)(o1 + j0) = r10; *(V *)(o1 + j0 + L) = r11;
        *(V *)(o1 + j0 + 2 * L) = r12; *(V *)(o1 + j0 + 3 * L) = r13;
        *(V *)(o2 + j0) = r20; *(V *)(o2 + j0 + L) = r21;
        *(V *)(o2 + j0 + 2 * L) = r22; *(V *)(o2 + j0 + 3 * L) = r23;
        *(V *)(o3 + j0) = r30; *(V *)(o3 + j0 + L) = r31;
        *(V *)(o3 + j0 + 2 * L) = r32; *(V *)(o3 + j0 + 3 * L) = r33;
    }
#endif
    for (Py_ssize_t j = j0; j < h; j++)
        o0[j] = o1[j] = o2[j] = o3[j] = 0;
    for (Py_ssize_t k = 0; k < h; k++) {
        const SCALAR c0 = g0[k], c1 = g1[k], c2 = g2[k], c3 = g3[k];
        if (c0 == 0 && c1 == 0 && c2 == 0 && c3 == 0)
            continue;
        const SCALAR *restrict wk = w + k * h;
        for (Py_ssize_t j = j0; j < h; j++) {
            const SCALAR wkj = wk[j];
            o0[j] += c0 * wkj;
            o1[j] += c1 * wkj;
            o2[j] += c2 * wkj;
            o3[j] += c3 * wkj;
        }
    }
}

/* One row: out[j] = sum_k g[k] * w[k][j], summed in k order from 0. */
MULTIVERSION static void KERNEL(dense1)(const SCALAR *restrict g0, const SCALAR *restrict w,
                                  Py_ssize_t h, SCALAR *restrict o0)
{
    for (Py_ssize_t j = 0; j < h; j++)
        o0[j] = 0;
    for (Py_ssize_t k = 0; k < h; k++) {
        const SCALAR c0 = g0[k];
        if (c0 == 0)
            continue;
        const SCALAR *restrict wk = w + k * h;
        for (Py_ssize_t j = 0; j < h; j++)
            o0[j] += c0 * wk[j];
    }
}

/* BPTT over all steps for batch rows lo..hi-1. grad_z, v_pre, grad_i1: (steps, batch, h);
 * w_rec: (h, h) = recurrent_weights (row-major); grad_v, grad_i: (batch, h), gradients of
 * the final state on entry and of the initial state on exit. Scratch: carry ((hi-lo) * h),
 * the gradient that step t's spikes receive through the recurrence of step t+1. */
MULTIVERSION static void KERNEL(backward)(const SCALAR *restrict grad_z,
                                          const SCALAR *restrict v_pre,
                                          const SCALAR *restrict w_rec,
                                          SCALAR *restrict grad_v, SCALAR *restrict grad_i,
                                          SCALAR *restrict grad_i1,
                                          Py_ssize_t steps, Py_ssize_t batch, Py_ssize_t h,
                                          Py_ssize_t lo, Py_ssize_t hi, const KERNEL(params) *p,
                                          SCALAR *restrict carry)
{
    const SCALAR a = p->a, c = p->c, v_th = p->v_th, v_reset = p->v_reset, alpha = p->alpha;
    (void)v_reset; /* the reset is detached: it carries no gradient */
    for (Py_ssize_t t = steps - 1; t >= 0; t--) {
        for (Py_ssize_t b = lo; b < hi; b++) {
            const Py_ssize_t row = (t * batch + b) * h;
            const SCALAR *restrict gzt = grad_z + row;
            const SCALAR *restrict v1t = v_pre + row;
            const SCALAR *restrict cb = carry + (b - lo) * h;
            SCALAR *restrict git = grad_i1 + row;
            SCALAR *restrict gvb = grad_v + b * h;
            SCALAR *restrict gib = grad_i + b * h;
            const int recurrent = t < steps - 1;
            for (Py_ssize_t k = 0; k < h; k++) {
                const SCALAR v1 = v1t[k];
                const SCALAR u = v1 - v_th;
                const SCALAR spike = (u > 0) ? (SCALAR)1 : (SCALAR)0;
                const SCALAR gz = recurrent ? gzt[k] + cb[k] : gzt[k];
                const SCALAR gv2 = gvb[k], gi2 = gib[k];
                const SCALAR denom = alpha * (u < 0 ? -u : u) + (SCALAR)1;
                const SCALAR gv1 = gv2 * ((SCALAR)1 - spike) + gz / (denom * denom);
                const SCALAR gi1 = gi2 + c * gi2 + a * gv1;
                git[k] = gi1;
                gib[k] = gi1;
                gvb[k] = gv1 - a * gv1;
            }
        }
        if (t == 0)
            break;
        /* carry = gi1[t] @ recurrent_weights: what step t-1's spikes receive */
        const SCALAR *gt = grad_i1 + (t * batch) * h;
        Py_ssize_t b = lo;
        for (; b + 4 <= hi; b += 4) {
            SCALAR *o = carry + (b - lo) * h;
            KERNEL(dense4)(gt + b * h, gt + (b + 1) * h, gt + (b + 2) * h, gt + (b + 3) * h,
                           w_rec, h, o, o + h, o + 2 * h, o + 3 * h);
        }
        for (; b < hi; b++)
            KERNEL(dense1)(gt + b * h, w_rec, h, carry + (b - lo) * h);
    }
}
