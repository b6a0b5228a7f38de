/* Status strings, owned error records and the thread-local last error. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fwt_util.h"

const char *fwt_strerror(int status)
{
    switch (status) {
    case FWT_OK: return "success";
    case FWT_EINVAL: return "invalid argument";
    case FWT_ENOMEM: return "out of memory";
    case FWT_ETIMEDOUT: return "timed out";
    case FWT_ECANCELED: return "cancelled";
    case FWT_EAUTH: return "authentication or permission failure";
    case FWT_ENOTFOUND: return "not found";
    case FWT_ERATELIMIT: return "rate limited";
    case FWT_EEXPIRED: return "promise expired; the operation is lost";
    case FWT_EREMOTE: return "the remote operation failed";
    case FWT_EPROTO: return "protocol error: unexpected server response";
    case FWT_EHTTP: return "HTTP error";
    case FWT_ECONNECT: return "connection failure";
    case FWT_EIO: return "local I/O error";
    case FWT_ECONFLICT: return "conflict: already exists or in a transitional state";
    case FWT_ESTATE: return "wrong state for this call";
    case FWT_ETOOLARGE: return "response too large";
    case FWT_ETLS: return "TLS failure";
    case FWT_EAGAIN: return "not done yet";
    case FWT_ECORRUPT: return "corrupt local data";
    case FWT_EUNSUPPORTED: return "unsupported";
    default: return "unknown status";
    }
}

void fwt__err_init(fwt__err *e)
{
    memset(e, 0, sizeof *e);
    e->pub.message = "";
    e->pub.request_id = "";
}

void fwt__err_clear(fwt__err *e)
{
    if (!e)
        return;
    fwt__free_mem(e->message);
    fwt__free_mem(e->request_id);
    fwt__err_init(e);
}

static void err_set_message(fwt__err *e, char *msg)
{
    fwt__free_mem(e->message);
    e->message = msg;
    /* OOM while formatting: the code still tells the kind of failure. */
    e->pub.message = msg ? msg : fwt_strerror(e->pub.code);
}

int fwt__err_setv(fwt__err *e, int code, const char *fmt, va_list ap)
{
    if (!e)
        return code;
    e->pub.code = code;
    err_set_message(e, fwt__vasprintf(fmt, ap));
    return code;
}

int fwt__err_set(fwt__err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fwt__err_setv(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int fwt__err_copy(fwt__err *dst, const fwt__err *src)
{
    fwt__err_clear(dst);
    dst->pub = src->pub;
    dst->message = fwt__strdup(src->pub.message);
    dst->request_id = fwt__strdup(src->pub.request_id);
    dst->pub.message = dst->message ? dst->message : fwt_strerror(src->pub.code);
    dst->pub.request_id = dst->request_id ? dst->request_id : "";
    return src->pub.code;
}

void fwt__err_move(fwt__err *dst, fwt__err *src)
{
    fwt__err_clear(dst);
    *dst = *src;
    if (!dst->message)
        dst->pub.message = src->pub.message ? src->pub.message : "";
    if (!dst->request_id)
        dst->pub.request_id = "";
    fwt__err_init(src);
}

/* Fixed buffers: thread-local heap pointers would leak when threads exit. */
typedef struct tls_err {
    fwt_error pub;
    char message[1024];
    char request_id[160];
} tls_err;

static _Thread_local tls_err tls_last;

static tls_err *tls_get(void)
{
    tls_err *t = &tls_last;
    t->pub.message = t->message;
    t->pub.request_id = t->request_id;
    return t;
}

const fwt_error *fwt_error_last(void) { return &tls_get()->pub; }

void fwt__last_ok(void)
{
    tls_err *t = tls_get();
    t->pub.code = FWT_OK;
    t->pub.http_status = 0;
    t->pub.category = 0;
    t->pub.attempts = 0;
    t->message[0] = '\0';
    t->request_id[0] = '\0';
}

int fwt__last_set(int code, const char *fmt, ...)
{
    fwt__last_ok();
    tls_err *t = tls_get();
    t->pub.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->message, sizeof t->message, fmt, ap);
    va_end(ap);
    return code;
}

int fwt__last_set_err(const fwt__err *e)
{
    tls_err *t = tls_get();
    t->pub.code = e->pub.code;
    t->pub.http_status = e->pub.http_status;
    t->pub.category = e->pub.category;
    t->pub.attempts = e->pub.attempts;
    snprintf(t->message, sizeof t->message, "%s", e->pub.message ? e->pub.message : "");
    snprintf(t->request_id, sizeof t->request_id, "%s", e->pub.request_id ? e->pub.request_id : "");
    return e->pub.code;
}

int fwt__err_set_request_id(fwt__err *e, const char *request_id)
{
    fwt__free_mem(e->request_id);
    e->request_id = fwt__strdup(request_id ? request_id : "");
    e->pub.request_id = e->request_id ? e->request_id : "";
    return e->pub.code;
}

int fwt__check_name(const char *arg_name, const char *value, size_t max_len)
{
    if (!value)
        return fwt__last_set(FWT_EINVAL, "%s must not be NULL", arg_name);
    if (!*value)
        return fwt__last_set(FWT_EINVAL, "%s must not be empty", arg_name);
    if (strlen(value) > max_len)
        return fwt__last_set(FWT_EINVAL, "%s is longer than %zu characters", arg_name, max_len);
    if (strchr(value, '/'))
        return fwt__last_set(FWT_EINVAL, "%s must not contain '/' (got \"%s\")", arg_name, value);
    /* "." and ".." would be dot segments in a URL path (libcurl squashes them): never a valid name. */
    if (strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
        return fwt__last_set(FWT_EINVAL, "%s must not be \".\" or \"..\"", arg_name);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return fwt__last_set(FWT_EINVAL, "%s must not contain control characters", arg_name);
    return FWT_OK;
}
