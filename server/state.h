/* The server's shared state.
 *
 * Threads: a small pool of event-driven HTTP threads (front.c; or one per connection, http.c); a
 * long-poll that must wait is parked and resumed by the park thread (futures.c), so it holds no HTTP thread.
 * Each trainer model has one worker thread that runs its ops in seq_id order, and one background thread runs
 * hotloads, async promotions and the TTL sweep.
 *
 * Locks: `lock` guards the in-memory tables (jobs' live state, futures, deployments' replicas, background
 * tasks, the fault RNG) and is only ever held for memory work, never across disk I/O. `rec_lock` serialises
 * the read-modify-write of job and deployment record files (their fsyncs run under it, not under `lock`);
 * when both are needed, rec_lock is taken first. Files on disk are the durable truth and are always replaced
 * atomically. */
#ifndef FWL_STATE_H
#define FWL_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct fwl_jobrt;
struct fwl_jobcache;
struct fwl_park;
struct fwl_future;
struct fwl_replica;
struct fwl_task;
struct fwl_req;
struct fwl_resp;

typedef struct fwl_server {
    fwl_config cfg;
    pthread_mutex_t lock;
    pthread_mutex_t rec_lock;      /* job/deployment record read-modify-write (see above) */
    pthread_mutex_t job_mu;        /* the job cache list (records.c); taken after rec_lock, memory only */
    struct fwl_jobcache *job_cache;
    pthread_cond_t fut_cond;       /* broadcast when any future completes or on stop */
    atomic_int stopping;           /* read without the lock by sleepers and long-polls */
    uint32_t epoch;                /* differs between server runs: old request ids -> 410 */
    atomic_ullong counter;         /* ids */
    int64_t last_ckpt_us;          /* checkpoint createTime is strictly increasing */
    uint64_t ckpt_count;
    struct fwl_jobrt *jobs;        /* live trainer state, by job id */
    struct fwl_future *fut_oldest, *fut_newest; /* the request table in creation order (futures.c) */
    struct fwl_future **fut_index;  /* ... and hashed by id: FWL_FUT_BUCKETS chains, NULL until the first */
    size_t n_futs;
    struct fwl_replica *replicas;  /* deployments' serving state */
    /* background worker */
    pthread_t bg_thread;
    bool bg_started;
    pthread_cond_t bg_cond;
    struct fwl_task *tasks;
    void (*bg_sweep)(struct fwl_server *s, void *arg); /* periodic task (the TTL sweep) */
    void *mhd;                     /* struct MHD_Daemon * (thread-per-connection mode) */
    struct fwl_front *front;       /* the event-driven front (front.c), NULL when not running */
    void (*router)(struct fwl_server *s, struct fwl_req *r, struct fwl_resp *out); /* given to fwl_http_start */
    int bound_port;
    /* parked long-polls (futures.c): guarded by `lock` */
    struct fwl_park *parks;
    pthread_cond_t park_cond;
    pthread_t park_thread;
    bool park_started, park_quit;
    void (*park_resume)(void *token);
    int lock_fd;                   /* the --data-dir lock (server.c), -1 when not held */
} fwl_server;

/* A fresh id "<prefix><epoch>-<n>-<random>" (unique within and across runs). */
void fwl_new_id(fwl_server *s, const char *prefix, char *buf, size_t len);

#endif /* FWL_STATE_H */
