/*
 * AdamW for fwtrain-local (docs/protocol.md §4.9), with the sparse rule of model.h:
 * a weight with an exactly-zero gradient keeps its moments and value. Most of
 * the model is the context table and a batch touches few of its rows, so the
 * step first finds the non-zero gradient rows and only walks those.
 */
#include "model.h"
#include "bigbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fwl_adam_init(fwl_adam *a, size_t n)
{
    memset(a, 0, sizeof(*a));
    if (n == 0)
        return -1;
    a->n = n; /* first: fwl_adam_free needs the size */
    a->m = fwl_big_alloc(n * sizeof(float));
    a->v = fwl_big_alloc(n * sizeof(float));
    if (!a->m || !a->v) {
        fwl_adam_free(a);
        return -1;
    }
    return 0;
}

void fwl_adam_reset(fwl_adam *a)
{
    if (!a)
        return;
    if (a->m)
        memset(a->m, 0, a->n * sizeof(float));
    if (a->v)
        memset(a->v, 0, a->n * sizeof(float));
    a->step = 0;
}

void fwl_adam_free(fwl_adam *a)
{
    if (!a)
        return;
    fwl_big_free(a->m, a->n * sizeof(float));
    fwl_big_free(a->v, a->n * sizeof(float));
    a->m = a->v = NULL;
    a->n = 0;
    a->step = 0;
}

fwl_adam_params fwl_adam_defaults(void)
{
    fwl_adam_params p = {1e-4, 0.9, 0.95, 1e-12, 0.0, 0.0};
    return p;
}

/* Any non-zero float in the row? -0.0 counts as zero, like g == 0 below. */
static int fwl__row_nonzero(const float *g, size_t n)
{
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &g[i], sizeof(b));
        acc |= b << 1; /* drop the sign bit */
    }
    return acc != 0;
}

/* Rows of the parameter buffer: each matrix row, and each bias vector as one row. */
typedef struct fwl__rows {
    size_t count;
    size_t start[FWL_TENSORS], len[FWL_TENSORS], nrows[FWL_TENSORS];
} fwl__rows;

static void fwl__rows_of(int dim, fwl__rows *r)
{
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(dim, t);
    r->count = 0;
    for (int i = 0; i < FWL_TENSORS; i++) {
        r->start[i] = t[i].offset;
        r->len[i] = t[i].cols ? t[i].cols : t[i].rows;
        r->nrows[i] = t[i].cols ? t[i].rows : 1;
        r->count += r->nrows[i];
    }
}

double fwl_adam_step(fwl_model *m, fwl_adam *a, float *grad, const fwl_adam_params *p)
{
    if (!m || !m->w || !a || !a->m || !a->v || !grad || !p || a->n != m->n_params)
        return NAN;
    fwl__rows r;
    fwl__rows_of(m->dim, &r);
    uint8_t *hot = malloc(r.count);
    if (!hot)
        return NAN;

    /* Pass 1: which rows carry gradient, and the L2 norm (zero rows add exactly nothing). */
    double sumsq = 0.0;
    size_t ri = 0;
    for (int t = 0; t < FWL_TENSORS; t++) {
        for (size_t row = 0; row < r.nrows[t]; row++, ri++) {
            const float *g = grad + r.start[t] + row * r.len[t];
            hot[ri] = (uint8_t)fwl__row_nonzero(g, r.len[t]);
            if (!hot[ri])
                continue;
            for (size_t k = 0; k < r.len[t]; k++)
                sumsq += (double)g[k] * (double)g[k];
        }
    }
    double norm = sqrt(sumsq);
    int apply = isfinite(norm);
    double scale = (p->grad_clip_norm > 0.0 && norm > p->grad_clip_norm) ? p->grad_clip_norm / norm : 1.0;
    double decay = 1.0 - p->lr * p->weight_decay;
    double b1 = p->beta1, b2 = p->beta2;
    double bc1 = 1.0, bc2 = 1.0;
    if (apply) {
        a->step++;
        bc1 = 1.0 - pow(b1, (double)a->step);
        bc2 = 1.0 - pow(b2, (double)a->step);
    }

    /* Pass 2: decay (every weight), Adam on non-zero gradients, clear the gradient. */
    ri = 0;
    for (int t = 0; t < FWL_TENSORS; t++) {
        for (size_t row = 0; row < r.nrows[t]; row++, ri++) {
            size_t off = r.start[t] + row * r.len[t], n = r.len[t];
            float *w = m->w + off, *mm = a->m + off, *vv = a->v + off, *g = grad + off;
            if (apply && p->weight_decay != 0.0)
                for (size_t k = 0; k < n; k++)
                    w[k] = (float)((double)w[k] * decay);
            if (!hot[ri])
                continue;
            if (apply) {
                for (size_t k = 0; k < n; k++) {
                    double gk = (double)g[k] * scale;
                    if (gk == 0.0)
                        continue;
                    double mk = b1 * (double)mm[k] + (1.0 - b1) * gk;
                    double vk = b2 * (double)vv[k] + (1.0 - b2) * gk * gk;
                    mm[k] = (float)mk;
                    vv[k] = (float)vk;
                    w[k] = (float)((double)w[k] - p->lr * (mk / bc1) / (sqrt(vk / bc2) + p->eps));
                }
            }
            memset(g, 0, n * sizeof(float));
        }
    }
    free(hot);
    return norm;
}
