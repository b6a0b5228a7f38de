/* Job and deployment records: DATA/jobs/<job>/job.json and DATA/deployments/<dep>.json. Reads need no lock
 * (files are replaced atomically); read-modify-write runs under s->rec_lock, never under s->lock, so the
 * fsync of a record never stalls the in-memory tables (futures, long-polls, replicas). Job records are also
 * cached in memory (see "The job cache" below). */
#include "records.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "util.h"

void fwl_job_path(fwl_server *s, const char *job, char *buf, size_t len)
{
    snprintf(buf, len, "%s/jobs/%s/job.json", s->cfg.data_dir, job);
}

void fwl_deployment_path(fwl_server *s, const char *dep, char *buf, size_t len)
{
    snprintf(buf, len, "%s/deployments/%s.json", s->cfg.data_dir, dep);
}

static void touch(cJSON *job)
{
    char ts[48];
    fwl_format_time(fwl_now_us(), ts, sizeof ts);
    fwl_json_put(job, "updateTime", cJSON_CreateString(ts));
}

/*
 * The job cache: every job record read once stays in memory, so a data-plane request (retrieve_future above
 * all) checks its job's state without reading and parsing job.json (that was a third of the server's CPU).
 * The file stays the durable copy: every write of a job record goes through this file, which writes the file
 * first (under rec_lock) and then the cache, so the cache never holds what the disk does not. A file replaced
 * behind the server's back (tests do that to set a state) is read again: the control plane (fwl_job_load,
 * state changes) stats the file on every use; the data plane's per-request check (fwl_job_state) stats it at
 * most every JOB_RECHECK_US per job (a stat with its path walk was a tenth of the CPU of a retrieve_future), so
 * it sees an outside edit within that time, and the server's own writes at once. A miss reads the file under
 * rec_lock, so it cannot race a writer. job_mu guards the list only and is taken after rec_lock.
 */
#define JOB_RECHECK_US 100000

/* Monotonic µs: the recheck interval must not stretch when the wall clock is set back. */
static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct fwl_jobcache {
    char job[FWL_ID_MAX];
    cJSON *rec;
    struct stat key; /* the file as it was when cached: a file changed behind the server's back is re-read */
    int64_t checked_us; /* mono_us() when the file was last seen to be `key` (a stat or our own write) */
    char state[40];
    int64_t ready_us; /* CREATING: when it turns RUNNING (0 = no promotion pending) */
    struct fwl_jobcache *next;
};

static struct fwl_jobcache *cache_find_locked(fwl_server *s, const char *job)
{
    for (struct fwl_jobcache *c = s->job_cache; c; c = c->next)
        if (!strcmp(c->job, job))
            return c;
    return NULL;
}

/* Same file (inode, size, mtime) as when it was cached? */
static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Replaces the cached record of job with a copy of rec (rec == NULL: drops it). Caller holds rec_lock. */
static void cache_put(fwl_server *s, const char *job, const cJSON *rec)
{
    char p[4200];
    struct stat fst;
    fwl_job_path(s, job, p, sizeof p);
    cJSON *copy = rec && stat(p, &fst) == 0 ? cJSON_Duplicate(rec, 1) : NULL;
    pthread_mutex_lock(&s->job_mu);
    struct fwl_jobcache *c = cache_find_locked(s, job);
    if (!c && copy && (c = calloc(1, sizeof *c)) != NULL) {
        snprintf(c->job, sizeof c->job, "%s", job);
        c->next = s->job_cache;
        s->job_cache = c;
    }
    if (c) {
        cJSON_Delete(c->rec);
        c->rec = copy; /* NULL (out of memory or dropped): the next read goes to the file */
        copy = NULL;
        if (c->rec) {
            c->key = fst;
            c->checked_us = mono_us();
        }
        const char *st = c->rec ? fwl_json_str(c->rec, "state") : NULL;
        snprintf(c->state, sizeof c->state, "%s", st ? st : "");
        const cJSON *ready = c->rec ? cJSON_GetObjectItemCaseSensitive(c->rec, "_readyUs") : NULL;
        c->ready_us = !strcmp(c->state, "JOB_STATE_CREATING") && cJSON_IsNumber(ready) ? (int64_t)ready->valuedouble : 0;
    }
    pthread_mutex_unlock(&s->job_mu);
    cJSON_Delete(copy);
}

void fwl_job_cache_free(fwl_server *s)
{
    while (s->job_cache) {
        struct fwl_jobcache *c = s->job_cache;
        s->job_cache = c->next;
        cJSON_Delete(c->rec);
        free(c);
    }
}

/* Writes the record file, then the cache. Caller holds rec_lock. */
static int job_write_locked(fwl_server *s, const char *job, const char *path, const cJSON *rec)
{
    if (fwl_write_json(path, rec) != 0)
        return -1;
    cache_put(s, job, rec);
    return 0;
}

/* The record (a copy the caller owns) from the cache, else from the file, promoting a due CREATING job to
 * RUNNING. Caller holds rec_lock. */
static cJSON *job_get_locked(fwl_server *s, const char *job)
{
    char p[4200];
    struct stat fst;
    fwl_job_path(s, job, p, sizeof p);
    bool exists = stat(p, &fst) == 0;
    pthread_mutex_lock(&s->job_mu);
    struct fwl_jobcache *c = cache_find_locked(s, job);
    cJSON *j = NULL;
    if (exists && c && c->rec && same_file(&c->key, &fst)) {
        j = cJSON_Duplicate(c->rec, 1);
        c->checked_us = mono_us();
    }
    pthread_mutex_unlock(&s->job_mu);
    if (!j && (j = fwl_read_json(p)) != NULL)
        cache_put(s, job, j);
    if (j) {
        const char *st = fwl_json_str(j, "state");
        cJSON *ready = cJSON_GetObjectItemCaseSensitive(j, "_readyUs");
        if (st && !strcmp(st, "JOB_STATE_CREATING") && cJSON_IsNumber(ready) &&
            fwl_now_us() >= (int64_t)ready->valuedouble) {
            fwl_json_put(j, "state", cJSON_CreateString("JOB_STATE_RUNNING"));
            touch(j);
            if (job_write_locked(s, job, p, j) != 0)
                fwl_log("could not persist job %s state", job);
        }
    }
    return j;
}

cJSON *fwl_job_load(fwl_server *s, const char *job)
{
    if (!fwl_valid_id(job))
        return NULL;
    pthread_mutex_lock(&s->rec_lock);
    cJSON *j = job_get_locked(s, job);
    pthread_mutex_unlock(&s->rec_lock);
    return j;
}

/* The cached state of job, when the cache may answer: no promotion is due, and the file was seen to be the
 * cached one less than JOB_RECHECK_US ago (fst NULL) or is the cached one now (fst: its stat, which counts as
 * a fresh check). */
static bool cached_state(fwl_server *s, const char *job, const struct stat *fst, char *state, size_t len)
{
    int64_t mono = mono_us();
    pthread_mutex_lock(&s->job_mu);
    struct fwl_jobcache *c = cache_find_locked(s, job);
    bool hit = c && c->rec && (c->ready_us == 0 || fwl_now_us() < c->ready_us) &&
               (fst ? same_file(&c->key, fst) : mono - c->checked_us < JOB_RECHECK_US);
    if (hit) {
        snprintf(state, len, "%s", c->state);
        if (fst)
            c->checked_us = mono;
    }
    pthread_mutex_unlock(&s->job_mu);
    return hit;
}

bool fwl_job_state(fwl_server *s, const char *job, char *state, size_t len)
{
    if (!fwl_valid_id(job))
        return false;
    /* a record checked against the file less than JOB_RECHECK_US ago; else one stat, still no read or parse */
    if (cached_state(s, job, NULL, state, len))
        return true;
    char p[4200];
    struct stat fst;
    fwl_job_path(s, job, p, sizeof p);
    if (stat(p, &fst) == 0 && cached_state(s, job, &fst, state, len))
        return true;
    cJSON *j = fwl_job_load(s, job);
    const char *st = j ? fwl_json_str(j, "state") : NULL;
    snprintf(state, len, "%s", st ? st : "");
    cJSON_Delete(j);
    return j != NULL;
}

bool fwl_job_running(fwl_server *s, const char *job, bool *exists)
{
    char st[40];
    *exists = fwl_job_state(s, job, st, sizeof st);
    return *exists && !strcmp(st, "JOB_STATE_RUNNING");
}

int fwl_job_create(fwl_server *s, const char *job, const cJSON *rec, char *was, size_t wl)
{
    if (!fwl_valid_id(job))
        return -1;
    char p[4200];
    fwl_job_path(s, job, p, sizeof p);
    pthread_mutex_lock(&s->rec_lock);
    cJSON *existing = job_get_locked(s, job);
    const char *st = existing ? fwl_json_str(existing, "state") : NULL;
    snprintf(was, wl, "%s", st ? st : "");
    int rc = existing ? 1 : job_write_locked(s, job, p, rec) == 0 ? 0 : -1;
    pthread_mutex_unlock(&s->rec_lock);
    cJSON_Delete(existing);
    return rc;
}

bool fwl_job_set_state(fwl_server *s, const char *job, const char *const from_ok[], const char *to, char *was,
                       size_t wl)
{
    char p[4200];
    fwl_job_path(s, job, p, sizeof p);
    pthread_mutex_lock(&s->rec_lock);
    cJSON *j = fwl_valid_id(job) ? job_get_locked(s, job) : NULL;
    bool ok = false;
    if (j) {
        const char *st = fwl_json_str(j, "state");
        snprintf(was, wl, "%s", st ? st : "");
        for (size_t i = 0; from_ok[i]; i++)
            if (st && !strcmp(st, from_ok[i]))
                ok = true;
        if (ok) {
            fwl_json_put(j, "state", cJSON_CreateString(to));
            touch(j);
            if (!strcmp(to, "JOB_STATE_CREATING"))
                fwl_json_put(j, "_readyUs",
                             cJSON_CreateNumber((double)(fwl_now_us() + (int64_t)s->cfg.job_start_ms * 1000)));
            ok = job_write_locked(s, job, p, j) == 0;
        }
    } else {
        was[0] = 0;
    }
    pthread_mutex_unlock(&s->rec_lock);
    cJSON_Delete(j);
    return ok;
}

bool fwl_deployment_scaled_to_zero(const cJSON *d)
{
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(d, "maxReplicaCount");
    return cJSON_IsNumber(mx) && mx->valuedouble == 0;
}

cJSON *fwl_deployment_load(fwl_server *s, const char *dep)
{
    if (!fwl_valid_id(dep))
        return NULL;
    char p[4200];
    fwl_deployment_path(s, dep, p, sizeof p);
    return fwl_read_json(p);
}
