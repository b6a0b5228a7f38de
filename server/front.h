/* The two HTTP fronts share one request logic (http.c): libmicrohttpd with a thread per connection (http.c) and
 * the event-driven front (front.c: our own HTTP/1.1 over epoll, h1.c parses). */
#ifndef FWL_FRONT_H
#define FWL_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "faults.h"
#include "request.h"
#include "state.h"

/* One request as a front hands it to the shared logic. */
typedef struct fwl_http_call {
    const char *method;
    const char *url;          /* the path, %-decoded, without the query */
    const char *body;         /* NUL-terminated (NULL: none) */
    size_t len;
    fwl_lookup_fn lookup;     /* headers and query parameters */
    void *lookup_ctx;
    bool too_large;           /* the body went over --max-body-mib (only the size was kept) */
    void *park;               /* non-NULL: the request may park on this token (futures.h) */
    int64_t park_deadline_us; /* != 0: a resumed parked request (authorised, fault drawn on its first run) */
    fwl_fault_kind fault;     /* drawn on the first run */
    int64_t t0_us;            /* when the first run started */
} fwl_http_call;

/* The response for a whole request: 413, 401, an injected status fault, or the router's (r->parked: none yet). */
void fwl_http_handle(fwl_server *s, fwl_http_call *c, fwl_resp *r);
/* The log line of an answered request (errors, faults, or every request with --verbose). */
void fwl_http_log_answer(fwl_server *s, const fwl_http_call *c, const fwl_resp *r);
/* The 413 for a declared Content-Length over the limit (cl: the header as sent). */
void fwl_http_too_large(fwl_server *s, const char *method, const char *url, const char *cl, fwl_resp *r);
/* A log line that a flood repeats: the same line within a second is counted, not printed. */
void fwl_http_log_collapsed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The event-driven front on the listening socket fd (taken over: closed by fwl_front_stop). 0 or -1. */
int fwl_front_start(fwl_server *s, int fd, int threads);
/* Stops accepting, answers parked long-polls (try_again), closes every connection and joins the threads. */
void fwl_front_stop(fwl_server *s);

#endif /* FWL_FRONT_H */
