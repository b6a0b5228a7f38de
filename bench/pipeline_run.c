/*
 * Pipelining benchmark against fwtrain-local (issue 15 item 3). Prints one JSON object:
 *   blocking_steps_per_s   steps of sft_resume's shape (forward_backward cross_entropy on a batch of 4 x 64
 *                          tokens, then optim_step), each op through its blocking `_result` call;
 *   pipelined_steps_per_s  the same steps with `depth` steps submitted ahead (both ops of each as futures) and
 *                          one wait per step for the oldest, as examples/sft_resume.c does by default;
 *   ratio                  median over paired rounds of blocking_time / pipelined_time (target >= 1.3);
 *   identical_losses       every step's loss:sum is bit for bit the same on both sides (two jobs trained on
 *                          the same batches in the same order; the server runs ops in seq_id order).
 * Rounds alternate which side goes first; each side has its own job and model on one fwtrain-local with the
 * default model, so both train from the same initial weights.
 *
 * bench_pipeline_run (bench_parts.h) prints the object; bench/pipeline.c is its command line, and bench/engine
 * prints it as its "pipeline" member.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fwtrain/fwtrain.h"
#include "bench_local.h"
#include "bench_parts.h"
#include "bench_stats.h"

#define BASE_MODEL "accounts/fireworks/models/fwtrain-local-byte"
#define BATCH 4
#define SEQ 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench pipeline: %s: %s\n", what, fwt_error_last()->message);
    exit(1);
}

/* The batch of global step `step`: lowercase text from a fixed generator, so both sides see the same data. */
static fwt_batch *make_batch(long step)
{
    fwt_batch *b = NULL;
    if (fwt_batch_new(&b) != FWT_OK)
        die("batch");
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(step + 1);
    for (int j = 0; j < BATCH; j++) {
        int64_t tok[SEQ + 1], tgt[SEQ];
        float w[SEQ];
        for (int i = 0; i <= SEQ; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            tok[i] = 'a' + (int64_t)(x % 26);
        }
        for (int i = 0; i < SEQ; i++)
            tgt[i] = tok[i + 1], w[i] = 1.0f;
        if (fwt_batch_add(b, tok, SEQ, tgt, SEQ, w, SEQ) != FWT_OK)
            die("batch");
    }
    return b;
}

static double loss_of(fwt_forward_output *fo)
{
    double v = 0;
    if (fwt_metrics_get(fwt_forward_output_metrics(fo), "loss:sum", &v) != FWT_OK)
        die("loss:sum");
    fwt_forward_output_free(fo);
    return v;
}

static void blocking_steps(fwt_training *t, long first, long n, double *loss)
{
    for (long s = first; s < first + n; s++) {
        fwt_batch *b = make_batch(s);
        fwt_forward_output *fo = NULL;
        if (fwt_training_forward_backward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, -1) != FWT_OK)
            die("forward_backward");
        fwt_batch_free(b);
        if (fwt_training_optim_step_result(NULL, t, NULL, -1) != FWT_OK)
            die("optim_step");
        loss[s] = loss_of(fo);
    }
}

static void pipelined_steps(fwt_training *t, long first, long n, int depth, double *loss)
{
    fwt_future *fb[BENCH_PIPELINE_MAX_DEPTH] = {0}, *opt[BENCH_PIPELINE_MAX_DEPTH] = {0};
    long submitted = first;
    for (long s = first; s < first + n; s++) {
        for (; submitted < first + n && submitted - s < depth; submitted++) {
            fwt_batch *b = make_batch(submitted);
            int k = (int)(submitted % BENCH_PIPELINE_MAX_DEPTH);
            if (fwt_training_forward_backward(&fb[k], t, b, FWT_LOSS_CROSS_ENTROPY) != FWT_OK ||
                fwt_training_optim_step(&opt[k], t, NULL) != FWT_OK)
                die("submit");
            fwt_batch_free(b);
        }
        int k = (int)(s % BENCH_PIPELINE_MAX_DEPTH);
        fwt_forward_output *fo = NULL;
        fwt_metrics *m = NULL;
        if (fwt_future_wait(fb[k], -1) != FWT_OK || fwt_future_take_forward_output(&fo, fb[k]) != FWT_OK ||
            fwt_future_wait(opt[k], -1) != FWT_OK || fwt_future_take_metrics(&m, opt[k]) != FWT_OK)
            die("pipelined step");
        fwt_metrics_free(m);
        fwt_future_free(fb[k]);
        fwt_future_free(opt[k]);
        loss[s] = loss_of(fo);
    }
}

static fwt_training *open_trainer(fwt_client *c, const char *id, fwt_job **job)
{
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = id;
    jo.base_model = BASE_MODEL;
    fwt_job_wait_options wo;
    fwt_job_wait_options_init(&wo, FWT_JOB_WAIT_OPTIONS_VERSION);
    wo.wait.poll_interval_ms = 10;
    fwt_job *created = NULL;
    fwt_training *t = NULL;
    if (fwt_job_create(&created, c, &jo) != FWT_OK || fwt_job_wait_ready_result(job, c, id, &wo, -1) != FWT_OK ||
        fwt_job_open_training(&t, c, *job, NULL) != FWT_OK || fwt_training_create_model_result(t, -1) != FWT_OK)
        die("trainer");
    fwt_job_free(created);
    return t;
}

int bench_pipeline_run(long steps, int rounds, int depth)
{
    if (steps < 1 || rounds < 1 || rounds > 64 || depth < 1 || depth > BENCH_PIPELINE_MAX_DEPTH) {
        fprintf(stderr, "bench pipeline: steps >= 1, rounds 1..64, depth 1..%d\n", BENCH_PIPELINE_MAX_DEPTH);
        return 1;
    }
    double load0 = bench_loadavg();
    fwt_local_server *srv = NULL;
    fwt_client *c = NULL;
    static const char *const args[] = {"--job-start-ms", "0", NULL};
    if (bench_local_start(&srv, &c, args) != 0)
        return 1;
    fwt_job *ja = NULL, *jb = NULL;
    fwt_training *ta = open_trainer(c, "pipe-blocking", &ja), *tb = open_trainer(c, "pipe-pipelined", &jb);
    long total = steps * (rounds + 1);
    double *la = calloc((size_t)total, sizeof *la), *lb = calloc((size_t)total, sizeof *lb);
    double bt[64], pt[64], ratio[64];
    if (!la || !lb)
        die("memory");
    blocking_steps(ta, 0, steps, la); /* warm-up round: connections, server buffers */
    pipelined_steps(tb, 0, steps, depth, lb);
    for (int r = 0; r < rounds; r++) {
        long first = steps * (r + 1);
        for (int k = 0; k < 2; k++) {
            double t0 = now_s();
            if ((r + k) % 2) {
                pipelined_steps(tb, first, steps, depth, lb);
                pt[r] = now_s() - t0;
            } else {
                blocking_steps(ta, first, steps, la);
                bt[r] = now_s() - t0;
            }
        }
        ratio[r] = bt[r] / pt[r];
    }
    int identical = memcmp(la, lb, (size_t)total * sizeof *la) == 0;
    printf("{\"bench\":\"pipeline\",\"steps_per_round\":%ld,\"rounds\":%d,\"depth\":%d,\"batch\":\"%dx%d tokens\","
           "\"blocking_steps_per_s\":%.1f,\"pipelined_steps_per_s\":%.1f,\"ratio\":%.3f,\"identical_losses\":%s,"
           "\"loadavg_1m_before\":%.2f,\"loadavg_1m_after\":%.2f}",
           steps, rounds, depth, BATCH, SEQ, steps / bench_median(bt, rounds), steps / bench_median(pt, rounds),
           bench_median(ratio, rounds), identical ? "true" : "false", load0, bench_loadavg());
    free(la);
    free(lb);
    fwt_training_free(ta);
    fwt_training_free(tb);
    fwt_job_free(ja);
    fwt_job_free(jb);
    fwt_client_free(c);
    fwt_local_server_free(srv);
    return identical ? 0 : 1;
}
