/*
 * bench/server "ckpt": fwtrain-local's checkpoint path per model dim (64, 128, 256, 512), in process (the server
 * minus HTTP: fwl_server_open + fwl_route, as tests/fuzz/fuzz_server.c drives it), with --hotload-ms 0:
 *   base / delta save  = save_weights_for_sampler submitted and its future retrieved (the trainer's whole op:
 *                        encode, write, fsync, keep the next delta's base);
 *   base / delta hotload = POST hot_load until the replica reports the identity (read, decode or apply, persist).
 * Each round trains one step (8 x 128 tokens, so a delta is as sparse as a real one), saves a base, hotloads it,
 * trains again, saves a delta against that base and hotloads it incrementally; figures are medians of the rounds.
 * Data dir under $TMPDIR (default /tmp). The yardstick is a memcpy of the same weights (into a buffer already touched, best of 5): *_x_memcpy = op / memcpy.
 */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../tests/model/corpus.h"
#include "../tests/support/fwl_inproc.h"
#include "config.h"
#include "model.h"
#include "request.h"
#include "route.h"
#include "server.h"
#include "server_bench.h"
#include "state.h"
#include "bench_stats.h"

#define ROUNDS 5

/* One request through the route table; the parsed JSON answer of a 200, else NULL. */
static cJSON *call(fwl_server *s, const char *method, const char *path, const fwl_test_lk *l, const char *body)
{
    char *text = NULL;
    int status = fwl_test_route(s, method, path, l, body, &text);
    cJSON *j = status == 200 && text ? cJSON_Parse(text) : NULL;
    if (!j)
        fprintf(stderr, "bench/server: %s %s -> %d %.200s\n", method, path, status, text ? text : "");
    free(text);
    return j;
}

static const char *jstr(const cJSON *j, const char *k)
{
    const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

#define API "/training/v1/rlorTrainerJobs/local/bj/api/v1/"

/* Submit + retrieve (the in-process retrieve blocks until the op is done); the result or NULL. */
static cJSON *op(fwl_server *s, const char *name, const char *body)
{
    char path[256], rb[256];
    snprintf(path, sizeof path, API "%s", name);
    cJSON *j = call(s, "POST", path, NULL, body);
    const char *rid = jstr(j, "request_id");
    if (!rid) {
        cJSON_Delete(j);
        return NULL;
    }
    snprintf(rb, sizeof rb, "{\"request_id\":\"%s\"}", rid);
    cJSON_Delete(j);
    j = call(s, "POST", API "retrieve_future", NULL, rb);
    if (j && cJSON_GetObjectItemCaseSensitive(j, "error")) {
        fprintf(stderr, "bench/server: %s failed: %s\n", name, jstr(j, "error"));
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

typedef struct ctx {
    fwl_server s;
    char model[64];
    int seq;
    size_t at; /* corpus offset of the next batch */
    bool opened;
} ctx;

static int train_step(ctx *c)
{
    size_t cap = 64 * 1024, len = 0;
    char *b = malloc(cap);
    if (!b)
        return -1;
    len += (size_t)snprintf(b, cap, "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_backward_input\":{\"loss_fn\":"
                                    "\"cross_entropy\",\"data\":[", c->model, c->seq++);
    for (int d = 0; d < 8; d++) {
        if (c->at + 130 > sizeof(fwl_test_corpus) - 1)
            c->at = (c->at * 7 + 13) % 1000;
        const unsigned char *t = (const unsigned char *)fwl_test_corpus + c->at;
        c->at += 997;
        len += (size_t)snprintf(b + len, cap - len, "%s{\"model_input\":{\"chunks\":[{\"tokens\":[", d ? "," : "");
        for (int i = 0; i < 128; i++)
            len += (size_t)snprintf(b + len, cap - len, "%s%d", i ? "," : "", t[i]);
        len += (size_t)snprintf(b + len, cap - len, "]}]},\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[");
        for (int i = 0; i < 128; i++)
            len += (size_t)snprintf(b + len, cap - len, "%s%d", i ? "," : "", t[i + 1]);
        len += (size_t)snprintf(b + len, cap - len, "]}}}");
    }
    snprintf(b + len, cap - len, "]}}");
    cJSON *r = op(&c->s, "forward_backward", b);
    free(b);
    if (!r)
        return -1;
    cJSON_Delete(r);
    char ob[256];
    snprintf(ob, sizeof ob, "{\"model_id\":\"%s\",\"seq_id\":%d,\"adam_params\":{\"learning_rate\":0.0001}}", c->model,
             c->seq++);
    r = op(&c->s, "optim_step", ob);
    cJSON_Delete(r);
    return r ? 0 : -1;
}

static double save(ctx *c, const char *name, const char *type)
{
    char b[256];
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\",\"checkpoint_type\":\"%s\"}", c->model,
             c->seq++, name, type);
    double t0 = bench_now();
    cJSON *r = op(&c->s, "save_weights_for_sampler", b);
    double t = bench_now() - t0;
    cJSON_Delete(r);
    return r ? t : -1.0;
}

static double hotload(ctx *c, const char *id, const char *prev)
{
    fwl_test_lk l = {.hname = "fireworks-deployment", .hval = "accounts/local/deployments/bd"};
    char b[512], want[256];
    if (prev)
        snprintf(b, sizeof b,
                 "{\"identity\":\"%s\",\"incremental_snapshot_metadata\":{\"previous_snapshot_identity\":\"%s\"}}", id, prev);
    else
        snprintf(b, sizeof b, "{\"identity\":\"%s\"}", id);
    snprintf(want, sizeof want, "\"current_snapshot_identity\":\"%s\"", id);
    double t0 = bench_now();
    cJSON *r = call(&c->s, "POST", "/hot_load/v1/models/hot_load", &l, b);
    if (!r)
        return -1.0;
    cJSON_Delete(r);
    for (int i = 0; i < 200000; i++) {
        r = call(&c->s, "GET", "/hot_load/v1/models/hot_load", &l, NULL);
        char *txt = r ? cJSON_PrintUnformatted(r) : NULL;
        cJSON_Delete(r);
        bool done = txt && strstr(txt, want), failed = txt && strstr(txt, "\"stage\":\"error\"");
        if (failed)
            fprintf(stderr, "bench/server: hotload of %s failed: %s\n", id, txt);
        free(txt);
        if (done)
            return bench_now() - t0;
        if (failed || !txt)
            return -1.0;
        struct timespec ts = {0, 100000L};
        nanosleep(&ts, NULL);
    }
    return -1.0;
}

/* memcpy of n bytes into a buffer already touched, best of 5, in seconds. */
static double memcpy_secs(size_t n)
{
    char *a = malloc(n), *b = malloc(n);
    double best = -1.0;
    if (a && b) {
        memset(a, 1, n);
        memset(b, 2, n);
        for (int r = 0; r < 5; r++) {
            double t0 = bench_now();
            memcpy(b, a, n);
            double t = bench_now() - t0;
            if (best < 0 || t < best)
                best = t;
        }
        if (b[n - 1] != 1)
            best = -1.0;
    }
    free(a);
    free(b);
    return best;
}

static int setup(ctx *c, int dim, char *dir)
{
    fwl_config_defaults(&c->s.cfg);
    snprintf(c->s.cfg.data_dir, sizeof c->s.cfg.data_dir, "%s", dir);
    c->s.cfg.model_dim = dim;
    c->s.cfg.hotload_ms = 0;
    c->s.cfg.job_start_ms = 0;
    c->s.cfg.long_poll_ms = 600000;
    if (fwl_server_open(&c->s) != 0)
        return -1;
    c->opened = true;
    fwl_test_lk q = {.qname = "rlorTrainerJobId", .qval = "bj"};
    cJSON *j = call(&c->s, "POST", "/v1/accounts/local/rlorTrainerJobs", &q,
                    "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\"}}");
    cJSON_Delete(j);
    j = call(&c->s, "GET", "/v1/accounts/local/rlorTrainerJobs/bj", NULL, NULL); /* CREATING -> RUNNING */
    cJSON_Delete(j);
    j = call(&c->s, "POST", API "create_session", NULL, "{}");
    char b[256];
    snprintf(b, sizeof b, "{\"session_id\":\"%s\",\"model_seq_id\":0}", jstr(j, "session_id") ? jstr(j, "session_id") : "");
    cJSON_Delete(j);
    j = op(&c->s, "create_model", b);
    snprintf(c->model, sizeof c->model, "%s", jstr(j, "model_id") ? jstr(j, "model_id") : "");
    cJSON_Delete(j);
    fwl_test_lk dq = {.qname = "deploymentId", .qval = "bd"};
    j = call(&c->s, "POST", "/v1/accounts/local/deployments", &dq,
             "{\"baseModel\":\"b\",\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/bj\"}");
    cJSON_Delete(j);
    c->seq = 1;
    return c->model[0] && j ? 0 : -1;
}

/* One dim: appends its object to out. */
static int bench_dim(FILE *out, int dim, bool first)
{
    char dir[1024];
    const char *tmp = getenv("TMPDIR"); /* TMPDIR=/dev/shm: the same without the disk (fsync is free there) */
    snprintf(dir, sizeof dir, "%.900s/fwl-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    ctx *c = calloc(1, sizeof *c);
    int rc = -1;
    double bs[ROUNDS], ds[ROUNDS], bh[ROUNDS], dh[ROUNDS];
    if (!c || setup(c, dim, dir) != 0)
        goto out;
    for (int r = 0; r < ROUNDS; r++) {
        char bn[32], dn[32];
        snprintf(bn, sizeof bn, "b-%d", r);
        snprintf(dn, sizeof dn, "d-%d", r);
        if (train_step(c) || (bs[r] = save(c, bn, "base")) < 0 || (bh[r] = hotload(c, bn, NULL)) < 0 ||
            train_step(c) || (ds[r] = save(c, dn, "delta")) < 0 || (dh[r] = hotload(c, dn, bn)) < 0)
            goto out;
    }
    size_t bytes = fwl_model_param_count(dim) * sizeof(float);
    double mc = memcpy_secs(bytes);
    double mbs = bench_median(bs, ROUNDS), mds = bench_median(ds, ROUNDS), mbh = bench_median(bh, ROUNDS), mdh = bench_median(dh, ROUNDS);
    fprintf(out,
            "%s{\"dim\":%d,\"weights_mib\":%.1f,\"memcpy_ms\":%.2f,\"base_save_ms\":%.1f,\"delta_save_ms\":%.1f,"
            "\"base_hotload_ms\":%.1f,\"delta_hotload_ms\":%.1f,\"base_save_x_memcpy\":%.1f,\"delta_save_x_memcpy\":%.1f,"
            "\"base_hotload_x_memcpy\":%.1f,\"delta_hotload_x_memcpy\":%.1f,\"delta_hotload_vs_base\":%.2f}",
            first ? "" : ",", dim, (double)bytes / 1048576.0, mc * 1e3, mbs * 1e3, mds * 1e3, mbh * 1e3, mdh * 1e3,
            mbs / mc, mds / mc, mbh / mc, mdh / mc, mdh / mbh);
    rc = 0;
out:
    if (c) {
        if (c->opened)
            fwl_server_close(&c->s);
        free(c);
    }
    fwl_test_rm_rf(dir);
    if (rc != 0)
        fprintf(stderr, "bench/server: checkpoint path at dim %d failed\n", dim);
    return rc;
}

int bench_ckpt(FILE *out)
{
    static const int dims[] = {64, 128, 256, 512};
    const char *only = getenv("FWL_BENCH_CKPT_DIMS"); /* e.g. "256": one dim only */
    fprintf(out, ",\"ckpt\":{\"rounds\":%d,\"dims\":[", ROUNDS);
    bool first = true;
    int rc = 0;
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        char d[16];
        snprintf(d, sizeof d, "%d", dims[i]);
        if (only && !strstr(only, d))
            continue;
        if (bench_dim(out, dims[i], first) != 0)
            rc = -1;
        first = false;
    }
    fprintf(out, "]}");
    return rc;
}
