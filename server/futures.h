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
} fwl_future;

fwl_future *fwl_future_new(fwl_server *s, const char *job);   /* registered; lock NOT held by caller; NULL: OOM */
void fwl_future_complete(fwl_server *s, fwl_future *f, cJSON *result); /* takes result (NULL: out of memory) */
void fwl_future_fail(fwl_server *s, fwl_future *f, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fwl_retrieve_future(fwl_server *s, fwl_req *r, fwl_resp *out);
void fwl_futures_free(fwl_server *s);

#endif /* FWL_FUTURES_H */
