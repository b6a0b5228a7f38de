/*
 * Control-plane resume (the current cookbook's source of truth): the newest
 * resumable row of the trainer job's checkpoint listing, by parsed
 * createTime (docs/protocol.md §3.5, §11.5), names the state to load; its
 * data position comes from dataloader.json (dataloader.c).
 *
 * Only rows the checkpointer itself names ("step-<N>", with or without a
 * session suffix) are considered: the step to continue from is part of the
 * name, and a row saved by someone else under another name says nothing
 * about where this loop stands.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "checkpointer_impl.h"
#include "fwt_util.h"

/* "step-<N>" with N a plain non-negative decimal: 1 and *step; else 0. */
int fwt__ckpt_parse_step_name(const char *name, int64_t *step)
{
    if (strncmp(name, "step-", 5) != 0 || name[5] < '0' || name[5] > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(name + 5, &end, 10);
    if (errno || *end || v < 0)
        return 0;
    *step = (int64_t)v;
    return 1;
}

int fwt__cp_newest(char **out_name, int64_t *out_step, fwt_client *client, const char *job_id)
{
    *out_name = NULL;
    *out_step = 0;
    fwt_checkpoint_list *l = NULL;
    int rc = fwt_job_list_checkpoints(&l, client, job_id, NULL);
    if (rc != FWT_OK)
        return rc; /* fwt_error_last() says why */
    const fwt_checkpoint_row *best = NULL;
    char *best_name = NULL;
    int64_t best_step = 0, best_us = 0;
    for (size_t i = 0; rc == FWT_OK && i < fwt_checkpoint_list_count(l); i++) {
        const fwt_checkpoint_row *r = fwt_checkpoint_list_get(l, i);
        const char *row_job = fwt_checkpoint_row_job_id(r);
        if (!fwt_checkpoint_row_resumable(r) || (row_job[0] && strcmp(row_job, job_id) != 0))
            continue;
        char *logical = NULL;
        rc = fwt_checkpoint_logical_name(&logical, fwt_checkpoint_row_id(r));
        if (rc != FWT_OK)
            break;
        int64_t step = 0, us = fwt_checkpoint_row_create_time_us(r);
        /* Newest by parsed time; on a tie the later row in server order (>=), as fwt_checkpoint_list_newest. */
        if (fwt__ckpt_parse_step_name(logical, &step) && (!best || us >= best_us)) {
            fwt_free(best_name);
            best = r;
            best_name = logical;
            best_step = step;
            best_us = us;
        } else {
            fwt_free(logical);
        }
    }
    fwt_checkpoint_list_free(l);
    if (rc != FWT_OK) {
        fwt_free(best_name);
        return rc;
    }
    *out_name = best_name;
    *out_step = best_step;
    return FWT_OK;
}
