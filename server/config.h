/* The server's configuration: what the command line sets (main.c) and its defaults (config.c). */
#ifndef FWL_CONFIG_H
#define FWL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seeded fault injection (faults.c). */
typedef struct fwl_faults {
    bool enabled;
    uint64_t rng;
    double p503, p429, p408, p410, pdrop, pstall, pdrip, pdelay;
    int drip_ms;           /* drip_body_ms=N@p: one body byte every N ms */
    int delay_ms;          /* delay_ms=N@p: nothing (not even headers) for N ms after the handler ran */
    int retry_after_s;
    int stall_ms;
    char only_prefix[128]; /* when set, only paths starting with it are faulted */
    int hotload_busy;      /* hotload_busy=404|425: completions answer it while the deployment loads a snapshot */
} fwl_faults;

typedef struct fwl_config {
    char data_dir[2048];
    char host[64];
    int port;
    char port_file[4096];
    char api_key[512];
    bool api_key_default;
    int model_dim;
    uint64_t seed;
    int long_poll_ms;
    size_t max_body_bytes;
    int job_start_ms;      /* CREATING -> RUNNING delay */
    int hotload_ms;        /* time a replica spends "downloading" */
    int promote_ms;        /* time an async promotion stays not-done */
    int ttl_sweep_ms;
    int session_timeout_ms; /* a session silent this long is dropped with its models; 0 = never */
    bool verbose;
    bool strict_hotload;   /* old serving stack: unknown hotload body fields (reset_prompt_cache) -> 400 (§3.8) */
    bool no_async_promote; /* old control plane: async_promotion -> 400 (§3.6 fallback) */
    bool no_gateway;       /* the trainer gateway path answers 503; only the directRouteHandle path works */
    /* connection bounds (http.c) */
    int max_connections;       /* all open connections */
    int max_per_client;        /* open connections of one peer address (0: no limit) */
    int http_threads;          /* event-driven HTTP threads (epoll, parked long-polls); 0 = a thread per connection */
    int idle_timeout_s;        /* a connection that sends nothing this long (waiting for or inside a request) is
                                * closed; a request being answered (a held long-poll) is not idle */
    fwl_faults faults;
} fwl_config;

void fwl_config_defaults(fwl_config *c);

#endif /* FWL_CONFIG_H */
