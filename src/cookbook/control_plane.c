/*
 * Control-plane resume (the current cookbook's source of truth): the newest
 * resumable row of the trainer job's checkpoint listing, by parsed
 * createTime (docs/protocol.md §3.5, §11.5), names the state to load; its
 * data position comes from dataloader.json (dataloader.c).
 *
 * The step to continue from is part of the name the checkpointer gives its
 * saves ("step-<N>"; a session suffix is stripped). When the newest row has
 * another name (a save made outside the checkpointer, or a trainer that
 * renamed the DCP save, docs/protocol.md §9) the resume stops with an error
 * rather than skipping it: continuing from an older row, or from nothing,
 * would silently retrain or lose work. The listing may lag behind a save
 * that was just confirmed; resuming from the row before it is still exact
 * (the loop recomputes a few more steps).
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
    int64_t best_us = 0;
    for (size_t i = 0; i < fwt_checkpoint_list_count(l); i++) {
        const fwt_checkpoint_row *r = fwt_checkpoint_list_get(l, i);
        const char *row_job = fwt_checkpoint_row_job_id(r);
        if (!fwt_checkpoint_row_resumable(r) || (row_job[0] && strcmp(row_job, job_id) != 0))
            continue;
        int64_t us = fwt_checkpoint_row_create_time_us(r);
        /* Newest by parsed time; on a tie the later row in server order (>=), as fwt_checkpoint_list_newest. */
        if (!best || us >= best_us) {
            best = r;
            best_us = us;
        }
    }
    char *logical = NULL;
    if (best)
        rc = fwt_checkpoint_logical_name(&logical, fwt_checkpoint_row_id(best));
    if (rc == FWT_OK && logical && !fwt__ckpt_parse_step_name(logical, out_step))
        rc = fwt__last_set(FWT_EUNSUPPORTED,
                           "the newest resumable checkpoint of job %s is \"%s\" (%s), not a \"step-<N>\" save of the "
                           "checkpointer, so the step to continue from is unknown; resume from the registry "
                           "(resume_source 0) or start from it with init_from_checkpoint and a new log_path",
                           job_id, fwt_checkpoint_row_id(best), fwt_checkpoint_row_create_time(best));
    fwt_checkpoint_list_free(l);
    if (rc != FWT_OK) {
        fwt_free(logical);
        *out_step = 0;
        return rc;
    }
    *out_name = logical;
    return FWT_OK;
}
