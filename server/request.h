/* Requests and responses as the handlers see them, independent of libmicrohttpd: http.c (or a fuzz target, or
 * a unit test) builds an fwl_req with fwl_req_init and a lookup function for headers and query parameters. */
#ifndef FWL_REQUEST_H
#define FWL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* grpc status codes used in control-plane error bodies (docs/protocol.md §2.2) */
enum {
    FWL_GRPC_INVALID_ARGUMENT = 3,
    FWL_GRPC_DEADLINE_EXCEEDED = 4,
    FWL_GRPC_NOT_FOUND = 5,
    FWL_GRPC_ALREADY_EXISTS = 6,
    FWL_GRPC_PERMISSION_DENIED = 7,
    FWL_GRPC_RESOURCE_EXHAUSTED = 8,
    FWL_GRPC_FAILED_PRECONDITION = 9,
    FWL_GRPC_UNIMPLEMENTED = 12,
    FWL_GRPC_INTERNAL = 13,
    FWL_GRPC_UNAVAILABLE = 14,
    FWL_GRPC_UNAUTHENTICATED = 16
};

typedef enum { FWL_LOOKUP_HEADER, FWL_LOOKUP_QUERY } fwl_lookup_kind;
/* Returns the value of a header (case-insensitive name) or query parameter, NULL when absent. */
typedef const char *(*fwl_lookup_fn)(void *ctx, fwl_lookup_kind kind, const char *key);

typedef struct fwl_req {
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    char **seg;            /* path segments (pointers into path_copy) */
    size_t nseg;
    char *path_copy;
    /* a usual path needs no allocation: path_copy and seg point here when it fits */
    char path_buf[256];
    char *seg_buf[16];
    fwl_lookup_fn lookup;  /* may be NULL: no headers, no query */
    void *lookup_ctx;
    /* Event-driven HTTP (http.c's pool mode): non-NULL = a handler that would wait (retrieve_future's long-poll)
     * may instead park the request on this token (futures.h) and answer when resumed; NULL = it blocks. */
    void *park;
    int64_t park_deadline_us; /* a resumed request: the deadline it parked with (0 = first run) */
} fwl_req;

typedef struct fwl_resp {
    int status;
    char *body;            /* malloc'd JSON text, or NULL for an empty body */
    int retry_after_s;     /* > 0: send Retry-After */
    bool parked;           /* no answer yet: parked until park_deadline_us (fwl_req.park); run the router again
                            * when resumed */
    int64_t park_deadline_us;
} fwl_resp;

/* Splits path into segments. -1 when out of memory (r is then empty; fwl_req_free is still fine). */
int fwl_req_init(fwl_req *r, const char *method, const char *path, const char *body, size_t body_len,
                 fwl_lookup_fn lookup, void *lookup_ctx);
void fwl_req_free(fwl_req *r);

/* Query parameter / header lookup (NULL when absent). */
const char *fwl_req_query(const fwl_req *r, const char *key);
const char *fwl_req_header(const fwl_req *r, const char *key);
/* Parse the body as a JSON object; on failure fills a 400 into out and returns NULL. */
cJSON *fwl_req_json(const fwl_req *r, fwl_resp *out);
/* Segment i equals v. */
bool fwl_req_seg_is(const fwl_req *r, size_t i, const char *v);

/* Responses */
void fwl_resp_json(fwl_resp *out, int status, cJSON *obj); /* takes ownership of obj; NULL obj -> 500 */
void fwl_resp_error(fwl_resp *out, int http_status, int grpc_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 405 naming the method and what it was sent to. */
void fwl_resp_method(fwl_resp *out, const fwl_req *r, const char *what);
void fwl_resp_oom(fwl_resp *out);
int fwl_http_to_grpc(int http_status);

#endif /* FWL_REQUEST_H */
