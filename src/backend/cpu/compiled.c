/* CPU kernels of compile's primitives (src/transforms/compile.c): the placeholder a
 * function is traced with, which can never be computed, and the fused elementwise chain.
 *
 * A fused chain runs block by block: each input's block is read as float32 (broadcast, any
 * strides, any dtype: as the unfused ops read them), every step computes its block with the
 * same float32 loops as the unary / binary kernels and rounds it to its own dtype, and the
 * last step's block is converted into the output. Blocks are small so that all registers of
 * a block stay in L1/L2 between steps. */
#include <string.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "core/dtype.h"
#include "transforms/fused.h"

#define FUSED_BLOCK 512

int cpu_placeholder(const mx_kernel_ctx *c) {
    (void)c;
    return mx_set_error("[compile] a compiled function evaluated an array that depends on its inputs while it was "
                        "being traced; compiled functions must only build graphs (no mx_eval, mx_item or mx_data "
                        "of values computed from their inputs)");
}

int cpu_fused(const mx_kernel_ctx *c) {
    const mx_fused_params *p = c->params;
    mx_array *out = c->outputs[0];
    /* an input of the output's size and dtype (never broadcast, so each block reads only
     * the positions it writes) may give its buffer */
    mx_array *donor = NULL;
    for (int i = 0; i < c->n_inputs && !donor; i++) {
        mx_array *in = c->inputs[i];
        if (in->ndim == out->ndim && in->size == out->size && in->dtype == out->dtype && mx_is_donatable(in)) donor = in;
    }
    if (donor ? mx_out_alloc_donate(out, donor) < 0 : mx_out_alloc(out) != 0) return -1;
    int64_t n = out->size, nblocks = (n + FUSED_BLOCK - 1) / FUSED_BLOCK;
    char *o = mx_array_ptr(out);
    size_t os = mx_dtype_size(out->dtype);
    const int ni = p->n_inputs, ns = p->n_steps;
#pragma omp parallel for if (cpu_parallel_worth(n))
    for (int64_t k = 0; k < nblocks; k++) {
        _Alignas(64) float reg[MX_FUSED_MAX_INPUTS + MX_FUSED_MAX_STEPS][FUSED_BLOCK];
        int64_t s = k * FUSED_BLOCK, m = n - s < FUSED_BLOCK ? n - s : FUSED_BLOCK;
        for (int i = 0; i < ni; i++) cpu_load_broadcast(c->inputs[i], out->ndim, out->shape, s, m, MX_FLOAT32, reg[i]);
        for (int j = 0; j < ns; j++) {
            const mx_fused_step *st = &p->steps[j];
            float *r = reg[ni + j];
            if (st->kind == MX_FUSED_UNARY) cpu_unary_f32(st->op, st->decimals, reg[st->a], r, m);
            else if (st->kind == MX_FUSED_BINARY) cpu_binary_f32(st->op, reg[st->a], reg[st->b], r, m);
            else memcpy(r, reg[st->a], (size_t)m * sizeof(float));
            if (j < ns - 1) mx_round_to_dtype(r, (mx_dtype)st->dtype, m); /* the last: rounded by the store */
        }
        mx_convert(reg[ni + ns - 1], MX_FLOAT32, o + s * (int64_t)os, out->dtype, m);
    }
    return 0;
}
