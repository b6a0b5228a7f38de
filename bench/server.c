/*
 * fwtrain-local model benchmark: how small are sampler deltas, and how fast
 * are the byte operations behind them. Prints one JSON object.
 *
 *   bench/server              embedded English corpus (tests/model/corpus.h)
 *   FWL_BENCH_CORPUS=FILE     train on FILE instead (any text, >= 1 KiB)
 *   FWL_BENCH_DIM=N           model dim (default 256: ~65 MiB of weights)
 *   FWL_BENCH_ONLY=ckpt|rps   only that part (no model training)
 *
 * "ckpt" (server_io.c): save / hotload per dim 64..512 against a memcpy of the same weights.
 *   FWL_BENCH_CKPT_DIMS="256" limits it to the dims named.
 * "rps" (server_rps.c, built when tests/support/local_server.h exists): retrieve_future at 1 / 16 / 256
 * connections, fwtrain-local vs a minimal epoll responder built in the bench, A/B interleaved; with each
 * server's CPU time per request (fwtrain-local's whole process, the responder's thread), steadier than
 * requests/s on a loaded machine.
 *   FWL_BENCH_RPS_ROUNDS=N    slices per server and point (default 3)
 *   FWL_BENCH_RPS_CONNS=C     that connection count only
 *   FWL_BENCH_HTTP_THREADS=N  fwtrain-local's --http-threads (default: its own default)
 *
 * Deltas: snapshots (safetensors) after warmup (S0) and after 90, 99, 100
 * further Adam steps (lr 1e-4, 8 x 128-byte sequences a step);
 * delta_ratio_K = safetensors size / delta file size against the snapshot K steps older.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "../tests/model/corpus.h"
#include "model.h"
#include "server_bench.h"
#include "bench_stats.h"


#define SEQ 128
#define BATCH 8
#define WARMUP 5
#define STEPS 100
#ifndef FWL_DELTA_LEVEL /* (a tree from before the level was named: its level then) */
#define FWL_DELTA_LEVEL 3
#endif
#define LEVEL FWL_DELTA_LEVEL

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

static void die(const char *what)
{
    fprintf(stderr, "bench/server: %s\n", what);
    exit(1);
}

typedef struct trainer {
    fwl_model m;
    fwl_adam a;
    float *g;
    fwl_adam_params p;
    const char *text;
    size_t len;
    uint64_t rng;
    int step;
    int *last; /* per context row: the last step that touched it (0 = not since the base snapshot) */
} trainer;

static void train_step(trainer *t)
{
    int64_t tok[SEQ], tgt[SEQ];
    for (int b = 0; b < BATCH; b++) {
        t->rng = t->rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t start = (size_t)((t->rng >> 33) % (t->len - SEQ - 1));
        for (size_t i = 0; i < SEQ; i++) {
            tok[i] = (unsigned char)t->text[start + i];
            tgt[i] = (unsigned char)t->text[start + i + 1];
            t->last[(i ? tok[i - 1] : 0) * 256 + tok[i]] = t->step;
        }
        if (!(fwl_model_forward(&t->m, tok, tgt, NULL, SEQ, NULL, t->g) >= 0.0))
            die("forward failed");
    }
    if (!(fwl_adam_step(&t->m, &t->a, t->g, &t->p) >= 0.0))
        die("non-finite gradient");
}

static uint8_t *snapshot(const fwl_model *m, size_t *len)
{
    uint8_t *b = NULL;
    if (fwl_safetensors_encode(m, &b, len) != 0)
        die("safetensors encode failed");
    return b;
}

static size_t delta_size(const uint8_t *prev, const uint8_t *cur, size_t len, double *secs, double *apply_secs)
{
    uint8_t *d = NULL;
    size_t dlen = 0;
    double t0 = now();
    if (fwl_delta_encode(prev, cur, len, LEVEL, &d, &dlen) != 0)
        die("delta encode failed");
    if (secs)
        *secs = now() - t0;
    /* The delta must apply: a benchmark of broken deltas would be meaningless. */
    uint8_t *back = NULL;
    char err[128];
    t0 = now();
    int rc = fwl_delta_apply(prev, len, d, dlen, &back, err, sizeof(err));
    if (apply_secs)
        *apply_secs = now() - t0;
    if (rc != 0 || memcmp(back, cur, len) != 0)
        die("delta does not reproduce the snapshot");
    free(back);
    free(d);
    return dlen;
}

/* Context rows touched by steps after `after`. */
static size_t touched_since(const trainer *t, int after)
{
    size_t n = 0;
    for (size_t i = 0; i < FWL_CONTEXTS; i++)
        n += t->last[i] > after;
    return n;
}

/* Runs one part into a memory stream: its text on success, `,"<name>":null` on failure (the JSON stays whole). */
static void part(const char *name, int (*fn)(FILE *), char **text)
{
    size_t len = 0;
    FILE *m = open_memstream(text, &len);
    int rc = m ? fn(m) : -1;
    if (m)
        fclose(m);
    if (rc != 0 || !m) {
        free(*text);
        *text = NULL;
        if (asprintf(text, ",\"%s\":null", name) < 0)
            *text = NULL;
    }
}

double bench_now(void)
{
    return now();
}

/* FWL_BENCH_ONLY=ckpt or rps: that part alone (no model training), with the load before and after. */
static int only(const char *which)
{
    double t0 = now(), l0 = bench_loadavg();
    char *text = NULL;
    if (!strcmp(which, "ckpt"))
        part("ckpt", bench_ckpt, &text);
#ifdef FWL_BENCH_RPS
    else if (!strcmp(which, "rps"))
        part("rps", bench_rps, &text);
#endif
    else
        die("FWL_BENCH_ONLY must be ckpt or rps");
    printf("{\"only\":\"%s\"%s,\"loadavg_1m_before\":%.2f,\"loadavg_1m_after\":%.2f,\"total_s\":%.1f}\n", which,
           text ? text : "", l0, bench_loadavg(), now() - t0);
    free(text);
    return 0;
}

int main(void)
{
    double t_start = now();
    if (getenv("FWL_BENCH_ONLY"))
        return only(getenv("FWL_BENCH_ONLY"));
    trainer t;
    memset(&t, 0, sizeof(t));
    const char *cpath = getenv("FWL_BENCH_CORPUS");
    char *owned = NULL;
    if (cpath) {
        owned = read_file(cpath, &t.len);
        if (!owned || t.len < 1024)
            die("FWL_BENCH_CORPUS unreadable or shorter than 1 KiB");
        t.text = owned;
    } else {
        t.text = fwl_test_corpus;
        t.len = sizeof(fwl_test_corpus) - 1;
    }
    int dim = getenv("FWL_BENCH_DIM") ? atoi(getenv("FWL_BENCH_DIM")) : 256;
    if (fwl_model_init(&t.m, dim, 20261123) != 0 || fwl_adam_init(&t.a, t.m.n_params) != 0)
        die("model init failed (dim out of range or out of memory)");
    t.g = calloc(t.m.n_params, sizeof(float));
    t.last = calloc(FWL_CONTEXTS, sizeof(int));
    if (!t.g || !t.last)
        die("out of memory");
    t.p = fwl_adam_defaults(); /* lr 1e-4 */
    t.rng = 7;

    for (int s = 0; s < WARMUP; s++)
        train_step(&t);
    memset(t.last, 0, FWL_CONTEXTS * sizeof(int));
    size_t slen = 0;
    uint8_t *s0 = snapshot(&t.m, &slen), *s90 = NULL, *s99 = NULL, *s100 = NULL;
    double t_train = now();
    for (t.step = 1; t.step <= STEPS; t.step++) {
        train_step(&t);
        if (t.step == STEPS - 10)
            s90 = snapshot(&t.m, &slen);
        if (t.step == STEPS - 1)
            s99 = snapshot(&t.m, &slen);
    }
    s100 = snapshot(&t.m, &slen);
    double train_secs = now() - t_train;
    double zsecs = 0.0, asecs = 0.0, best_z = 1e30, best_a = 1e30;
    size_t d1 = delta_size(s99, s100, slen, NULL, NULL);
    size_t d10 = delta_size(s90, s100, slen, NULL, NULL);
    size_t d100 = 0;
    for (int r = 0; r < 3; r++) {
        d100 = delta_size(s0, s100, slen, &zsecs, &asecs);
        if (zsecs < best_z)
            best_z = zsecs;
        if (asecs < best_a)
            best_a = asecs;
    }

    /* XOR of two weight-sized buffers vs memcpy of one, best of several. */
    size_t n = slen;
    uint8_t *dst = malloc(n);
    if (!dst)
        die("out of memory");
    memset(dst, 1, n);
    double best_x = 1e30, best_m = 1e30;
    for (int r = 0; r < 7; r++) {
        double a0 = now();
        fwl_xor(dst, s0, s100, n);
        double a1 = now();
        memcpy(dst, s100, n);
        double a2 = now();
        if (a1 - a0 < best_x)
            best_x = a1 - a0;
        if (a2 - a1 < best_m)
            best_m = a2 - a1;
    }
    if (memcmp(dst, s100, n) != 0)
        die("memcpy check failed");
    /* zstd alone on the 100-step XOR (what the encoder's 1 MiB chunks add up to). */
    fwl_xor(dst, s0, s100, n);
    size_t zcap = ZSTD_compressBound(n);
    uint8_t *zbuf = malloc(zcap);
    if (!zbuf)
        die("out of memory");
    double best_zo = 1e30;
    for (int r = 0; r < 3; r++) {
        double a0 = now();
        size_t zr = ZSTD_compress(zbuf, zcap, dst, n, LEVEL);
        double a1 = now();
        if (ZSTD_isError(zr))
            die("zstd failed");
        if (a1 - a0 < best_zo)
            best_zo = a1 - a0;
    }
    free(zbuf);
    /* The level: the whole delta encode (XOR + checksum + zstd) of the 10-step delta per level, best of 3. */
    static const int levels[] = {-1, 1, 2, 3};
    char lv_text[512] = "";
    size_t lv_len = 0;
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
        double best = 1e30;
        size_t bytes = 0;
        for (int r = 0; r < 3; r++) {
            uint8_t *d = NULL;
            double a0 = now();
            if (fwl_delta_encode(s90, s100, n, levels[k], &d, &bytes) != 0)
                die("delta encode failed");
            double a1 = now() - a0;
            free(d);
            if (a1 < best)
                best = a1;
        }
        lv_len += (size_t)snprintf(lv_text + lv_len, sizeof lv_text - lv_len, "%s{\"level\":%d,\"ms\":%.1f,\"bytes\":%zu}",
                                   k ? "," : "", levels[k], best * 1e3, bytes);
    }

    /* Throughputs depend on what else the machine runs: record the load next to them. */
    double load1 = bench_loadavg();
    char *ckpt_text = NULL, *rps_text = NULL;
    part("ckpt", bench_ckpt, &ckpt_text);
#ifdef FWL_BENCH_RPS
    part("rps", bench_rps, &rps_text);
#endif
    printf("{\"dim\":%d,\"weights_bytes\":%zu,\"safetensors_bytes\":%zu,\"corpus\":\"%s\",\"corpus_bytes\":%zu,"
           "\"steps\":%d,\"batch\":\"%dx%d\",\"lr\":%g,\"zstd_level\":%d,"
           "\"delta_bytes_1\":%zu,\"delta_bytes_10\":%zu,\"delta_bytes_100\":%zu,"
           "\"delta_ratio_1\":%.2f,\"delta_ratio_10\":%.2f,\"delta_ratio_100\":%.2f,"
           "\"contexts_touched_1\":%zu,\"contexts_touched_10\":%zu,\"contexts_touched_100\":%zu,\"train_step_ms\":%.1f,"
           "\"xor_gbps\":%.2f,\"memcpy_gbps\":%.2f,\"zstd_gbps\":%.3f,\"zstd_only_gbps\":%.2f,\"delta_apply_gbps\":%.3f,\"zstd_levels\":[%s]%s%s,\"loadavg_1m\":%.2f,\"total_s\":%.1f}\n",
           t.m.dim, t.m.n_params * sizeof(float), slen, cpath ? "file" : "embedded", t.len, STEPS, BATCH, SEQ,
           t.p.lr, LEVEL, d1, d10, d100, (double)slen / (double)d1, (double)slen / (double)d10,
           (double)slen / (double)d100, touched_since(&t, STEPS - 1), touched_since(&t, STEPS - 10), touched_since(&t, 0), 1000.0 * train_secs / STEPS, (double)n / best_x / 1e9,
           (double)n / best_m / 1e9, (double)n / best_z / 1e9, (double)n / best_zo / 1e9, (double)n / best_a / 1e9, lv_text, ckpt_text ? ckpt_text : "", rps_text ? rps_text : "", load1, now() - t_start);
    free(ckpt_text);
    free(rps_text);
    free(dst);
    free(s0);
    free(s90);
    free(s99);
    free(s100);
    free(t.last);
    free(t.g);
    free(owned);
    fwl_adam_free(&t.a);
    fwl_model_free(&t.m);
    return 0;
}
