/*
 * fwtrain-local's byte-level model (see model.h): init, forward/backward,
 * prompt logprobs and generation. Single-threaded with a fixed summation order
 * so a trainer and a deployment holding the same bytes agree bit for bit.
 */
#include "model.h"
#include "bigbuf.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: tiny, seedable, and identical on every platform. */
static uint64_t fwl__splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 bits, exact in float. */
static float fwl__unit(uint64_t *s)
{
    return (float)(fwl__splitmix(s) >> 40) * (1.0f / 16777216.0f);
}

void fwl_model_tensors(int dim, fwl_tensor out[FWL_TENSORS])
{
    size_t d = dim > 0 ? (size_t)dim : 0, off = 0;
    static const char *const names[FWL_TENSORS] = {"embed.weight", "context.weight", "hidden.weight",
                                                   "hidden.bias",  "lm_head.weight", "lm_head.bias"};
    const size_t rows[FWL_TENSORS] = {FWL_VOCAB, FWL_CONTEXTS, d, d, FWL_VOCAB, FWL_VOCAB};
    const size_t cols[FWL_TENSORS] = {d, d, d, 0, d, 0};
    for (int i = 0; i < FWL_TENSORS; i++) {
        out[i].name = names[i];
        out[i].offset = off;
        out[i].rows = rows[i];
        out[i].cols = cols[i];
        off += rows[i] * (cols[i] ? cols[i] : 1);
    }
}

size_t fwl_model_param_count(int dim)
{
    if (dim < 1 || dim > FWL_MAX_DIM)
        return 0;
    size_t d = (size_t)dim;
    return (size_t)FWL_VOCAB * d + (size_t)FWL_CONTEXTS * d + d * d + d + (size_t)FWL_VOCAB * d + FWL_VOCAB;
}

int fwl_model_alloc(fwl_model *m, int dim)
{
    memset(m, 0, sizeof(*m));
    size_t n = fwl_model_param_count(dim);
    if (n == 0)
        return -1;
    m->w = fwl_big_alloc(n * sizeof(float)); /* huge pages: see bigbuf.h */
    if (!m->w)
        return -1;
    m->dim = dim;
    m->n_params = n;
    return 0;
}

int fwl_model_fit(fwl_model *m, int dim)
{
    if (m->w && m->dim == dim)
        return 0; /* the recycled buffer: a load overwrites all of it */
    fwl_model_free(m);
    return fwl_model_alloc(m, dim);
}

int fwl_model_init(fwl_model *m, int dim, uint64_t seed)
{
    if (fwl_model_alloc(m, dim) != 0)
        return -1;
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(dim, t);
    float scale = 1.0f / sqrtf((float)dim);
    uint64_t s = seed;
    for (int i = 0; i < FWL_TENSORS; i++) {
        if (t[i].cols == 0)
            continue; /* biases stay zero */
        float *p = m->w + t[i].offset;
        size_t cnt = t[i].rows * t[i].cols;
        for (size_t k = 0; k < cnt; k++)
            p[k] = (2.0f * fwl__unit(&s) - 1.0f) * scale;
    }
    return 0;
}

int fwl_model_copy(fwl_model *dst, const fwl_model *src)
{
    if (fwl_model_alloc(dst, src->dim) != 0)
        return -1;
    memcpy(dst->w, src->w, src->n_params * sizeof(float));
    return 0;
}

void fwl_model_free(fwl_model *m)
{
    if (!m)
        return;
    fwl_big_free(m->w, m->n_params * sizeof(float));
    m->w = NULL;
    m->n_params = 0;
    m->dim = 0;
}

/* ---- forward / backward -------------------------------------------------- */

typedef struct fwl__view {
    size_t d;
    const float *E, *C, *W1, *b1, *W2, *b2;
} fwl__view;

static fwl__view fwl__view_of(const fwl_model *m)
{
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(m->dim, t);
    fwl__view v = {(size_t)m->dim,      m->w + t[0].offset, m->w + t[1].offset, m->w + t[2].offset,
                   m->w + t[3].offset, m->w + t[4].offset, m->w + t[5].offset};
    return v;
}

/* Four float lanes (SSE on x86-64, NEON on arm64); a GCC/Clang extension both compilers accept. */
typedef float fwl__v4f __attribute__((vector_size(16)));

/* Dot product with eight partial sums (lane k of acc0/acc1 sums the elements i = k, k+8, ...), combined
 * in a fixed order: vector speed, and still the same bits on every run and in every caller. */
static float fwl__dot(const float *a, const float *b, size_t n)
{
    fwl__v4f acc0 = {0.0f, 0.0f, 0.0f, 0.0f}, acc1 = acc0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        fwl__v4f x0, x1, y0, y1;
        memcpy(&x0, a + i, sizeof(x0));
        memcpy(&x1, a + i + 4, sizeof(x1));
        memcpy(&y0, b + i, sizeof(y0));
        memcpy(&y1, b + i + 4, sizeof(y1));
        acc0 += x0 * y0;
        acc1 += x1 * y1;
    }
    float tail = 0.0f;
    for (; i < n; i++)
        tail += a[i] * b[i];
    fwl__v4f s = acc0 + acc1;
    return ((s[0] + s[1]) + (s[2] + s[3])) + tail;
}

/* y += a * x */
static void fwl__axpy(float *restrict y, float a, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* Scratch for one position; h and logits survive into the backward pass. */
typedef struct fwl__scratch {
    float *e, *h, *logits, *dl, *dh, *de;
} fwl__scratch;

static int fwl__scratch_alloc(fwl__scratch *s, size_t d)
{
    float *buf = malloc((4 * d + 2 * FWL_VOCAB) * sizeof(float));
    if (!buf)
        return -1;
    s->e = buf;
    s->h = buf + d;
    s->dh = buf + 2 * d;
    s->de = buf + 3 * d;
    s->logits = buf + 4 * d;
    s->dl = buf + 4 * d + FWL_VOCAB;
    return 0;
}

static size_t fwl__ctx(int64_t prev, int64_t cur)
{
    return (size_t)prev * FWL_VOCAB + (size_t)cur;
}

/* Fills s->e, s->h, s->logits for (prev, cur) and returns log-sum-exp of the logits.
 * The only forward path: training, prompt logprobs and generation all go through it. */
static float fwl__forward_one(const fwl__view *v, int64_t prev, int64_t cur, fwl__scratch *s)
{
    size_t d = v->d;
    const float *er = v->E + (size_t)cur * d, *cr = v->C + fwl__ctx(prev, cur) * d;
    for (size_t k = 0; k < d; k++)
        s->e[k] = er[k] + cr[k];
    for (size_t j = 0; j < d; j++)
        s->h[j] = tanhf(v->b1[j] + fwl__dot(v->W1 + j * d, s->e, d));
    float mx = -INFINITY;
    for (size_t o = 0; o < FWL_VOCAB; o++) {
        float l = v->b2[o] + fwl__dot(v->W2 + o * d, s->h, d);
        s->logits[o] = l;
        if (l > mx)
            mx = l;
    }
    float sum = 0.0f;
    for (size_t o = 0; o < FWL_VOCAB; o++)
        sum += expf(s->logits[o] - mx);
    return mx + logf(sum);
}

static int fwl__tok_ok(int64_t t)
{
    return t >= 0 && t < FWL_VOCAB;
}

double fwl_model_forward_loss(const fwl_model *m, const int64_t *tokens, const int64_t *targets, size_t n,
                              fwl_token_loss_fn loss_fn, void *ud, float *logprobs_out, float *grad)
{
    if (!m || !m->w || !loss_fn || (n > 0 && (!tokens || !targets)))
        return NAN;
    for (size_t i = 0; i < n; i++)
        if (!fwl__tok_ok(tokens[i]) || !fwl__tok_ok(targets[i]))
            return NAN;
    if (n == 0)
        return 0.0;
    fwl__view v = fwl__view_of(m);
    size_t d = v.d;
    fwl__scratch s;
    if (fwl__scratch_alloc(&s, d) != 0)
        return NAN;
    float *gE = NULL, *gC = NULL, *gW1 = NULL, *gb1 = NULL, *gW2 = NULL, *gb2 = NULL;
    if (grad) {
        fwl_tensor t[FWL_TENSORS];
        fwl_model_tensors(m->dim, t);
        gE = grad + t[0].offset;
        gC = grad + t[1].offset;
        gW1 = grad + t[2].offset;
        gb1 = grad + t[3].offset;
        gW2 = grad + t[4].offset;
        gb2 = grad + t[5].offset;
    }
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        int64_t prev = i ? tokens[i - 1] : 0, cur = tokens[i], tgt = targets[i];
        float lse = fwl__forward_one(&v, prev, cur, &s);
        float lp = s.logits[tgt] - lse;
        if (logprobs_out)
            logprobs_out[i] = lp;
        double dlp = 0.0;
        loss += loss_fn(ud, i, (double)lp, &dlp);
        /* g = -d loss / d lp; d lp / d logits = onehot - softmax, so d loss / d logits = g * (softmax - onehot) */
        /* a double beyond float's range saturates to +-inf explicitly (a plain cast would be undefined) */
        float g = fabs(dlp) <= FLT_MAX ? (float)-dlp : dlp > 0 ? -INFINITY : dlp < 0 ? INFINITY : NAN;
        if (!grad || g == 0.0f)
            continue; /* no gradient (zero weight or advantage, clipped token): untouched rows stay untouched */

        for (size_t o = 0; o < FWL_VOCAB; o++)
            s.dl[o] = g * expf(s.logits[o] - lse);
        s.dl[tgt] -= g;

        memset(s.dh, 0, d * sizeof(float));
        for (size_t o = 0; o < FWL_VOCAB; o++) {
            float go = s.dl[o];
            gb2[o] += go;
            fwl__axpy(gW2 + o * d, go, s.h, d);
            fwl__axpy(s.dh, go, v.W2 + o * d, d);
        }
        for (size_t j = 0; j < d; j++)
            s.dh[j] *= 1.0f - s.h[j] * s.h[j]; /* now dz */
        memset(s.de, 0, d * sizeof(float));
        for (size_t j = 0; j < d; j++) {
            float gj = s.dh[j];
            gb1[j] += gj;
            fwl__axpy(gW1 + j * d, gj, s.e, d);
            fwl__axpy(s.de, gj, v.W1 + j * d, d);
        }
        float *ge = gE + (size_t)cur * d, *gc = gC + fwl__ctx(prev, cur) * d;
        for (size_t k = 0; k < d; k++) {
            ge[k] += s.de[k];
            gc[k] += s.de[k];
        }
    }
    free(s.e);
    return loss;
}

/* cross-entropy with optional weights: w * -lp, d/dlp = -w (the arithmetic fwl_model_forward always had) */
static double fwl__ce_token(void *ud, size_t i, double lp, double *dlp)
{
    const float *weights = ud;
    float wi = weights ? weights[i] : 1.0f;
    *dlp = -(double)wi;
    return (double)wi * -lp;
}

double fwl_model_forward(const fwl_model *m, const int64_t *tokens, const int64_t *targets, const float *weights,
                         size_t n, float *logprobs_out, float *grad)
{
    return fwl_model_forward_loss(m, tokens, targets, n, fwl__ce_token, (void *)weights, logprobs_out, grad);
}

size_t fwl_model_scratch_len(int dim)
{
    return dim > 0 ? 4 * (size_t)dim + 2 * FWL_VOCAB : 0;
}

const float *fwl_model_next_logits(const fwl_model *m, int64_t prev, int64_t cur, float *scratch, float *lse)
{
    if (!m || !m->w || !scratch || !fwl__tok_ok(prev) || !fwl__tok_ok(cur))
        return NULL;
    size_t d = (size_t)m->dim;
    /* the layout fwl__scratch_alloc gives its buffer */
    fwl__scratch s = {scratch, scratch + d, scratch + 4 * d, scratch + 4 * d + FWL_VOCAB, scratch + 2 * d,
                      scratch + 3 * d};
    fwl__view v = fwl__view_of(m);
    *lse = fwl__forward_one(&v, prev, cur, &s);
    return s.logits;
}

void fwl_model_prompt_logprobs(const fwl_model *m, const int64_t *prompt, size_t n, float *out)
{
    if (n == 0 || !out)
        return;
    out[0] = 0.0f;
    int ok = m && m->w && prompt;
    for (size_t i = 0; ok && i < n; i++)
        ok = fwl__tok_ok(prompt[i]);
    fwl__scratch s;
    if (!ok || fwl__scratch_alloc(&s, (size_t)m->dim) != 0) {
        for (size_t i = 1; i < n; i++)
            out[i] = NAN;
        return;
    }
    fwl__view v = fwl__view_of(m);
    for (size_t i = 1; i < n; i++) {
        int64_t prev = i >= 2 ? prompt[i - 2] : 0;
        float lse = fwl__forward_one(&v, prev, prompt[i - 1], &s);
        out[i] = s.logits[prompt[i]] - lse;
    }
    free(s.e);
}
