/* Seeded fault injection for the library's retry/timeout tests.
 * Status faults (503/429/408/410) replace the response BEFORE the handler runs, so nothing is committed;
 * drop and stall_body act AFTER the handler (the client cannot know the outcome, every route is safe to
 * retry: creates answer 409, submits dedupe on seq_id + idempotency key, hotloads of the held identity are
 * no-ops); drip_body sends the body a byte at a time, delay holds even the headers back. The trainer healthz probe is never faulted: it is a readiness probe, not an API call.
 * hotload_busy=404|425 is not drawn: completions answer that status while their deployment loads a snapshot
 * (inference.c), as the service does mid-hotload. */
#include "faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int parse_prob(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < 0 || d > 1)
        return -1;
    *out = d;
    return 0;
}

int fwl_faults_parse(fwl_faults *f, const char *spec, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->rng = 1;
    f->retry_after_s = 1;
    f->stall_ms = 60000;
    char *copy = strdup(spec), *save = NULL;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) {
            snprintf(err, errlen, "fault '%s' has no '='", t);
            rc = -1;
            break;
        }
        *eq = 0;
        const char *k = t, *v = eq + 1;
        int bad = 0;
        if (!strcmp(k, "seed"))
            f->rng = strtoull(v, NULL, 10);
        else if (!strcmp(k, "http503"))
            bad = parse_prob(v, &f->p503);
        else if (!strcmp(k, "http429"))
            bad = parse_prob(v, &f->p429);
        else if (!strcmp(k, "http408"))
            bad = parse_prob(v, &f->p408);
        else if (!strcmp(k, "http410"))
            bad = parse_prob(v, &f->p410);
        else if (!strcmp(k, "drop"))
            bad = parse_prob(v, &f->pdrop);
        else if (!strcmp(k, "retry_after"))
            f->retry_after_s = atoi(v);
        else if (!strcmp(k, "hotload_busy")) {
            f->hotload_busy = atoi(v);
            bad = f->hotload_busy != 404 && f->hotload_busy != 425;
        } else if (!strcmp(k, "only"))
            snprintf(f->only_prefix, sizeof f->only_prefix, "%s", v);
        else if (!strcmp(k, "stall_body_ms") || !strcmp(k, "drip_body_ms") || !strcmp(k, "delay_ms")) {
            /* N@p */
            char *at = strchr(v, '@');
            int *ms = !strcmp(k, "stall_body_ms") ? &f->stall_ms : !strcmp(k, "drip_body_ms") ? &f->drip_ms : &f->delay_ms;
            double *p = !strcmp(k, "stall_body_ms") ? &f->pstall : !strcmp(k, "drip_body_ms") ? &f->pdrip : &f->pdelay;
            if (!at) {
                bad = 1;
            } else {
                *at = 0;
                *ms = atoi(v);
                bad = parse_prob(at + 1, p) || *ms < 0;
            }
        } else {
            snprintf(err, errlen, "unknown fault kind '%s'", k);
            rc = -1;
            break;
        }
        if (bad) {
            snprintf(err, errlen, "bad value for fault '%s'", k);
            rc = -1;
            break;
        }
    }
    free(copy);
    if (rc == 0 && f->p503 + f->p429 + f->p408 + f->p410 + f->pdrop + f->pstall + f->pdrip + f->pdelay > 1.0) {
        snprintf(err, errlen, "fault probabilities add up to more than 1");
        rc = -1;
    }
    f->enabled = rc == 0;
    return rc;
}

fwl_fault_kind fwl_faults_draw(fwl_server *s, const char *path, int *status, int *retry_after_s)
{
    fwl_faults *f = &s->cfg.faults;
    *status = 0;
    *retry_after_s = 0;
    if (!f->enabled)
        return FWL_FAULT_NONE;
    if (strstr(path, "/api/v1/healthz"))
        return FWL_FAULT_NONE;
    if (f->only_prefix[0] && strncmp(path, f->only_prefix, strlen(f->only_prefix)) != 0)
        return FWL_FAULT_NONE;
    pthread_mutex_lock(&s->lock);
    double u = fwl_rand_unit(&f->rng);
    pthread_mutex_unlock(&s->lock);
    double acc = 0;
    if (u < (acc += f->p503)) {
        *status = 503;
        return FWL_FAULT_STATUS;
    }
    if (u < (acc += f->p429)) {
        *status = 429;
        *retry_after_s = f->retry_after_s > 0 ? f->retry_after_s : 1;
        return FWL_FAULT_STATUS;
    }
    if (u < (acc += f->p408)) {
        *status = 408;
        return FWL_FAULT_STATUS;
    }
    if (u < (acc += f->p410)) {
        *status = 410;
        return FWL_FAULT_STATUS;
    }
    if (u < (acc += f->pdrop))
        return FWL_FAULT_DROP;
    if (u < (acc += f->pstall))
        return FWL_FAULT_STALL;
    if (u < (acc += f->pdrip))
        return FWL_FAULT_DRIP;
    if (u < (acc += f->pdelay))
        return FWL_FAULT_DELAY;
    return FWL_FAULT_NONE;
}
