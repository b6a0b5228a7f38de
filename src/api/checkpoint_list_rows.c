/* Checkpoint rows and lists: accessors, newest-by-parsed-time, filters (docs/protocol.md §3.5, §11.5). */
#include "api/checkpoint_list_internal.h"

#include <stdlib.h>
#include <string.h>

#include "fwt_util.h"

void fwt__checkpoint_row_clear(fwt_checkpoint_row *r)
{
    fwt__free_mem(r->name);
    fwt__free_mem(r->id);
    fwt__free_mem(r->job_id);
    fwt__free_mem(r->create_time);
    fwt__free_mem(r->update_time);
    fwt__free_mem(r->type);
    fwt__free_mem(r->json);
    memset(r, 0, sizeof *r);
}

/* Job id of "accounts/<a>/rlorTrainerJobs/<job>/checkpoints/<ckpt>", "" otherwise. */
static char *job_of(const char *name)
{
    const char *p = strstr(name, "/rlorTrainerJobs/");
    if (strncmp(name, "accounts/", 9) != 0 || !p)
        return fwt__strdup("");
    p += strlen("/rlorTrainerJobs/");
    const char *e = strchr(p, '/');
    if (!e || strncmp(e, "/checkpoints/", 13) != 0)
        return fwt__strdup("");
    return fwt__strndup(p, (size_t)(e - p));
}

int fwt__checkpoint_list_push(fwt_checkpoint_list *l, const fwt__row_src *src)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fwt_checkpoint_row *rows = fwt__realloc(l->rows, cap * sizeof *rows);
        if (!rows)
            return FWT_ENOMEM;
        l->rows = rows;
        l->cap = cap;
    }
    fwt_checkpoint_row *r = &l->rows[l->count];
    memset(r, 0, sizeof *r);
    const char *name = src->name ? src->name : "";
    const char *slash = strrchr(name, '/');
    r->name = fwt__strdup(name);
    r->id = fwt__strdup(slash ? slash + 1 : name);
    r->job_id = job_of(name);
    r->create_time = fwt__strdup(src->create_time ? src->create_time : "");
    r->update_time = fwt__strdup(src->update_time ? src->update_time : "");
    r->type = fwt__strdup(src->type ? src->type : "");
    r->json = fwt__strdup(src->json ? src->json : "{}");
    r->promotable = src->promotable ? 1 : 0;
    r->fields = src->fields;
    int64_t us = 0;
    r->time_us = (src->create_time && fwt_checkpoint_parse_time(&us, src->create_time) == FWT_OK) ? us : INT64_MIN;
    if (!r->name || !r->id || !r->job_id || !r->create_time || !r->update_time || !r->type || !r->json) {
        fwt__checkpoint_row_clear(r);
        return FWT_ENOMEM;
    }
    l->count++;
    return FWT_OK;
}

/* A row's fields as a push source (for copies). */
static fwt__row_src src_of(const fwt_checkpoint_row *r)
{
    fwt__row_src s = {r->name, r->create_time, r->update_time, r->type, r->json, r->promotable, r->fields};
    if (!(r->fields & FWT_CHECKPOINT_FIELD_CREATE_TIME))
        s.create_time = NULL; /* keeps time_us INT64_MIN */
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int fwt_checkpoint_row_resumable(const fwt_checkpoint_row *r)
{
    return r && (ends_with(r->type, "TRAINING") || ends_with(r->type, "TRAINING_LORA"));
}

static int matches(const fwt_checkpoint_row *r, unsigned int filter)
{
    if ((filter & FWT_CHECKPOINT_FILTER_PROMOTABLE) && !r->promotable)
        return 0;
    if ((filter & FWT_CHECKPOINT_FILTER_RESUMABLE) && !fwt_checkpoint_row_resumable(r))
        return 0;
    return 1;
}

size_t fwt_checkpoint_list_count(const fwt_checkpoint_list *l)
{
    return l ? l->count : 0;
}

const fwt_checkpoint_row *fwt_checkpoint_list_get(const fwt_checkpoint_list *l, size_t i)
{
    return l && i < l->count ? &l->rows[i] : NULL;
}

size_t fwt_checkpoint_list_pages(const fwt_checkpoint_list *l)
{
    return l ? l->pages : 0;
}

const fwt_checkpoint_row *fwt_checkpoint_list_newest(const fwt_checkpoint_list *l, unsigned int filter)
{
    const fwt_checkpoint_row *best = NULL;
    for (size_t i = 0; l && i < l->count; i++) {
        const fwt_checkpoint_row *r = &l->rows[i];
        /* >= : on equal times the later row in server order (oldest first) wins. */
        if (matches(r, filter) && (!best || r->time_us >= best->time_us))
            best = r;
    }
    return best;
}

int fwt_checkpoint_list_filter(fwt_checkpoint_list **out, const fwt_checkpoint_list *l, unsigned int filter)
{
    if (!out || !l)
        return fwt__last_set(FWT_EINVAL, "out and list are required");
    *out = NULL;
    fwt_checkpoint_list *n = fwt__calloc(1, sizeof *n);
    if (!n)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    n->pages = l->pages;
    for (size_t i = 0; i < l->count; i++) {
        const fwt_checkpoint_row *r = &l->rows[i];
        fwt__row_src src = src_of(r);
        if (matches(r, filter) && fwt__checkpoint_list_push(n, &src) != FWT_OK) {
            fwt_checkpoint_list_free(n);
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        }
    }
    *out = n;
    return FWT_OK;
}

/* Newest first; equal times: the later row in server order first (as fwt_checkpoint_list_newest). */
static int newer_first(const void *a, const void *b)
{
    const fwt_checkpoint_row *const *x = a, *const *y = b;
    if ((*x)->time_us != (*y)->time_us)
        return (*x)->time_us > (*y)->time_us ? -1 : 1;
    return *x > *y ? -1 : *x < *y ? 1 : 0; /* rows live in one array in server order */
}

int fwt_checkpoint_list_newest_first(fwt_checkpoint_list **out, const fwt_checkpoint_list *l, unsigned int filter)
{
    if (!out || !l)
        return fwt__last_set(FWT_EINVAL, "out and list are required");
    *out = NULL;
    const fwt_checkpoint_row **order = l->count ? fwt__calloc(l->count, sizeof *order) : NULL;
    fwt_checkpoint_list *n = fwt__calloc(1, sizeof *n);
    if (!n || (l->count && !order)) {
        fwt__free_mem(order);
        fwt__free_mem(n);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    n->pages = l->pages;
    size_t k = 0;
    for (size_t i = 0; i < l->count; i++)
        if (matches(&l->rows[i], filter))
            order[k++] = &l->rows[i];
    if (k > 1)
        qsort(order, k, sizeof *order, newer_first);
    for (size_t i = 0; i < k; i++) {
        fwt__row_src src = src_of(order[i]);
        if (fwt__checkpoint_list_push(n, &src) != FWT_OK) {
            fwt__free_mem(order);
            fwt_checkpoint_list_free(n);
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        }
    }
    fwt__free_mem(order);
    *out = n;
    return FWT_OK;
}

const fwt_checkpoint_row *fwt_checkpoint_list_find(const fwt_checkpoint_list *l, const char *name)
{
    if (!l || !name)
        return NULL;
    const fwt_checkpoint_row *best = NULL;
    for (size_t i = 0; i < l->count; i++) {
        const fwt_checkpoint_row *r = &l->rows[i];
        int hit = strcmp(r->id, name) == 0;
        if (!hit) {
            char *logical = NULL;
            if (fwt_checkpoint_logical_name(&logical, r->id) == FWT_OK)
                hit = strcmp(logical, name) == 0;
            fwt__free_mem(logical);
        }
        if (hit && (!best || r->time_us >= best->time_us))
            best = r;
    }
    return best;
}

void fwt_checkpoint_list_free(fwt_checkpoint_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        fwt__checkpoint_row_clear(&l->rows[i]);
    fwt__free_mem(l->rows);
    fwt__free_mem(l);
}

#define ROW_GETTER(fn, field)                                                                                          \
    const char *fn(const fwt_checkpoint_row *r) { return r && r->field ? r->field : ""; }
ROW_GETTER(fwt_checkpoint_row_name, name)
ROW_GETTER(fwt_checkpoint_row_id, id)
ROW_GETTER(fwt_checkpoint_row_job_id, job_id)
ROW_GETTER(fwt_checkpoint_row_create_time, create_time)
ROW_GETTER(fwt_checkpoint_row_update_time, update_time)
ROW_GETTER(fwt_checkpoint_row_type, type)

int64_t fwt_checkpoint_row_create_time_us(const fwt_checkpoint_row *r)
{
    return r ? r->time_us : INT64_MIN;
}

int fwt_checkpoint_row_promotable(const fwt_checkpoint_row *r)
{
    return r ? r->promotable : 0;
}

unsigned int fwt_checkpoint_row_fields(const fwt_checkpoint_row *r)
{
    return r ? r->fields : 0;
}

const char *fwt_checkpoint_row_json(const fwt_checkpoint_row *r)
{
    return r && r->json ? r->json : "{}";
}
