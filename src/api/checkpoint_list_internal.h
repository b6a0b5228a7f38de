/* Internals of the control-plane checkpoint listing (jobs.h). */
#ifndef FWT_API_CHECKPOINT_LIST_INTERNAL_H
#define FWT_API_CHECKPOINT_LIST_INTERNAL_H

#include "fwtrain/checkpoint_list.h"

struct fwt_checkpoint_row {
    char *name, *id, *job_id, *create_time, *type;
    int64_t time_us;  /* INT64_MIN when unparseable */
    int promotable;
};

struct fwt_checkpoint_list {
    fwt_checkpoint_row *rows;
    size_t count, cap;
    size_t pages;
};

void fwt__checkpoint_row_clear(fwt_checkpoint_row *r);
/* Append a deep copy of src fields (strings may be NULL → ""). */
int fwt__checkpoint_list_push(fwt_checkpoint_list *l, const char *name, const char *create_time, const char *type,
                              int promotable);

#endif /* FWT_API_CHECKPOINT_LIST_INTERNAL_H */
