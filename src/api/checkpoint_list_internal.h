/* Internals of the control-plane checkpoint listing (jobs.h). */
#ifndef FWT_API_CHECKPOINT_LIST_INTERNAL_H
#define FWT_API_CHECKPOINT_LIST_INTERNAL_H

#include "fwtrain/checkpoint_list.h"

struct fwt_checkpoint_row {
    char *name, *id, *job_id, *create_time, *update_time, *type;
    char *json;          /* the row as sent, compact JSON text */
    int64_t time_us;     /* INT64_MIN when absent or unparseable */
    int promotable;
    unsigned int fields; /* fwt_checkpoint_field bits: what the server sent */
};

/* What a row is built from (strings may be NULL; absence is in `fields`). */
typedef struct fwt__row_src {
    const char *name, *create_time, *update_time, *type, *json;
    int promotable;
    unsigned int fields;
} fwt__row_src;

struct fwt_checkpoint_list {
    fwt_checkpoint_row *rows;
    size_t count, cap;
    size_t pages;
};

void fwt__checkpoint_row_clear(fwt_checkpoint_row *r);
/* Append a deep copy of src's fields (strings may be NULL → "", json NULL → "{}"). */
int fwt__checkpoint_list_push(fwt_checkpoint_list *l, const fwt__row_src *src);

#endif /* FWT_API_CHECKPOINT_LIST_INTERNAL_H */
