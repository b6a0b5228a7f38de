#include "srv_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    srv_resp *r = ud;
    size_t k = sz * n;
    char *nb = realloc(r->body, r->len + k + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = 0;
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    srv_resp *r = ud;
    size_t k = sz * n;
    if (k > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        const char *v = p + 12;
        while (*v == ' ')
            v++;
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)strcspn(v, "\r\n"), v);
    }
    return k;
}

int srv_req(srv_resp *r, const char *method, const char *url, const char *key, const char *body,
            const char *const *headers, long timeout_ms)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char kh[600];
    if (key) {
        snprintf(kh, sizeof kh, "X-Api-Key: %s", key);
        h = curl_slist_append(h, kh);
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    r->curl_code = (int)rc;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME, &r->ttfb);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (r->body)
        r->json = cJSON_Parse(r->body);
    return rc == CURLE_OK ? 0 : -1;
}

void srv_resp_free(srv_resp *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

int srv_call(srv_resp *r, const char *base, const char *key, const char *method, const char *path, const char *body)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", base, path);
    return srv_req(r, method, url, key, body, NULL, 30000);
}

char *srv_submit(const char *base, const char *key, const char *job, const char *op, const char *body,
                 const char *idem_key)
{
    char url[1024], ih[256];
    snprintf(url, sizeof url, "%s/training/v1/rlorTrainerJobs/local/%s/api/v1/%s", base, job, op);
    const char *hdrs[2] = {NULL, NULL};
    if (idem_key) {
        snprintf(ih, sizeof ih, "X-Idempotency-Key: %s", idem_key);
        hdrs[0] = ih;
    }
    srv_resp r;
    srv_req(&r, "POST", url, key, body, hdrs, 30000);
    char *id = NULL;
    const cJSON *v = r.json ? cJSON_GetObjectItemCaseSensitive(r.json, "request_id") : NULL;
    if (r.status == 200 && cJSON_IsString(v))
        id = strdup(v->valuestring);
    else
        fprintf(stderr, "submit %s failed: %ld %s\n", op, r.status, r.body ? r.body : "");
    srv_resp_free(&r);
    return id;
}

cJSON *srv_wait(const char *base, const char *key, const char *job, const char *request_id)
{
    char url[1024], body[256];
    snprintf(url, sizeof url, "%s/training/v1/rlorTrainerJobs/local/%s/api/v1/retrieve_future", base, job);
    snprintf(body, sizeof body, "{\"request_id\":\"%s\",\"allow_metadata_only\":false}", request_id);
    for (int i = 0; i < 200; i++) {
        srv_resp r;
        srv_req(&r, "POST", url, key, body, NULL, 60000);
        if (r.status != 200 || !r.json) {
            fprintf(stderr, "retrieve_future: %ld %s\n", r.status, r.body ? r.body : "");
            srv_resp_free(&r);
            return NULL;
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r.json, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "try_again")) {
            srv_resp_free(&r);
            continue;
        }
        cJSON *j = r.json;
        r.json = NULL;
        srv_resp_free(&r);
        return j;
    }
    return NULL;
}

cJSON *srv_op(const char *base, const char *key, const char *job, const char *op, const char *body)
{
    char *id = srv_submit(base, key, job, op, body, NULL);
    if (!id)
        return NULL;
    cJSON *j = srv_wait(base, key, job, id);
    free(id);
    return j;
}

fwt_local_server *srv_start(const char *key, const char *const *args)
{
    fwt_local_server_opts o;
    fwt_local_server_opts_init(&o);
    o.api_key = key;
    o.extra_args = args;
    fwt_local_server *s = NULL;
    if (fwt_local_server_start(&s, &o) != 0) {
        fwt_local_server_free(s);
        return NULL;
    }
    return s;
}

int srv_finish(fwt_local_server *s)
{
    if (!s)
        return -1;
    int rc = fwt_local_server_stop(s);
    fwt_local_server_free(s);
    return rc;
}

int srv_group_setup(fwt_local_server **srv, const char **base, const char *key, const char *const *args)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    *srv = srv_start(key, args);
    *base = *srv ? fwt_local_server_url(*srv) : NULL;
    return *srv ? 0 : -1;
}

int srv_group_teardown(fwt_local_server *srv)
{
    int rc = srv_finish(srv);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

char *srv_setup_model(const char *base, const char *key, const char *job)
{
    char path[512];
    srv_resp r;
    snprintf(path, sizeof path, "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=%s", job);
    srv_call(&r, base, key, "POST", path, "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\"}}");
    long st = r.status;
    srv_resp_free(&r);
    if (st != 200)
        return NULL;
    snprintf(path, sizeof path, "/training/v1/rlorTrainerJobs/local/%s/api/v1/healthz", job);
    for (int i = 0; i < 3000; i++) {
        srv_call(&r, base, key, "GET", path, NULL);
        st = r.status;
        srv_resp_free(&r);
        if (st == 200)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (st != 200)
        return NULL;
    snprintf(path, sizeof path, "/training/v1/rlorTrainerJobs/local/%s/api/v1/create_session", job);
    srv_call(&r, base, key, "POST", path, "{\"type\":\"create_session\",\"tags\":[],\"user_metadata\":{}}");
    const cJSON *sid = r.json ? cJSON_GetObjectItemCaseSensitive(r.json, "session_id") : NULL;
    if (!cJSON_IsString(sid)) {
        srv_resp_free(&r);
        return NULL;
    }
    char body[512];
    snprintf(body, sizeof body,
             "{\"session_id\":\"%s\",\"model_seq_id\":0,\"base_model\":\"accounts/fireworks/models/byte\","
             "\"type\":\"create_model\"}",
             sid->valuestring);
    srv_resp_free(&r);
    cJSON *res = srv_op(base, key, job, "create_model", body);
    const cJSON *mid = res ? cJSON_GetObjectItemCaseSensitive(res, "model_id") : NULL;
    char *out = cJSON_IsString(mid) ? strdup(mid->valuestring) : NULL;
    cJSON_Delete(res);
    return out;
}
