/* The background thread: hotloads, async promotions and the periodic TTL sweep (docs/protocol.md §3.6, §3.8, §4.4). */
#include "bg.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

typedef struct fwl_task {
    int64_t not_before_us;
    fwl_task_fn fn;
    void *arg;
    void (*free_fn)(void *);
    struct fwl_task *next;
} fwl_task;

static void abs_deadline(struct timespec *ts, int64_t us)
{
    ts->tv_sec = (time_t)(us / 1000000);
    ts->tv_nsec = (long)(us % 1000000) * 1000;
}

static void *bg_main(void *p)
{
    fwl_server *s = p;
    int64_t next_sweep = fwl_now_us() + (int64_t)s->cfg.ttl_sweep_ms * 1000;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        int64_t now = fwl_now_us();
        fwl_task **pp = &s->tasks, *due = NULL;
        int64_t wake = next_sweep;
        for (; *pp; pp = &(*pp)->next) {
            if ((*pp)->not_before_us <= now) {
                due = *pp;
                *pp = due->next;
                break;
            }
            if ((*pp)->not_before_us < wake)
                wake = (*pp)->not_before_us;
        }
        if (due) {
            pthread_mutex_unlock(&s->lock);
            due->fn(s, due->arg);
            if (due->free_fn)
                due->free_fn(due->arg);
            free(due);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (now >= next_sweep) {
            pthread_mutex_unlock(&s->lock);
            if (s->bg_sweep)
                s->bg_sweep(s, NULL);
            pthread_mutex_lock(&s->lock);
            next_sweep = fwl_now_us() + (int64_t)s->cfg.ttl_sweep_ms * 1000;
            continue;
        }
        struct timespec ts;
        abs_deadline(&ts, wake);
        pthread_cond_timedwait(&s->bg_cond, &s->lock, &ts);
    }
    /* drop what never ran */
    while (s->tasks) {
        fwl_task *t = s->tasks;
        s->tasks = t->next;
        if (t->free_fn)
            t->free_fn(t->arg);
        free(t);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int fwl_bg_start(fwl_server *s, fwl_task_fn sweep)
{
    s->bg_sweep = sweep;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&s->bg_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->bg_thread, NULL, bg_main, s) != 0)
        return -1;
    s->bg_started = true;
    return 0;
}

void fwl_bg_stop(fwl_server *s)
{
    if (!s->bg_started)
        return;
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->bg_cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->bg_thread, NULL);
    s->bg_started = false;
    pthread_cond_destroy(&s->bg_cond);
}

int fwl_bg_post(fwl_server *s, int delay_ms, fwl_task_fn fn, void *arg, void (*free_fn)(void *))
{
    fwl_task *t = calloc(1, sizeof *t);
    if (!t) {
        fwl_log("out of memory: a background task was dropped");
        if (free_fn)
            free_fn(arg);
        return -1;
    }
    t->not_before_us = fwl_now_us() + (int64_t)delay_ms * 1000;
    t->fn = fn;
    t->arg = arg;
    t->free_fn = free_fn;
    pthread_mutex_lock(&s->lock);
    fwl_task **pp = &s->tasks;
    while (*pp)
        pp = &(*pp)->next; /* FIFO among tasks that are due */
    *pp = t;
    pthread_cond_broadcast(&s->bg_cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}
