/*
 * Engine internals shared by the src/http sources files. Not a contract: only the
 * engine includes it.
 *
 * Ownership: an op (request or posted task) is created by the submitting
 * thread, then owned by the worker. The submitting thread and cancel() only
 * touch the fields marked "mu" while holding fwt__engine.mu. A caller-thread
 * run (direct.c) keeps its op on its own stack and never shares it: the
 * fields marked "worker" are then the calling thread's, and the heap,
 * inbox, live list and pool are not used.
 */
#ifndef FWT_HTTP_ENGINE_INT_H
#define FWT_HTTP_ENGINE_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "fwt_util.h"
#include "backoff.h"
#include "http/engine.h"

enum { FWT__OP_REQ = 1, FWT__OP_TASK = 2 };
/* QUEUED: in the inbox; ADMIT: taken by the worker, waiting in its host's FIFO for a transfer slot
 * (no easy handle, no socket); RUNNING: an attempt in the multi handle; WAITING: a retry's backoff. */
enum { FWT__RS_QUEUED = 0, FWT__RS_RUNNING, FWT__RS_WAITING, FWT__RS_DONE, FWT__RS_ADMIT };

/* Bounds on what the header callback copies (response headers are untrusted). */
#define FWT__HDR_VALUE_MAX 256
/* Response headers (all lines of one attempt) beyond this are refused at once with
 * FWT_ETOOLARGE: below libcurl 7.88's own 300 KiB limit, so the answer does not depend
 * on the libcurl version. */
#define FWT__MAX_HEADER_BYTES (256 * 1024)

typedef struct fwt__req {
    struct fwt__engine *eng;
    struct fwt__op *op;
    /* the spec, copied (borrowed by caller-thread runs, whose spec outlives them) */
    const char *method;            /* static spelling */
    const char *url;
    int direct;                    /* a caller-thread run (direct.c): url and body point into the
                                      caller's spec; no worker heap, no fallback result */
    int https;                     /* the URL's scheme (decides the proxy options) */
    size_t origin_len;             /* url[0, origin_len) = scheme://authority: the admission host key */
    struct fwt__host *host;        /* worker: its admission host (engine.c), NULL until taken */
    char *url_log;                 /* scheme://host[:port]/path: no userinfo, query or fragment */
    struct curl_slist *headers;    /* caller headers + X-Idempotency-Key + "Expect:", one block (transfer.c) */
    size_t headers_bytes;          /* its size, for wiping */
    const void *body;
    size_t body_len;
    int64_t connect_timeout_ms, header_timeout_ms, body_timeout_ms;
    uint64_t deadline_at;          /* absolute engine ms; 0 = none */
    int64_t max_bytes;
    fwt__retry_policy retry;
    fwt__http_done_fn cb;
    void *ud;

    /* worker state (the calling thread's in a caller-thread run) */
    int state;                     /* FWT__RS_* */
    CURL *easy;
    uint64_t first_attempt_ms;
    uint64_t attempt_start_ms;
    uint64_t headers_at_ms;
    int headers_done;
    int attempts;
    int retry_n;                   /* retries scheduled so far */
    fwt__backoff backoff;          /* full-jitter ceilings min(cap, base * 2^retry_n) (util/backoff.h) */
    int abort_reason;              /* why the worker pulled the transfer: FWT__ABORT_* */
    int reached;                   /* some attempt got past connecting: the unreachable budget is off */
    int last_rc;                   /* CURLcode of the latest failed attempt (0 = none) */
    long last_os_errno;            /* CURLINFO_OS_ERRNO of that attempt */

    /* current attempt's response */
    long status;                   /* from the last status line seen */
    char *rbody;
    size_t rlen, rcap;
    int too_large;
    int hdr_too_large;             /* response headers over FWT__MAX_HEADER_BYTES */
    size_t hdr_bytes;              /* header bytes of this attempt so far */
    int oom;                       /* the body buffer could not grow */
    char ctype[FWT__HDR_VALUE_MAX];
    char reqid[FWT__HDR_VALUE_MAX];
    char retry_after[FWT__HDR_VALUE_MAX];
    char retry_after_ms[FWT__HDR_VALUE_MAX];
    char date[FWT__HDR_VALUE_MAX];
    int should_retry;              /* x-should-retry: -1 absent, 0 false, 1 true */
    char errbuf[CURL_ERROR_SIZE];

    fwt__http_result *last;        /* outcome kept for when retries stop (latest response, else error) */
    fwt__http_result *fallback;    /* preallocated ENOMEM result: the callback always gets one */
} fwt__req;

enum { FWT__ABORT_NONE = 0, FWT__ABORT_HEADER, FWT__ABORT_BODY, FWT__ABORT_DEADLINE };

/* A caller-thread transfer lane (direct.c): a private multi handle whose connection
 * cache persists between calls, and the one easy handle it drives. */
typedef struct fwt__lane {
    CURLM *multi;
    CURL *easy;
    struct fwt__lane *next;        /* mu: idle stack or busy list */
} fwt__lane;

/* The two doubly linked lists an op can be on (engine.c list_push / list_unlink); worker only. */
enum {
    FWT__LIST_ADMIT = 0,           /* its host's admission FIFO (state ADMIT) */
    FWT__LIST_ACTIVE = 1           /* requests queued for admission, running or waiting to retry */
};

/*
 * Admission (engine.c): at most max_transfers requests have an attempt in the multi handle,
 * at most max_per_host of them to one origin (scheme://authority). The others wait in their
 * origin's FIFO holding neither an easy handle nor a socket; a free slot goes to the oldest
 * waiting request (lowest id) among the origins that have room. Worker only.
 */
typedef struct fwt__host {
    char *origin;                  /* scheme://authority, copied */
    size_t origin_len;
    int running;                   /* attempts of this origin in the multi handle */
    size_t refs;                   /* requests pointing here; freed at 0 */
    struct fwt__op *qhead, *qtail; /* FIFO by id (FWT__LIST_ADMIT links) */
    struct fwt__host *next;
} fwt__host;

typedef struct fwt__op {
    uint64_t id;
    int kind;
    struct {
        struct fwt__op *prev, *next;
    } link[2];                     /* indexed by FWT__LIST_* */
    /* mu: */
    struct fwt__op *hnext;         /* id index chain (engine.c), while not finished */
    struct fwt__op *qnext;         /* inbox */
    struct fwt__op *cnext;         /* cancel queue */
    int cancelled;
    int finished;                  /* callback/task started or op dropped */
    int in_cancel_q;
    int zombie;                    /* finished while queued for cancel: freed when drained */
    /* worker: */
    uint64_t due;                  /* timer (task due, retry due, transfer deadline) */
    size_t heap_idx;               /* SIZE_MAX when not in the heap */
    uint64_t delay_ms;             /* task delay, turned into `due` by the worker */
    fwt__task_fn fn;
    void *ud;
    fwt__req *req;
} fwt__op;

struct fwt__engine {
    fwt__clock clock;
    int fake_sleep;                /* a custom sleep_ms was given */
    char *user_agent;
    int64_t max_response_bytes;
    fwt__log_sink log;
    void *log_ctx;
    int log_debug;                 /* log set and DEBUG lines wanted */
    int max_pooled;
    int max_transfers;             /* admission: attempts in the multi handle at once */
    int max_per_host;              /* admission: of those, to one origin */
    char *proxy;                   /* fwt__engine_config.proxy copied (NULL = environment, https only) */
    char *redact;                  /* fwt__engine_config.redact copied; wiped on free */
    size_t redact_len;

    CURLM *multi;
    pthread_t thread;

    pthread_mutex_t mu;
    fwt__op **idx;                 /* mu: every op not finished, hashed by id (cancel is O(1)) */
    size_t idx_cap, idx_len;       /* mu: buckets (a power of two), ops indexed */
    fwt__op *inbox_head, *inbox_tail;  /* mu */
    fwt__op *cancel_q;             /* mu */
    uint64_t next_id;              /* mu */
    int closed;                    /* mu: worker exited, nothing is accepted */
    atomic_int stopping;

    /* caller-thread runs (direct.c) */
    fwt__lane *lanes_idle;         /* mu: kept for reuse, at most max_idle_lanes */
    int lanes_idle_n;              /* mu */
    int max_idle_lanes;
    fwt__lane *lanes_busy;         /* mu: lanes inside fwt__engine_run, woken on free */
    int direct_running;            /* mu */
    pthread_cond_t direct_cv;      /* signalled when direct_running drops to 0 during shutdown */

    pthread_mutex_t rng_mu;        /* default random state */
    uint64_t rng;

    /* worker only */
    fwt__op **heap;
    size_t heap_len, heap_cap;
    CURL **pool;                   /* idle easy handles; grows with the concurrency reached, up to max_pooled */
    int pool_len, pool_cap;
    fwt__op *active;               /* requests ADMIT, RUNNING or WAITING */
    fwt__host *hosts;              /* origins with requests (admission) */
    size_t n_admit;                /* requests in ADMIT state */
    int n_running;
    size_t n_owned;                /* ops taken from the inbox and not finished */
    int self_posted;               /* the worker queued ops or cancels itself (no wakeup sent): drain before polling */
};

/* ---- timer heap (heap.c); worker only ---- */
/* Room for n entries. The worker reserves one slot per op it owns, so pushes and
 * updates never need memory afterwards. 0 or -1 (OOM). */
int fwt__heap_reserve(fwt__engine *e, size_t n);
int fwt__heap_push(fwt__engine *e, fwt__op *op);   /* 0 or -1 (OOM) */
void fwt__heap_remove(fwt__engine *e, fwt__op *op); /* no-op if absent */
void fwt__heap_update(fwt__engine *e, fwt__op *op, uint64_t due); /* push or move */
fwt__op *fwt__heap_peek(const fwt__engine *e);
fwt__op *fwt__heap_pop(fwt__engine *e);

/* Longest single wait in curl_multi_poll, for the worker and caller-thread runs alike:
 * deadlines and shutdown are re-checked at least this often. */
#define FWT__POLL_MAX_MS 60000

/* ---- caller-thread runs (direct.c) ---- */
/* Wake every busy lane, wait until no run holds one, free the idle ones. stopping is set. */
void fwt__engine_lanes_shutdown(fwt__engine *e);

/* ---- clock (clock.c) ---- */
void fwt__clock_fill_defaults(fwt__engine *e);
uint64_t fwt__engine_random(fwt__engine *e);

/* ---- transfers (transfer.c): the worker, or the calling thread of a run for its own op ---- */
/* direct: for a caller-thread run, which keeps pointers to the spec's url and body instead of
 * copies (the spec outlives the request). */
fwt__req *fwt__req_new(const fwt__http_spec *spec, fwt__engine *e, uint64_t now, int direct, int *err);
void fwt__req_free(fwt__req *r);
/* Start one attempt on the worker. Returns FWT_OK or an error status (the request is then not running). */
int fwt__transfer_start(fwt__engine *e, fwt__op *op);
/* Detach the worker's running transfer and recycle its easy handle. */
void fwt__transfer_stop(fwt__engine *e, fwt__op *op);
/* A new easy handle with the options every request shares (safety defaults, callbacks). */
CURL *fwt__easy_new(const fwt__engine *e);
/* Either thread kind: configure `h` for the next attempt of op's request, count the attempt
 * and add it to `multi`. FWT_OK or FWT_ENOMEM (h is then not added and not freed). */
int fwt__transfer_attach(fwt__engine *e, fwt__op *op, CURLM *multi, CURL *h);
/* Remove the request's easy handle from `multi` and clear its pointers into the request;
 * returns the handle, ready for another request's attach. */
CURL *fwt__transfer_detach(fwt__op *op, CURLM *multi);
/* Build the result of a finished attempt from curl's code and the buffers. */
fwt__http_result *fwt__transfer_outcome(fwt__engine *e, fwt__op *op, CURLcode rc, int *conn_class);
fwt__http_result *fwt__result_new_error(int status, const char *msg);
/* Nearest deadline of a running transfer (0 = none). */
uint64_t fwt__transfer_deadline(const fwt__req *r);

/* ---- after an attempt (settle.c): shared by the worker and caller-thread runs ---- */
/*
 * An attempt of r ended with `res` (owned; NULL = out of memory). Logs it, then either
 * returns 1 with *final the result to complete with (NULL: use r->fallback), or
 * returns 0 with *delay_ms the wait before the next attempt (r->retry_n advanced).
 */
int fwt__req_settle(fwt__engine *e, fwt__req *r, fwt__http_result *res, int conn_class, uint64_t now,
                    fwt__http_result **final, int64_t *delay_ms);
/* A running attempt's timer fired at `now`: 1 with *final (ETIMEDOUT) when the overall
 * deadline passed, else 0 with *res the connection-class error of a header/body timeout
 * (to pass to fwt__req_settle). The caller has detached the transfer already. */
int fwt__req_timer_outcome(fwt__engine *e, fwt__req *r, uint64_t now, fwt__http_result **res);

/* ---- retries (retry.c) ---- */
/* Is this outcome retryable under policy `p`? res is the attempt's outcome; `conn_class`
 * marks transport failures that count as connection errors. */
int fwt__retry_retryable(const fwt__retry_policy *p, const fwt__http_result *res, int conn_class);
/* The policy's backoff (util/backoff.h: full jitter, base 0 = 500, cap 0 = 30000), as a request starts it. */
void fwt__retry_backoff_init(const fwt__retry_policy *p, fwt__backoff *b);
/* Ceiling of the backoff before retry n (0-based): min(cap, base * 2^n). */
uint64_t fwt__backoff_ceiling(const fwt__retry_policy *p, int n);
/* Budget in ms after defaults (0 = unlimited). */
int64_t fwt__retry_budget(const fwt__retry_policy *p, int64_t deadline_ms);

/* ---- URLs (url.c) ---- */
/* One parse for submit: 1 if http(s) with a host (then *log_out, unless log_out is NULL,
 * = fwt__url_for_log form, malloc'd), 0 if invalid, -1 on OOM. */
int fwt__url_inspect(const char *url, int *is_https, int *is_loopback, char **log_out);
/* The URL without userinfo, query or fragment; malloc'd. */
char *fwt__url_for_log(const char *url);

/* "host:port" of a URL (default port filled in) into out; "(unknown host)" if unparseable. */
void fwt__url_host_port(const char *url, char *out, size_t n);

/* ---- logging ---- */
void fwt__engine_logf(const fwt__engine *e, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* FWT_HTTP_ENGINE_INT_H */
