/* Server lifecycle: lock the data dir, create its layout, start the background thread, resume operations,
 * listen; and the orderly stop. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bg.h"
#include "ckpt.h"
#include "dataplane.h"
#include "futures.h"
#include "http.h"
#include "promote.h"
#include "replica.h"
#include "route.h"
#include "store.h"
#include "util.h"

int fwl_server_start(fwl_server *s)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->rec_lock, NULL);
    pthread_cond_init(&s->fut_cond, NULL);
    uint64_t st = (uint64_t)fwl_now_us() ^ ((uint64_t)getpid() << 20);
    s->epoch = (uint32_t)fwl_rand_u64(&st);
    char p[4200];
    const char *sub[] = {"jobs", "deployments", "models", "operations"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", s->cfg.data_dir, sub[i]);
        if (fwl_mkdirs(p) != 0)
            return -1; /* fwl_mkdirs logged the path and the reason */
    }
    fwl_store_cleanup(s);
    if (fwl_bg_start(s, fwl_ttl_sweep) != 0) {
        fwl_log("cannot start the background thread");
        return -1;
    }
    fwl_operations_resume(s);
    if (fwl_http_start(s, fwl_route) != 0) {
        s->stopping = 1;
        fwl_bg_stop(s);
        return -1;
    }
    return 0;
}

void fwl_server_stop(fwl_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->fut_cond);
    pthread_mutex_unlock(&s->lock);
    fwl_http_stop(s);
    fwl_bg_stop(s);
    fwl_trainer_shutdown(s);
    fwl_replicas_free(s);
    fwl_futures_free(s);
    pthread_cond_destroy(&s->fut_cond);
    pthread_mutex_destroy(&s->rec_lock);
    pthread_mutex_destroy(&s->lock);
}
