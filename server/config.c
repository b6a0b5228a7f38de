/* Defaults of every setting (the --help text in main.c states the same numbers). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    c->max_connections = 1000;
    c->max_per_client = 256;
    c->idle_timeout_s = 3;
    /* half the CPUs, at least one: a client on the same machine takes the rest (on 2 cores one HTTP thread
     * answered retrieve_future with 20-30 % less CPU per request than two, which woke twice as often) */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->http_threads = ncpu >= 4 ? (int)(ncpu / 2 > 64 ? 64 : ncpu / 2) : 1;
}
