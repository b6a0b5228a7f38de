/*
 * fwtrain-local's request handling: one request straight into the route table (server/route.c),
 * without sockets (fwl_server_open: the server minus HTTP), against a real server state in a
 * temporary data dir.
 *
 * Input: "METHOD PATH[?QUERY]\n", then header lines "Name: value\n", an empty line, then the
 * body (all optional but the first line). So that inputs reach past the id checks, each server
 * starts with a running job "fz" holding a session and a model, and these tokens are replaced
 * anywhere in the input: $SESSION and $MODEL by their ids, $SEQ by the model's next seq_id
 * (advanced whenever a request that used it is accepted).
 * Properties: every answer has a valid HTTP status, and every body the server would send is JSON.
 */
#include <ftw.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz.h"

#include <cjson/cJSON.h>

#include "config.h"
#include "request.h"
#include "route.h"
#include "server.h"
#include "state.h"
#include "../support/fwl_inproc.h"

static fwl_server srv;
static char dir[256];
static int started;
static unsigned long runs;
static char session_id[128], model_id[128];
static long long next_seq;

/* Headers and query parameters of one input; names and values point into its copy. */
typedef struct lookup_ctx {
    const char *names[32], *values[32];
    int n_headers;
    const char *qnames[32], *qvalues[32];
    int n_query;
} lookup_ctx;

static const char *lookup(void *ctx, fwl_lookup_kind kind, const char *key)
{
    lookup_ctx *l = ctx;
    if (kind == FWL_LOOKUP_HEADER) {
        for (int i = 0; i < l->n_headers; i++)
            if (strcasecmp(l->names[i], key) == 0)
                return l->values[i];
        return NULL;
    }
    for (int i = 0; i < l->n_query; i++)
        if (strcmp(l->qnames[i], key) == 0)
            return l->qvalues[i];
    return NULL;
}

static void stop_server(void)
{
    if (!started)
        return;
    fwl_server_close(&srv);
    started = 0;
    fwl_test_rm_rf(dir);
}

/* One request with no headers and at most one query parameter; returns the parsed answer (NULL when not JSON). */
static cJSON *call(const char *method, const char *path, const char *qname, const char *qvalue, const char *body,
                   int *status)
{
    lookup_ctx l;
    memset(&l, 0, sizeof l);
    if (qname) {
        l.qnames[0] = qname;
        l.qvalues[0] = qvalue;
        l.n_query = 1;
    }
    fwl_req r;
    fwl_resp out;
    memset(&out, 0, sizeof out);
    cJSON *j = NULL;
    *status = 0;
    if (fwl_req_init(&r, method, path, body, body ? strlen(body) : 0, lookup, &l) == 0) {
        fwl_route(&srv, &r, &out);
        *status = out.status;
        j = out.body ? cJSON_Parse(out.body) : NULL;
        if (getenv("FUZZ_SERVER_TRACE"))
            fprintf(stderr, "setup: %s %s -> %d %.300s\n", method, path, out.status, out.body ? out.body : "");
    }
    free(out.body);
    fwl_req_free(&r);
    return j;
}

static void copy_field(const cJSON *j, const char *key, char *dst, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsString(v))
        abort();
    snprintf(dst, len, "%s", v->valuestring);
}

#define TRAINER "/training/v1/rlorTrainerJobs/local/fz/api/v1/"

/* Job "fz", a session and a model on it, so inputs can reach the trainer ops. Aborts if the server refuses. */
static void populate(void)
{
    int st;
    cJSON *j = call("POST", "/v1/accounts/local/rlorTrainerJobs", "rlorTrainerJobId", "fz",
                    "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/qwen3-8b\"}}", &st);
    cJSON_Delete(j);
    j = call("POST", TRAINER "create_session", NULL, NULL, "{}", &st);
    copy_field(j, "session_id", session_id, sizeof session_id);
    cJSON_Delete(j);
    char body[512], rid[128];
    snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"model_seq_id\":0,\"base_model\":"
             "\"accounts/fireworks/models/qwen3-8b\"}", session_id);
    j = call("POST", TRAINER "create_model", NULL, NULL, body, &st);
    copy_field(j, "request_id", rid, sizeof rid);
    cJSON_Delete(j);
    snprintf(body, sizeof body, "{\"request_id\":\"%s\"}", rid);
    for (int i = 0; i < 10000 && !model_id[0]; i++) {
        j = call("POST", TRAINER "retrieve_future", NULL, NULL, body, &st);
        if (st == 200 && cJSON_GetObjectItemCaseSensitive(j, "model_id"))
            copy_field(j, "model_id", model_id, sizeof model_id);
        cJSON_Delete(j);
    }
    if (!model_id[0])
        abort();
    next_seq = 1;
}

/* data with $SESSION, $MODEL and $SEQ replaced; *used_seq tells whether $SEQ occurred. */
static char *substitute(const uint8_t *data, size_t size, size_t *out_len, int *used_seq)
{
    char seq[32];
    snprintf(seq, sizeof seq, "%lld", next_seq);
    const struct {
        const char *token, *value;
    } subs[] = {{"$SESSION", session_id}, {"$MODEL", model_id}, {"$SEQ", seq}};
    size_t cap = size + 1, n = 0;
    char *o = malloc(cap);
    if (!o)
        abort();
    *used_seq = 0;
    for (size_t i = 0; i < size;) {
        const char *add = NULL;
        size_t add_len = 1, skip = 1;
        for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
            size_t tl = strlen(subs[k].token);
            if (size - i >= tl && memcmp(data + i, subs[k].token, tl) == 0) {
                add = subs[k].value;
                add_len = strlen(add);
                skip = tl;
                *used_seq |= k == 2;
                break;
            }
        }
        if (n + add_len + 1 > cap) {
            cap = (n + add_len + 1) * 2;
            char *no = realloc(o, cap);
            if (!no)
                abort();
            o = no;
        }
        memcpy(o + n, add ? add : (const char *)data + i, add_len);
        n += add_len;
        i += skip;
    }
    o[n] = '\0';
    *out_len = n;
    return o;
}

/* A fresh server on an empty data dir (also every few thousand runs, so the dir never grows unbounded). */
static void start_server(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fwl-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    memset(&srv, 0, sizeof srv);
    session_id[0] = model_id[0] = 0;
    fwl_config_defaults(&srv.cfg);
    snprintf(srv.cfg.data_dir, sizeof srv.cfg.data_dir, "%s", dir);
    snprintf(srv.cfg.api_key, sizeof srv.cfg.api_key, "fuzz-key");
    srv.cfg.api_key_default = false;
    srv.cfg.long_poll_ms = 1;   /* retrieve_future must not hold a run */
    srv.cfg.job_start_ms = 0;
    srv.cfg.hotload_ms = 0;
    srv.cfg.promote_ms = 0;
    if (fwl_server_open(&srv) != 0) /* everything but HTTP: requests go straight to fwl_route */
        abort();
    started = 1;
    populate();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    start_server();
    atexit(stop_server);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (++runs % 4096 == 0) {
        stop_server();
        start_server();
    }
    int used_seq = 0;
    char *s = substitute(data, size, &size, &used_seq);
    /* request line */
    char *eol = strchr(s, '\n');
    char *rest = eol ? eol + 1 : s + size;
    if (eol)
        *eol = '\0';
    char *sp = strchr(s, ' ');
    if (!sp) {
        free(s);
        return 0;
    }
    *sp = '\0';
    const char *method = s;
    char *path = sp + 1;
    lookup_ctx l;
    memset(&l, 0, sizeof l);
    char *q = strchr(path, '?');
    if (q) {
        *q++ = '\0';
        for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv && l.n_query < 32; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (eq)
                *eq++ = '\0';
            l.qnames[l.n_query] = kv;
            l.qvalues[l.n_query++] = eq ? eq : "";
        }
    }
    /* headers up to an empty line; the body is everything after it (binary, may hold NULs) */
    const char *body = NULL;
    size_t body_len = 0;
    while (rest < s + size) {
        char *nl = memchr(rest, '\n', (size_t)(s + size - rest));
        if (!nl)
            break;
        if (nl == rest) {
            body = nl + 1;
            body_len = (size_t)(s + size - body);
            break;
        }
        *nl = '\0';
        char *colon = strchr(rest, ':');
        if (colon && l.n_headers < 32) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            l.names[l.n_headers] = rest;
            l.values[l.n_headers++] = v;
        }
        rest = nl + 1;
    }
    fwl_req r;
    fwl_resp out;
    memset(&out, 0, sizeof out);
    if (fwl_req_init(&r, method, path, body, body_len, lookup, &l) == 0) {
        fwl_route(&srv, &r, &out);
        if (getenv("FUZZ_SERVER_TRACE"))
            fprintf(stderr, "server: %s %s -> %d %.300s\n", method, path, out.status, out.body ? out.body : "");
        FUZZ_CHECK(out.status >= 100 && out.status <= 599);
        if (used_seq && out.status == 200)
            next_seq++;
        if (out.body) {
            cJSON *j = cJSON_Parse(out.body);
            FUZZ_CHECK(j != NULL);
            cJSON_Delete(j);
        }
    }
    free(out.body);
    fwl_req_free(&r);
    free(s);
    return 0;
}
