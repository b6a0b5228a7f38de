/* The start every benchmark against fwtrain-local shares: the server (tests/support/local_server) and one client
 * with the default options talking to it. */
#ifndef FWT_BENCH_LOCAL_H
#define FWT_BENCH_LOCAL_H

#include <stdio.h>

#include "fwtrain/fwtrain.h"
#include "local_server.h"

/* Starts fwtrain-local with extra_args (NULL-terminated, or NULL) and opens *c on it. 0, or -1 with a message on
 * stderr (*srv may still need fwt_local_server_free). */
static inline int bench_local_start(fwt_local_server **srv, fwt_client **c, const char *const *extra_args)
{
    fwt_local_server_opts so;
    fwt_local_server_opts_init(&so);
    so.extra_args = extra_args;
    *c = NULL;
    if (fwt_local_server_start(srv, &so) != 0)
        return -1;
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = fwt_local_server_url(*srv);
    co.api_key = fwt_local_server_api_key(*srv);
    if (fwt_client_new(c, &co) != FWT_OK) {
        fprintf(stderr, "bench: client: %s\n", fwt_error_last()->message);
        return -1;
    }
    return 0;
}

#endif
