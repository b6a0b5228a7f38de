/*
 * The account's trainer jobs (docs/protocol.md §3.2, "Listing"):
 * GET /v1/accounts/{a}/rlorTrainerJobs?pageSize=N[&pageToken=T] until no next token.
 * Used by `fwtrain job list`; rows keep server order across pages.
 */
#include "api/jobs_internal.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

struct fwt_job_list {
    fwt_job **jobs;
    size_t count, cap, pages;
};

int fwt_job_list_options_init(fwt_job_list_options *o, unsigned int version)
{
    if (!o || version != FWT_JOB_LIST_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_job_list_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    o->page_size = 200;
    return FWT_OK;
}

static int push(fwt_job_list *l, fwt_job *j)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fwt_job **n = fwt__realloc(l->jobs, cap * sizeof *n);
        if (!n)
            return FWT_ENOMEM;
        l->jobs = n;
        l->cap = cap;
    }
    l->jobs[l->count++] = j;
    return FWT_OK;
}

/* What a page of the job listing is read into. */
typedef struct job_page_ctx {
    fwt_job_list *list;
    const char *base, *account;
} job_page_ctx;

/* One page's rows into the list (fwt__pager.on_page). */
static int parse_page(void *ctx, const cJSON *json)
{
    job_page_ctx *pc = ctx;
    const cJSON *rows = NULL;
    int rc = fwt__json_get_array(json, "rlorTrainerJobs", &rows);
    if (rc == FWT_EPROTO)
        return fwt__last_set(FWT_EPROTO, "job listing: rlorTrainerJobs is not a list");
    const cJSON *row = NULL;
    if (!rows)
        return FWT_OK;
    cJSON_ArrayForEach(row, rows)
    {
        fwt_job *j = NULL;
        rc = fwt__job_from_json(&j, row, pc->base, pc->account, NULL); /* a listed job names itself */
        if (rc != FWT_OK)
            return rc;
        if (push(pc->list, j) != FWT_OK) {
            fwt_job_free(j);
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        }
    }
    return FWT_OK;
}

int fwt_job_list_all(fwt_job_list **out, fwt_client *c, const fwt_job_list_options *opts)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    fwt_job_list_options o;
    fwt_job_list_options_init(&o, FWT_JOB_LIST_OPTIONS_VERSION);
    if (opts) {
        if (opts->version != FWT_JOB_LIST_OPTIONS_VERSION)
            return fwt__last_set(FWT_EINVAL, "unknown fwt_job_list_options version %u", opts->version);
        if (opts->page_size < 0 || opts->max_pages < 0)
            return fwt__last_set(FWT_EINVAL, "page_size and max_pages must be >= 0");
        if (opts->page_size > 0)
            o.page_size = opts->page_size;
        o.max_pages = opts->max_pages;
    }
    char query[48];
    snprintf(query, sizeof query, "?pageSize=%d", (int)o.page_size);
    char *prefix = NULL;
    int rc = fwt__account_url(&prefix, c, NULL, "rlorTrainerJobs", NULL, query);
    if (rc != FWT_OK)
        return rc;
    const char *account = NULL;
    (void)fwt__client_account(c, &account); /* resolved by fwt__account_url */
    char *base = fwt__control_base(c);
    fwt_job_list *l = fwt__calloc(1, sizeof *l);
    if (!prefix || !base || !l) {
        fwt__free_mem(prefix);
        fwt__free_mem(base);
        fwt__free_mem(l);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    job_page_ctx pc = {l, base, account};
    fwt__pager pager = {"job listing", NULL, o.max_pages, parse_page, &pc};
    rc = fwt__list_pages(c, prefix, &pager, &l->pages);
    fwt__free_mem(prefix);
    fwt__free_mem(base);
    if (rc != FWT_OK) {
        fwt_job_list_free(l);
        return rc;
    }
    *out = l;
    fwt__last_ok();
    return FWT_OK;
}

size_t fwt_job_list_count(const fwt_job_list *l)
{
    return l ? l->count : 0;
}

const fwt_job *fwt_job_list_get(const fwt_job_list *l, size_t i)
{
    return l && i < l->count ? l->jobs[i] : NULL;
}

size_t fwt_job_list_pages(const fwt_job_list *l)
{
    return l ? l->pages : 0;
}

void fwt_job_list_free(fwt_job_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        fwt_job_free(l->jobs[i]);
    fwt__free_mem(l->jobs);
    fwt__free_mem(l);
}
