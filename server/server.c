/* Server lifecycle: defaults, start (dirs, background thread, resumed operations, HTTP), orderly stop. */
#include "fwl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fwl_http_start(fwl_server *s);
void fwl_http_stop(fwl_server *s);

void fwl_config_defaults(fwl_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = 0;
    snprintf(c->api_key, sizeof c->api_key, "local-dev-key");
    c->api_key_default = true;
    c->model_dim = 16;
    c->seed = 0;
    c->long_poll_ms = 30000;
    c->max_body_bytes = (size_t)64 << 20;
    c->job_start_ms = 200;
    c->hotload_ms = 50;
    c->session_timeout_ms = 60000;
    c->promote_ms = 200;
    c->ttl_sweep_ms = 1000;
}

int fwl_server_start(fwl_server *s)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->fut_cond, NULL);
    uint64_t st = (uint64_t)fwl_now_us() ^ ((uint64_t)getpid() << 20);
    s->epoch = (uint32_t)fwl_rand_u64(&st);
    char p[4200];
    const char *sub[] = {"jobs", "deployments", "models", "operations"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", s->cfg.data_dir, sub[i]);
        if (fwl_mkdirs(p) != 0) {
            fwl_log("cannot create %s", p);
            return -1;
        }
    }
    fwl_store_cleanup(s);
    if (fwl_bg_start(s) != 0)
        return -1;
    fwl_operations_resume(s);
    if (fwl_http_start(s) != 0) {
        fwl_log("cannot listen on %s:%d", s->cfg.host, s->cfg.port);
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
    pthread_mutex_destroy(&s->lock);
}
