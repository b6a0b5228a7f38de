/*
 * API calls on top of the engine: per-plane base URLs and auth headers
 * (docs/protocol.md §1), JSON bodies, retry classes (§2.3), error bodies turned into
 * fwt__err (§2.2 as refined by §11.1). Used by every src/api module; the
 * engine below knows nothing of this.
 */
#ifndef FWT_CORE_REQUEST_H
#define FWT_CORE_REQUEST_H

#include <cjson/cJSON.h>

#include "fwt_util.h"
#include "fwtrain/client.h"
#include "http/engine.h"

typedef enum fwt__plane {
    FWT__PLANE_CONTROL = 0,   /* X-Api-Key + Authorization: Bearer (§1, §10.5) */
    FWT__PLANE_TRAINER = 1,   /* X-API-Key (+ Bearer, harmless) */
    FWT__PLANE_HOTLOAD = 2,   /* X-Api-Key + Bearer */
    FWT__PLANE_INFERENCE = 3  /* X-Api-Key + Bearer */
} fwt__plane;

typedef enum fwt__retry_class {
    FWT__RC_NONE = 0,     /* one attempt (polls, heartbeats) */
    FWT__RC_CONTROL = 1,  /* 408, 429, 500/502/503/504, connection errors (§2.3, §11.2–3) */
    FWT__RC_SUBMIT = 2    /* trainer submit: 408, 409, 429, any 5xx, connection, empty 400 (§2.3) */
} fwt__retry_class;

typedef struct fwt__call {
    fwt__plane plane;
    const char *method;               /* "GET" | "POST" | "PATCH" | "DELETE" */
    const char *url;                  /* absolute; build with fwt__url_* helpers */
    const cJSON *body;                /* NULL = no body; serialised at submit (borrowed) */
    const char *const *extra_headers; /* NULL-terminated "Name: value"; copied */
    fwt__retry_class retry;
    const char *idempotency_key;      /* NULL: a fresh key for non-GET; reuse across outer retries */
    int64_t header_timeout_ms;        /* 0: client default */
    int64_t body_timeout_ms;          /* 0: client default */
    int64_t deadline_ms;              /* 0: none beyond the retry budget */
} fwt__call;

typedef struct fwt__reply {
    long http_status;   /* 0 when no response arrived */
    cJSON *json;        /* parsed body when it was valid JSON, else NULL; owned */
    char *body;         /* raw body, NUL-terminated, never NULL; owned */
    size_t body_len;
    int64_t retry_after_ms; /* -1 if none */
    int attempts;
    fwt__err err;       /* code FWT_OK on 2xx; otherwise mapped (see fwt__reply_map) */
    int transport_failed; /* nonzero: no complete HTTP response; err.pub.code says why (ETIMEDOUT, ECONNECT, ...) */
} fwt__reply;

void fwt__reply_init(fwt__reply *r);
void fwt__reply_clear(fwt__reply *r);

/*
 * Map a non-2xx reply to an error (§2.2, §11.1 message rules):
 * 401/403→EAUTH; 404→ENOTFOUND; 409→ECONFLICT; 429→ERATELIMIT;
 * any other status→the canonical code of the body when it states one
 * ({"code":6} → ECONFLICT, see fwt__status_from_canonical), else EHTTP.
 * The message is "<server message> (HTTP <n>)"; only a 401 adds the API-key hint,
 * a 403 reads "permission denied: <server message> (HTTP 403)". Also used by
 * callers that post-process replies themselves.
 */
int fwt__reply_map(fwt__reply *r);

/*
 * The fwt_status a canonical status code states (google.rpc.Code: "ALREADY_EXISTS" or 6 →
 * FWT_ECONFLICT, NOT_FOUND → FWT_ENOTFOUND, PERMISSION_DENIED / UNAUTHENTICATED → FWT_EAUTH,
 * INVALID_ARGUMENT / OUT_OF_RANGE → FWT_EINVAL, RESOURCE_EXHAUSTED → FWT_ERATELIMIT,
 * FAILED_PRECONDITION → FWT_ESTATE, ABORTED → FWT_ECONFLICT, DEADLINE_EXCEEDED →
 * FWT_ETIMEDOUT, UNIMPLEMENTED → FWT_EUNSUPPORTED, CANCELLED / UNKNOWN / INTERNAL /
 * UNAVAILABLE / DATA_LOSS → FWT_EREMOTE). `name` wins when given (case-insensitive);
 * otherwise `number` (-1 = none). OK, unknown names and numbers give `fallback` (error.c).
 */
int fwt__status_from_canonical(const char *name, int number, int fallback);
/* The same for a JSON error object or response: its "code" (name or number) or "status"
 * (name), also one level down in "error" when that is an object. NULL → fallback. */
int fwt__status_from_json(const cJSON *obj, int fallback);

/* §11.1 error text of a body: error.message | error JSON | error string | message | body | trimmed ≤200 chars. */
char *fwt__error_text(const char *body, size_t len, const cJSON *json);

typedef void (*fwt__call_done)(fwt__reply *reply, void *ud); /* worker thread; callee owns reply (clear + free via fwt__reply_free) */
void fwt__reply_free(fwt__reply *r);

/* Asynchronous call. Returns FWT_OK (cb will run exactly once) or an error (it will not). */
int fwt__call_async(fwt_client *c, const fwt__call *call, fwt__call_done cb, void *ud, uint64_t *out_id);

/*
 * The asynchronous call's twin on the calling thread: performs `call` here (fwt__engine_run)
 * and returns FWT_OK with *out the reply, filled exactly as fwt__call_async delivers it (heap;
 * release with fwt__reply_free), or the error fwt__call_async would have returned at submit
 * (*out NULL). FWT_ESTATE on the worker thread. Records no last error.
 */
int fwt__call_run(fwt_client *c, const fwt__call *call, fwt__reply **out);

/*
 * Blocking call from a user thread. Fills *out (caller clears it). Returns
 * FWT_OK for a 2xx, else the mapped error which is also recorded as the
 * thread's last error. FWT_ESTATE when called on the worker thread.
 */
int fwt__call_sync(fwt_client *c, const fwt__call *call, fwt__reply *out);

/* ---- client internals the api modules need ---- */
fwt__engine *fwt__client_engine(fwt_client *c);
const fwt__logger *fwt__client_logger(const fwt_client *c);
const fwt_client_options *fwt__client_options(const fwt_client *c); /* resolved defaults; api_key NULL */
const char *fwt__client_hotload_url(const fwt_client *c);
const char *fwt__client_inference_url(const fwt_client *c);
/* Resolves the account (blocking, src/api/account.c) and returns it borrowed; sets the last error on failure. */
int fwt__client_account(fwt_client *c, const char **out);
/* Finds the account id of c's key; *out (fwt__malloc) on FWT_OK. Called with the slot's lock held, once. */
typedef int (*fwt__account_resolve_fn)(fwt_client *c, char **out);
/* The cached account id, resolved with `resolve` the first time (core/client.c). */
int fwt__client_account_slot(fwt_client *c, fwt__account_resolve_fn resolve, const char **out);

/* Test seam: create a client whose engine uses `clock` (NULL = real). */
int fwt__client_new_with_clock(fwt_client **out, const fwt_client_options *opts, const fwt__clock *clock);

/*
 * Objects built on a client (training sessions, job handles, ...) attach a
 * detach hook; fwt_client_free calls it (after the worker stopped) so they
 * stop using the client instead of touching freed memory.
 */
int fwt__client_attach(fwt_client *c, void (*detach)(void *ud), void *ud, void **handle);
void fwt__client_detach(fwt_client *c, void *handle);
/*
 * Validate a base URL (http/https, a host, no credentials/query; http only to
 * loopback unless allow_insecure_http). *out = copy without trailing '/'.
 * Sets the last error naming `what` and returns FWT_EINVAL on failure.
 */
int fwt__check_base_url(const char *what, const char *url, int allow_insecure_http, char **out);
/* Response bodies and header values are scrubbed of keys at least this long (request.c). */
#define FWT__SCRUB_MIN_KEY 8
/* A copy of msg with the API key replaced by "[REDACTED]" (fwt__free_mem). */
char *fwt__client_scrub_dup(const fwt_client *c, const char *msg);

/*
 * Per-client compatibility flags learnt from the server and remembered for the
 * client's life (e.g. docs/protocol.md §3.8: hotload rejected reset_prompt_cache).
 */
enum { FWT__COMPAT_NO_RESET_PROMPT_CACHE = 1u << 0, FWT__COMPAT_NO_ASYNC_PROMOTION = 1u << 1 };
unsigned fwt__client_compat(const fwt_client *c);          /* atomic load */
void fwt__client_compat_set(fwt_client *c, unsigned bits); /* atomic OR */

/* URL building: base + path, each %s argument percent-encoded as a path segment.
 * Supported conversions: %s (escaped), %d, %lld, %%. NULL on OOM. */
char *fwt__url_join(const char *base, const char *path_fmt, ...);
/* Percent-encode one path segment or query value (RFC 3986 unreserved kept). */
char *fwt__url_escape(const char *s);

#endif /* FWT_CORE_REQUEST_H */
