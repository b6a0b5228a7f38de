/* The request table behind retrieve_future (futures.c, docs/protocol.md §4.2). */
#ifndef FWL_FUTURES_H
#define FWL_FUTURES_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "request.h"
#include "state.h"
#include "util.h"

typedef struct fwl_future {
    char id[48];
    char job[FWL_ID_MAX];
    int done;
    char *result;          /* JSON text once done */
    int64_t done_us;
    struct fwl_future *older, *newer; /* the table in creation order (the oldest completed one is evicted first) */
    struct fwl_future *hnext;         /* the id's hash chain */
} fwl_future;

fwl_future *fwl_future_new(fwl_server *s, const char *job);   /* registered; lock NOT held by caller; NULL: OOM */
void fwl_future_complete(fwl_server *s, fwl_future *f, cJSON *result); /* takes result (NULL: out of memory) */
void fwl_future_fail(fwl_server *s, fwl_future *f, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Long-polls up to --long-poll-ms for the result; with r->park set it parks instead of blocking (below). */
void fwl_retrieve_future(fwl_server *s, fwl_req *r, fwl_resp *out);
void fwl_futures_free(fwl_server *s);

/*
 * Parked long-polls (http.c's event-driven mode, where a blocked handler would hold a pool thread): the handler
 * registers a park for the request's token (fwl_req.park) and answers nothing; http.c suspends the connection
 * and calls fwl_park_suspended. When the future completes, the deadline passes or the server stops, the park
 * thread calls resume(token) and http.c runs the request again, which then answers.
 */
int fwl_park_start(fwl_server *s, void (*resume)(void *token));
/* The token's connection is suspended now: resume it when due (at once if already due). */
void fwl_park_suspended(fwl_server *s, void *token);
/* Forgets any park of token (its connection is gone). */
void fwl_park_drop(fwl_server *s, void *token);
/* Resumes every park and joins the park thread; call after s->stopping is set, before the HTTP daemon stops. */
void fwl_park_stop(fwl_server *s);

#endif /* FWL_FUTURES_H */
