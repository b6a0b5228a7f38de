/*
 * Control-plane checkpoint listing with paging (docs/protocol.md §3.5, §11.5):
 * GET .../rlorTrainerJobs/{job}/checkpoints?pageSize=N[&pageToken=T] until
 * no next token; rows in server order.
 */
#include "api/checkpoint_list_internal.h"
#include "api/jobs_internal.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

int fwt_checkpoint_list_options_init(fwt_checkpoint_list_options *o, unsigned int version)
{
    if (!o || version != FWT_CHECKPOINT_LIST_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_checkpoint_list_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    o->page_size = 200;
    return FWT_OK;
}

/* One page's rows into the list (fwt__pager.on_page). */
static int parse_page(void *ctx, const cJSON *json)
{
    fwt_checkpoint_list *l = ctx;
    const cJSON *rows = NULL;
    int rc = fwt__json_get_array(json, "checkpoints", &rows);
    if (rc == FWT_ENOTFOUND)
        rc = fwt__json_get_array(json, "rlorTrainerJobCheckpoints", &rows);
    if (rc == FWT_EPROTO)
        return fwt__last_set(FWT_EPROTO, "checkpoint listing: the rows are not a list");
    const cJSON *row = NULL;
    if (rows) {
        cJSON_ArrayForEach(row, rows)
        {
            const char *name = NULL;
            if (!cJSON_IsObject(row) || fwt__json_get_string(row, "name", &name) != FWT_OK || !*name)
                return fwt__last_set(FWT_EPROTO, "checkpoint listing: a row has no name");
            /* Keep absence apart from false / "" (docs/protocol.md §3.5), and the whole row for unknown fields. */
            fwt__row_src src = {0};
            src.name = name;
            if (fwt__json_get_string2(row, "createTime", "create_time", &src.create_time) == FWT_OK)
                src.fields |= FWT_CHECKPOINT_FIELD_CREATE_TIME;
            if (fwt__json_get_string2(row, "updateTime", "update_time", &src.update_time) == FWT_OK)
                src.fields |= FWT_CHECKPOINT_FIELD_UPDATE_TIME;
            if (fwt__json_get_string2(row, "checkpointType", "checkpoint_type", &src.type) == FWT_OK)
                src.fields |= FWT_CHECKPOINT_FIELD_TYPE;
            if (fwt__json_get_bool(row, "promotable", &src.promotable) == FWT_OK)
                src.fields |= FWT_CHECKPOINT_FIELD_PROMOTABLE;
            char *text = fwt__json_print(row);
            src.json = text;
            int prc = text ? fwt__checkpoint_list_push(l, &src) : FWT_ENOMEM;
            fwt__free_mem(text);
            if (prc != FWT_OK)
                return fwt__last_set(FWT_ENOMEM, "out of memory");
        }
    }
    return FWT_OK;
}

int fwt_job_list_checkpoints(fwt_checkpoint_list **out, fwt_client *c, const char *job_id,
                             const fwt_checkpoint_list_options *opts)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    fwt_checkpoint_list_options o;
    fwt_checkpoint_list_options_init(&o, FWT_CHECKPOINT_LIST_OPTIONS_VERSION);
    if (opts) {
        if (opts->version != FWT_CHECKPOINT_LIST_OPTIONS_VERSION)
            return fwt__last_set(FWT_EINVAL, "unknown fwt_checkpoint_list_options version %u", opts->version);
        if (opts->page_size < 0 || opts->max_pages < 0)
            return fwt__last_set(FWT_EINVAL, "page_size and max_pages must be >= 0");
        if (opts->page_size > 0)
            o.page_size = opts->page_size;
        o.max_pages = opts->max_pages;
    }
    int rc = fwt__check_id("job_id", job_id);
    if (rc != FWT_OK)
        return rc;
    char query[48];
    snprintf(query, sizeof query, "/checkpoints?pageSize=%d", (int)o.page_size);
    char *prefix = NULL;
    if ((rc = fwt__account_url(&prefix, c, NULL, "rlorTrainerJobs", job_id, query)) != FWT_OK)
        return rc;
    fwt_checkpoint_list *l = fwt__calloc(1, sizeof *l);
    if (!prefix || !l) {
        fwt__free_mem(prefix);
        fwt__free_mem(l);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    char *not_found = fwt__asprintf("trainer job \"%s\" not found (or past retention) while listing checkpoints", job_id);
    fwt__pager pager = {"checkpoint listing", not_found, o.max_pages, parse_page, l};
    rc = not_found ? fwt__list_pages(c, prefix, &pager, &l->pages) : fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__free_mem(not_found);
    fwt__free_mem(prefix);
    if (rc != FWT_OK) {
        fwt_checkpoint_list_free(l);
        return rc;
    }
    *out = l;
    fwt__last_ok();
    return FWT_OK;
}
