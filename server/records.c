/* Job and deployment records: DATA/jobs/<job>/job.json and DATA/deployments/<dep>.json. Reads need no lock
 * (files are replaced atomically); read-modify-write runs under s->rec_lock, never under s->lock, so the
 * fsync of a record never stalls the in-memory tables (futures, long-polls, replicas). */
#include "records.h"

#include <stdio.h>
#include <string.h>

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

cJSON *fwl_job_load(fwl_server *s, const char *job)
{
    if (!fwl_valid_id(job))
        return NULL;
    char p[4200];
    fwl_job_path(s, job, p, sizeof p);
    pthread_mutex_lock(&s->rec_lock);
    cJSON *j = fwl_read_json(p);
    if (j) {
        const char *st = fwl_json_str(j, "state");
        cJSON *ready = cJSON_GetObjectItemCaseSensitive(j, "_readyUs");
        if (st && !strcmp(st, "JOB_STATE_CREATING") && cJSON_IsNumber(ready) &&
            fwl_now_us() >= (int64_t)ready->valuedouble) {
            fwl_json_put(j, "state", cJSON_CreateString("JOB_STATE_RUNNING"));
            touch(j);
            if (fwl_write_json(p, j) != 0)
                fwl_log("could not persist job %s state", job);
        }
    }
    pthread_mutex_unlock(&s->rec_lock);
    return j;
}

bool fwl_job_running(fwl_server *s, const char *job, bool *exists)
{
    cJSON *j = fwl_job_load(s, job);
    *exists = j != NULL;
    const char *st = j ? fwl_json_str(j, "state") : NULL;
    bool run = st && !strcmp(st, "JOB_STATE_RUNNING");
    cJSON_Delete(j);
    return run;
}

bool fwl_job_set_state(fwl_server *s, const char *job, const char *const from_ok[], const char *to, char *was,
                       size_t wl)
{
    char p[4200];
    fwl_job_path(s, job, p, sizeof p);
    pthread_mutex_lock(&s->rec_lock);
    cJSON *j = fwl_valid_id(job) ? fwl_read_json(p) : NULL;
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
            ok = fwl_write_json(p, j) == 0;
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
