/* What the in-process uses of fwtrain-local (tests/server, tests/fuzz, bench/server) share: a request's headers
 * and query answered from one pair each (what fwl_req_init asks through its lookup), the in-process round trip
 * through the route table, and removing a data directory. Header-only: each user links fwl_core already. */
#ifndef FWT_TEST_FWL_INPROC_H
#define FWT_TEST_FWL_INPROC_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "request.h"
#include "route.h"
#include "server.h"

/* At most one header and one query parameter (NULL names: none). */
typedef struct fwl_test_lk {
    const char *hname, *hval, *qname, *qval;
} fwl_test_lk;

static inline const char *fwl_test_lookup(void *ctx, fwl_lookup_kind kind, const char *key)
{
    const fwl_test_lk *l = ctx;
    if (kind == FWL_LOOKUP_HEADER)
        return l->hname && strcasecmp(l->hname, key) == 0 ? l->hval : NULL;
    return l->qname && strcmp(l->qname, key) == 0 ? l->qval : NULL;
}

/* One request through the route table: its status, and the answer's body in *body (the caller frees it; NULL
 * when there is none). -1 when the request could not be built. */
static inline int fwl_test_route(fwl_server *s, const char *method, const char *path, const fwl_test_lk *l,
                                 const char *body, char **out_body)
{
    static const fwl_test_lk none = {0};
    fwl_req r;
    fwl_resp out = {0};
    *out_body = NULL;
    if (fwl_req_init(&r, method, path, body, body ? strlen(body) : 0, fwl_test_lookup,
                     (void *)(l ? l : &none)) != 0)
        return -1;
    fwl_route(s, &r, &out);
    fwl_req_free(&r);
    *out_body = out.body;
    return out.status;
}

static inline int fwl_test_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* rm -rf dir (best effort: what cannot be removed stays). */
static inline void fwl_test_rm_rf(const char *dir)
{
    nftw(dir, fwl_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* FWT_TEST_FWL_INPROC_H */
