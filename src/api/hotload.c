/*
 * Hotload a snapshot into a deployment (docs/protocol.md §3.8, §11.3): POST
 * {hotload_base}/hot_load/v1/models/hot_load with the fireworks-model and
 * fireworks-deployment headers; control-plane retry class (425 is not
 * retried); the reset_prompt_cache compatibility retry is remembered per
 * client.
 */
#include "api/deployments_internal.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

int fwt_hotload_options_init(fwt_hotload_options *o, unsigned int version)
{
    if (!o || version != FWT_HOTLOAD_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_hotload_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    o->compression_format = "arc_v2";
    o->checksum_format = "alder32";
    return FWT_OK;
}

static int header_safe(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static char **hotload_headers(const char *account, const char *deployment_id, const char *base_model,
                              const char *source_url)
{
    char **h = fwt__calloc(4, sizeof *h);
    if (!h)
        return NULL;
    h[0] = fwt__asprintf("fireworks-model: %s", base_model);
    h[1] = fwt__asprintf("fireworks-deployment: accounts/%s/deployments/%s", account, deployment_id);
    if (source_url && *source_url)
        h[2] = fwt__asprintf("x-fireworks-hot-load-source-url: %s", source_url);
    if (!h[0] || !h[1] || (source_url && *source_url && !h[2])) {
        /* free each slot: a NULL in the middle would end fwt__headers_free early */
        for (int i = 0; i < 3; i++)
            fwt__free_mem(h[i]);
        fwt__free_mem(h);
        return NULL;
    }
    return h;
}

int fwt__hotload_prepare(fwt_client *c, const char *deployment_id, const char *base_model, const char *source_url,
                         char ***headers, char **url)
{
    *headers = NULL;
    *url = NULL;
    int rc = fwt__check_id("deployment_id", deployment_id);
    if (rc != FWT_OK)
        return rc;
    if (!base_model || !*base_model || !header_safe(base_model))
        return fwt__last_set(FWT_EINVAL, "base_model is required (and must be a plain string)");
    if (source_url && !header_safe(source_url))
        return fwt__last_set(FWT_EINVAL, "source_url contains control characters");
    const char *account = NULL;
    if ((rc = fwt__client_account(c, &account)) != FWT_OK)
        return rc;
    const char *b = fwt__client_hotload_url(c);
    size_t n = b ? strlen(b) : 0;
    while (n > 0 && b[n - 1] == '/')
        n--;
    *headers = hotload_headers(account, deployment_id, base_model, source_url);
    *url = b ? fwt__asprintf("%.*s/hot_load/v1/models/hot_load", (int)n, b) : NULL;
    if (!*headers || !*url) {
        fwt__headers_free(*headers);
        fwt__free_mem(*url);
        *headers = NULL;
        *url = NULL;
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return FWT_OK;
}

static cJSON *hotload_body(const char *identity, const fwt_hotload_options *o, int send_reset)
{
    cJSON *b = cJSON_CreateObject();
    if (!b)
        return NULL;
    int ok = fwt__json_add_string(b, "identity", identity) == FWT_OK;
    if (send_reset)
        ok &= fwt__json_add_bool(b, "reset_prompt_cache", !(o && o->no_reset_prompt_cache)) == FWT_OK;
    if (o && o->previous_snapshot_identity && *o->previous_snapshot_identity) {
        cJSON *m = cJSON_AddObjectToObject(b, "incremental_snapshot_metadata");
        ok &= m != NULL;
        if (m) {
            ok &= fwt__json_add_string(m, "previous_snapshot_identity", o->previous_snapshot_identity) == FWT_OK;
            ok &= fwt__json_add_string(m, "compression_format",
                                       o->compression_format && *o->compression_format ? o->compression_format
                                                                                       : "arc_v2") == FWT_OK;
            ok &= fwt__json_add_string(m, "checksum_format",
                                       o->checksum_format && *o->checksum_format ? o->checksum_format : "alder32") ==
                  FWT_OK;
        }
    }
    if (!ok) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

int fwt_deployment_hotload(fwt_client *c, const char *deployment_id, const char *base_model, const char *identity,
                           const fwt_hotload_options *opts)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "client is required");
    if (opts && opts->version != FWT_HOTLOAD_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_hotload_options version %u", opts->version);
    if (!identity || !*identity)
        return fwt__last_set(FWT_EINVAL, "identity (the snapshot name) is required");
    char **headers = NULL;
    char *url = NULL;
    int rc = fwt__hotload_prepare(c, deployment_id, base_model, opts ? opts->source_url : NULL, &headers, &url);
    if (rc != FWT_OK)
        return rc;
    int send_reset = !(fwt__client_compat(c) & FWT__COMPAT_NO_RESET_PROMPT_CACHE);
    for (int attempt = 0; attempt < 2; attempt++) {
        cJSON *body = hotload_body(identity, opts, send_reset);
        if (!body) {
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
            break;
        }
        fwt__call call = {0};
        call.plane = FWT__PLANE_HOTLOAD;
        call.method = "POST";
        call.url = url;
        call.body = body;
        call.extra_headers = (const char *const *)headers;
        call.retry = FWT__RC_CONTROL; /* 408/429/5xx/connection; never 425 (§11.3) */
        call.header_timeout_ms = FWT__CP_CREATE_TIMEOUT_MS;
        fwt__reply r;
        fwt__reply_init(&r);
        rc = fwt__call_sync(c, &call, &r);
        cJSON_Delete(body);
        int retry = send_reset && r.http_status == 400 && fwt__contains_ci(r.err.message, "reset_prompt_cache") &&
                    fwt__contains_ci(r.err.message, "extra inputs are not permitted");
        if (rc != FWT_OK && !retry) {
            char ctx[512];
            snprintf(ctx, sizeof ctx, "hotload of \"%.200s\" into deployment \"%s\" refused", identity, deployment_id);
            rc = fwt__last_set_reply(&r, ctx);
        }
        fwt__reply_clear(&r);
        if (!retry)
            break;
        fwt__client_compat_set(c, FWT__COMPAT_NO_RESET_PROMPT_CACHE);
        fwt__log(fwt__client_logger(c), FWT_LOG_INFO,
                 "hotload API rejected reset_prompt_cache; resending without it (remembered for this client)");
        send_reset = 0;
    }
    if (rc == FWT_OK)
        fwt__last_ok();
    fwt__headers_free(headers);
    fwt__free_mem(url);
    return rc;
}
