/* Small helpers shared by the control-plane api modules (jobs_internal.h). */
#include "api/jobs_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "json/json.h"

const char *fwt__last_segment(const char *name)
{
    if (!name)
        return NULL;
    const char *s = strrchr(name, '/');
    return s ? s + 1 : name;
}

int fwt__contains_ci(const char *hay, const char *needle)
{
    if (!hay || !needle)
        return 0;
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

char *fwt__json_dup(const cJSON *obj, const char *key, const char *key2)
{
    const char *v = NULL;
    if (key2)
        (void)fwt__json_get_string2(obj, key, key2, &v);
    else
        (void)fwt__json_get_string(obj, key, &v);
    return fwt__strdup(v ? v : "");
}

char *fwt__control_base(fwt_client *c)
{
    const char *b = fwt_client_base_url(c);
    if (!b)
        return NULL;
    size_t n = strlen(b);
    while (n > 0 && b[n - 1] == '/')
        n--;
    return fwt__strndup(b, n);
}

int fwt__check_resource_id(const char *arg, const char *value)
{
    if (!value || !*value)
        return fwt__last_set(FWT_EINVAL, "%s is required", arg);
    size_t n = strlen(value);
    if (n > 200)
        return fwt__last_set(FWT_EINVAL, "%s is longer than 200 characters", arg);
    if (strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
        return fwt__last_set(FWT_EINVAL, "%s must not be \"%s\"", arg, value);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == '.'))
            return fwt__last_set(FWT_EINVAL, "%s contains an invalid character (allowed: letters, digits, '-', '_', '.')",
                                 arg);
    }
    return FWT_OK;
}

/* Resolve (unless given) and check the account, escape it and `id`. */
static int url_parts(fwt_client *c, const char *account, const char *id, char **base, char **acc, char **id_esc)
{
    *base = *acc = *id_esc = NULL;
    int rc = account ? FWT_OK : fwt__client_account(c, &account);
    if (rc != FWT_OK)
        return rc;
    if ((rc = fwt__check_resource_id("account id", account)) != FWT_OK)
        return rc;
    *base = fwt__control_base(c);
    *acc = fwt__url_escape(account);
    *id_esc = id ? fwt__url_escape(id) : fwt__strdup("");
    if (!*base || !*acc || !*id_esc) {
        fwt__free_mem(*base);
        fwt__free_mem(*acc);
        fwt__free_mem(*id_esc);
        *base = *acc = *id_esc = NULL;
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return FWT_OK;
}

/* Control plane ("{base}/v1/accounts/{a}/{collection}[/{id}]{suffix}") or trainer gateway
 * ("{base}/training/v1/rlorTrainerJobs/{a}/{id}{suffix}", collection NULL) URLs. */
static int build_url(char **out, fwt_client *c, const char *account, const char *collection, const char *id,
                     const char *suffix)
{
    *out = NULL;
    char *base, *acc, *ide;
    int rc = url_parts(c, account, id, &base, &acc, &ide);
    if (rc != FWT_OK)
        return rc;
    if (collection)
        *out = fwt__asprintf("%s/v1/accounts/%s/%s%s%s%s", base, acc, collection, id ? "/" : "", ide,
                             suffix ? suffix : "");
    else
        *out = fwt__asprintf("%s/training/v1/rlorTrainerJobs/%s/%s%s", base, acc, ide, suffix ? suffix : "");
    fwt__free_mem(base);
    fwt__free_mem(acc);
    fwt__free_mem(ide);
    return *out ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
}

int fwt__account_url(char **out, fwt_client *c, const char *account, const char *collection, const char *id,
                     const char *suffix)
{
    return build_url(out, c, account, collection, id, suffix);
}

int fwt__trainer_url(char **out, fwt_client *c, const char *job_id, const char *suffix)
{
    return build_url(out, c, NULL, NULL, job_id, suffix);
}

int fwt__path_is_safe(const char *path)
{
    if (!path || !*path || path[0] == '/')
        return 0;
    for (const char *p = path; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/'))
            return 0;
    }
    if (strstr(path, "..") || strstr(path, "//"))
        return 0;
    return 1;
}

int fwt__poll_transient(const fwt__reply *r)
{
    if (r->http_status == 0)
        return r->err.pub.code != FWT_ECANCELED && r->err.pub.code != FWT_EINVAL && r->err.pub.code != FWT_ENOMEM &&
               r->err.pub.code != FWT_ETLS && r->err.pub.code != FWT_ETOOLARGE;
    long s = r->http_status;
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

void fwt__headers_free(char **h)
{
    if (!h)
        return;
    for (char **p = h; *p; p++)
        fwt__free_mem(*p);
    fwt__free_mem(h);
}

void fwt__err_from_reply(fwt__err *e, const fwt__reply *r, const char *context)
{
    fwt__err_copy(e, &r->err);
    if (e->pub.code == FWT_OK)
        fwt__err_set(e, FWT_EHTTP, "unexpected reply (HTTP %ld)", r->http_status);
    if (context && *context) {
        char *m = fwt__asprintf("%s: %s", context, e->message ? e->message : "");
        if (m) {
            fwt__free_mem(e->message);
            e->message = m;
            e->pub.message = m;
        }
    }
}

int fwt__last_set_reply(const fwt__reply *r, const char *context)
{
    fwt__err e;
    fwt__err_init(&e);
    fwt__err_from_reply(&e, r, context);
    int code = fwt__last_set_err(&e);
    fwt__err_clear(&e);
    return code;
}

int fwt__last_set_replyf(const fwt__reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *ctx = fwt__vasprintf(fmt, ap);
    va_end(ap);
    int code = fwt__last_set_reply(r, ctx ? ctx : "");
    fwt__free_mem(ctx);
    return code;
}

int fwt__cp_call(fwt_client *c, const char *method, const char *url, const cJSON *body, int64_t timeout_ms,
                 fwt__reply *r)
{
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.method = method;
    call.url = url;
    call.body = body;
    call.retry = FWT__RC_CONTROL;
    call.header_timeout_ms = timeout_ms;
    fwt__reply_init(r);
    return fwt__call_sync(c, &call, r);
}
