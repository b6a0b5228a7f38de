/*
 * JSON benchmark (issue 15 item 4). Prints one JSON object:
 *   encode_sft / encode_rl  the forward_backward "data" array of a batch of `tokens` tokens (datums of
 *                      `datum_len` tokens) turned into the request body's text: the cJSON encoder the
 *                      library used before (tests/support/batch_cjson.c: a tree, then cJSON's print with
 *                      its %1.15g / sscanf / %1.17g round trip per number) against the library's direct
 *                      writer (fwt__batch_to_json, then the same print of the enclosing object). sft: int
 *                      tokens and targets, weights 0 or 1; rl: plus sampling logprobs and advantages.
 *                      Each side's median ms, MB/s of the cJSON text, and ratio = median over rounds of
 *                      cjson_time / fwt_time, the two measured back to back (A/B, order alternating).
 *   decode             a forward result carrying one logprob per token: cJSON's parser against
 *                      fwt__json_parse, each followed by the library's forward-output decoder.
 *   equal_after_parse  both encoders' texts, read back with cJSON's own parser, hold the same values
 *                      (integers exactly, floats bit for bit as float32, the dtype on the wire).
 *   loadavg_1m         the machine's load when the run ended (ratios, not absolute times, are the figure).
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a loaded machine changes them little.
 *
 * bench_json_run (bench_parts.h) prints the object; bench/json.c is its command line, and bench/engine prints it
 * as its "json" member.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/training_impl.h"
#include "batch_cjson.h"
#include "json/json.h"
#include "json/jwrite.h"
#include "bench_parts.h"
#include "bench_stats.h"

/* CPU time of this thread: both sides are single-threaded and CPU-bound, and on a shared machine wall
 * time mostly measures the scheduler. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

typedef struct data {
    size_t count, len;
    int64_t *tok, *tgt;
    float *w, *lp, *adv;
    fwt_test_datum *ref;
    fwt_batch *batch;
} data;

/* Token ids below 150k; weights 0 on the prompt's first quarter, 1 after; logprobs -log(u); advantages ±. */
static void make_data(data *d, size_t tokens, size_t len)
{
    d->len = len;
    d->count = (tokens + len - 1) / len;
    size_t n = d->count * len;
    d->tok = malloc(n * sizeof *d->tok);
    d->tgt = malloc(n * sizeof *d->tgt);
    d->w = malloc(n * sizeof *d->w);
    d->lp = malloc(n * sizeof *d->lp);
    d->adv = malloc(n * sizeof *d->adv);
    d->ref = calloc(d->count, sizeof *d->ref);
    if (!d->tok || !d->tgt || !d->w || !d->lp || !d->adv || !d->ref || fwt_batch_new(&d->batch)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        d->tok[i] = (int64_t)(uniform() * 150000);
        d->tgt[i] = (int64_t)(uniform() * 150000);
        d->w[i] = i % len < len / 4 ? 0.0f : 1.0f;
        d->lp[i] = (float)log(uniform() + 1e-12);
        d->adv[i] = (float)((uniform() - 0.5) * 2.0);
    }
    for (size_t i = 0; i < d->count; i++) {
        size_t o = i * len;
        d->ref[i] = (fwt_test_datum){d->tok + o, d->tgt + o, d->w + o, d->lp + o, d->adv + o, len};
        fwt_datum dm;
        fwt_datum_init(&dm, FWT_DATUM_VERSION);
        dm.tokens = d->tok + o;
        dm.target_tokens = d->tgt + o;
        dm.n_tokens = dm.n_target_tokens = len;
        dm.weights = d->w + o;
        dm.logprobs = d->lp + o;
        dm.advantages = d->adv + o;
        dm.n_weights = dm.n_logprobs = dm.n_advantages = len;
        if (fwt_batch_add_datum(d->batch, &dm)) {
            fprintf(stderr, "fwt_batch_add_datum: %s\n", fwt_error_last()->message);
            exit(1);
        }
    }
}

/* The request body's text around a "data" item, as request.c prints it. */
static char *body_text(cJSON *data_item)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "data", data_item);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!t) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return t;
}

static char *encode_cjson(const data *d, int rl) { return body_text(fwt_test_batch_cjson(d->ref, d->count, rl)); }
static char *encode_fwt(const data *d, int rl) { return body_text(fwt__batch_to_json(d->batch, rl)); }

/* Same shape and keys; integers equal exactly, other numbers bit for bit once read as float32. */
static int same_values(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xff) != (b->type & 0xff))
        return 0;
    if ((a->string || b->string) && (!a->string || !b->string || strcmp(a->string, b->string)))
        return 0;
    if (cJSON_IsNumber(a)) {
        float x = (float)a->valuedouble, y = (float)b->valuedouble;
        int ints = a->valuedouble == floor(a->valuedouble) && fabs(a->valuedouble) < 1e15;
        return ints ? a->valuedouble == b->valuedouble : memcmp(&x, &y, sizeof x) == 0;
    }
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        if (!same_values(x, y))
            return 0;
    return !x && !y;
}

static int equal_after_parse(const data *d, int rl)
{
    char *a = encode_cjson(d, rl), *b = encode_fwt(d, rl);
    cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
    int same = x && y && same_values(x, y);
    cJSON_Delete(x);
    cJSON_Delete(y);
    cJSON_free(a);
    cJSON_free(b);
    return same;
}

static void print_encode(const char *name, const data *d, int rl, int rounds)
{
    double *ta = calloc((size_t)rounds, sizeof *ta), *tb = calloc((size_t)rounds, sizeof *tb);
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    size_t bytes = 0;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int cj = (r + k) % 2 == 0; /* alternate which side goes first */
            double t0 = now_s();
            char *t = cj ? encode_cjson(d, rl) : encode_fwt(d, rl);
            double dt = now_s() - t0;
            if (cj) {
                ta[r] = dt;
                bytes = strlen(t);
            } else {
                tb[r] = dt;
            }
            cJSON_free(t);
        }
        ratio[r] = ta[r] / tb[r];
    }
    double ma = bench_median(ta, rounds), mb = bench_median(tb, rounds);
    printf("  \"%s\": {\"cjson_ms\": %.1f, \"fwt_ms\": %.1f, \"cjson_mb_s\": %.0f, \"fwt_mb_s\": %.0f, \"ratio\": %.2f},\n",
           name, ma * 1e3, mb * 1e3, bytes / ma / 1e6, bytes / mb / 1e6, bench_median(ratio, rounds));
    free(ta);
    free(tb);
    free(ratio);
}

static void print_decode(const data *d, int rounds)
{
    size_t n = d->count * d->len;
    fwt__jw w;
    fwt__jw_init(&w, n * 12 + 256);
    fwt__jw_lit(&w, "{\"loss_fn_output_type\":\"scalar\",\"loss_fn_outputs\":[");
    for (size_t i = 0; i < d->count; i++) {
        if (i)
            fwt__jw_char(&w, ',');
        fwt__jw_lit(&w, "{\"logprobs\":{\"data\":[");
        fwt__jw_float_list(&w, d->lp + i * d->len, d->len);
        fwt__jw_lit(&w, "],\"dtype\":\"float32\",\"shape\":[");
        fwt__jw_int(&w, (int64_t)d->len);
        fwt__jw_lit(&w, "]}}");
    }
    fwt__jw_lit(&w, "],\"metrics\":{\"loss:sum\":1.5}}");
    size_t len = 0;
    char *text = fwt__jw_take(&w, &len);
    double *ta = calloc((size_t)rounds, sizeof *ta), *tb = calloc((size_t)rounds, sizeof *tb);
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    int equal = 1;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int cj = (r + k) % 2 == 0;
            double t0 = now_s();
            cJSON *j = cj ? cJSON_ParseWithLength(text, len) : fwt__json_parse(text, len);
            fwt_forward_output *o = NULL;
            fwt__err err;
            fwt__err_init(&err);
            int rc = j ? fwt__parse_forward_output(j, &o, &err) : FWT_EPROTO;
            double dt = now_s() - t0;
            if (rc) {
                fprintf(stderr, "decode failed (%s): %s\n", cj ? "cJSON" : "fwt",
                        j ? err.pub.message : "the text does not parse");
                exit(1);
            }
            for (size_t i = 0; r == 0 && i < d->count; i++) {
                size_t m = 0;
                const float *lp = fwt_forward_output_logprobs(o, i, &m);
                equal &= m == d->len && memcmp(lp, d->lp + i * d->len, m * sizeof *lp) == 0;
            }
            (cj ? ta : tb)[r] = dt;
            fwt_forward_output_free(o);
            fwt__err_clear(&err);
            cJSON_Delete(j);
        }
        ratio[r] = ta[r] / tb[r];
    }
    printf("  \"decode\": {\"cjson_ms\": %.1f, \"fwt_ms\": %.1f, \"ratio\": %.2f, \"logprobs_exact\": %s},\n",
           bench_median(ta, rounds) * 1e3, bench_median(tb, rounds) * 1e3, bench_median(ratio, rounds), equal ? "true" : "false");
    fwt__free_mem(text);
    free(ta);
    free(tb);
    free(ratio);
}

int bench_json_run(size_t tokens, int rounds, size_t len)
{
    data d;
    make_data(&d, tokens, len);
    printf("{\n  \"tokens\": %zu, \"datum_len\": %zu, \"rounds\": %d,\n", d.count * len, len, rounds);
    print_encode("encode_sft", &d, 0, rounds);
    print_encode("encode_rl", &d, 1, rounds);
    print_decode(&d, rounds);
    int eq = equal_after_parse(&d, 0) && equal_after_parse(&d, 1);
    double load = bench_loadavg();
    printf("  \"equal_after_parse\": %s,\n  \"loadavg_1m\": %.2f\n}", eq ? "true" : "false", load);
    fwt_batch_free(d.batch);
    free(d.tok);
    free(d.tgt);
    free(d.w);
    free(d.lp);
    free(d.adv);
    free(d.ref);
    return eq ? 0 : 1;
}
