/*
 * The C side of bench/python_vs_c.py: per-call time of three calls through the public
 * API against a running server, on a job the caller prepared. Prints one JSON object
 * of medians in microseconds: {"job_get_us", "list_checkpoints_us", "forward_us"}.
 *
 *   calls BASE_URL JOB_ID BASE_MODEL ITERATIONS     (key from FIREWORKS_API_KEY)
 *
 * job_get: fwt_job_get + free; list_checkpoints: fwt_job_list_checkpoints + free (every row,
 * all pages); forward: fwt_training_forward + fwt_future_wait + take + free, one datum of 64
 * tokens on a session of its own. Each call is warmed up once before timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fwtrain/fwtrain.h"
#include "bench_stats.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench calls: %s: %s (%s)\n", what, fwt_strerror(rc), fwt_error_last()->message);
    exit(1);
}

static void job_get(fwt_client *c, const char *job)
{
    fwt_job *j = NULL;
    int rc = fwt_job_get(&j, c, job);
    if (rc != FWT_OK)
        die("job get", rc);
    fwt_job_free(j);
}

static void list_ckpts(fwt_client *c, const char *job)
{
    fwt_checkpoint_list *l = NULL;
    int rc = fwt_job_list_checkpoints(&l, c, job, NULL);
    if (rc != FWT_OK)
        die("list checkpoints", rc);
    fwt_checkpoint_list_free(l);
}

static void forward(fwt_training *t, const fwt_batch *b)
{
    fwt_future *f = NULL;
    int rc = fwt_training_forward(&f, t, b, FWT_LOSS_CROSS_ENTROPY);
    if (rc != FWT_OK)
        die("forward", rc);
    if ((rc = fwt_future_wait(f, -1)) != FWT_OK)
        die("wait", rc);
    fwt_forward_output *o = NULL;
    if ((rc = fwt_future_take_forward_output(&o, f)) != FWT_OK)
        die("forward result", rc);
    fwt_forward_output_free(o);
    fwt_future_free(f);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: calls BASE_URL JOB_ID BASE_MODEL ITERATIONS\n");
        return 2;
    }
    const char *url = argv[1], *job_id = argv[2], *base_model = argv[3];
    int n = atoi(argv[4]);
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "bench calls: ITERATIONS must be 1..1000000\n");
        return 2;
    }
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.base_url = url;
    fwt_client *c = NULL;
    int rc = fwt_client_new(&c, &o);
    if (rc != FWT_OK)
        die("client", rc);

    fwt_job *job = NULL;
    if ((rc = fwt_job_get(&job, c, job_id)) != FWT_OK)
        die("job", rc);
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    to.base_model = base_model;
    fwt_training *t = NULL;
    if ((rc = fwt_job_open_training(&t, c, job, &to)) != FWT_OK)
        die("open training", rc);
    fwt_job_free(job);
    if ((rc = fwt_training_create_model_result(t, -1)) != FWT_OK)
        die("create model", rc);
    int64_t toks[65];
    float w[64];
    for (int i = 0; i < 65; i++)
        toks[i] = 'a' + i % 26;
    for (int i = 0; i < 64; i++)
        w[i] = 1.0f;
    fwt_batch *b = NULL;
    if ((rc = fwt_batch_new(&b)) != FWT_OK || (rc = fwt_batch_add(b, toks, 64, toks + 1, 64, w, 64)) != FWT_OK)
        die("batch", rc);

    double *v = malloc(sizeof *v * (size_t)n);
    if (!v)
        return 1;
    double r[3];
    job_get(c, job_id);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        job_get(c, job_id);
        v[i] = now_us() - t0;
    }
    r[0] = bench_median(v, n);
    list_ckpts(c, job_id);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        list_ckpts(c, job_id);
        v[i] = now_us() - t0;
    }
    r[1] = bench_median(v, n);
    forward(t, b);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        forward(t, b);
        v[i] = now_us() - t0;
    }
    r[2] = bench_median(v, n);
    printf("{\"job_get_us\": %.1f, \"list_checkpoints_us\": %.1f, \"forward_us\": %.1f, \"iterations\": %d}\n", r[0],
           r[1], r[2], n);
    free(v);
    fwt_batch_free(b);
    fwt_training_free(t);
    fwt_client_free(c);
    return 0;
}
