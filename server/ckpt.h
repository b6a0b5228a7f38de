/* Checkpoint storage (ckpt.c): DCP and sampler snapshots of a job under DATA/jobs/<job>/checkpoints/. */
#ifndef FWL_CKPT_H
#define FWL_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "state.h"
#include "store.h"
#include "util.h"

typedef enum { FWL_CK_DCP = 0, FWL_CK_BASE = 1, FWL_CK_DELTA = 2 } fwl_ck_kind;
typedef struct fwl_ckpt {
    char job[FWL_ID_MAX];
    char name[FWL_NAME_MAX];
    fwl_ck_kind kind;
    int64_t create_us;
    int64_t expire_us;     /* 0 = never */
    char file[FWL_NAME_MAX + 64];  /* data file name inside the job's checkpoint dir */
    char prev[FWL_NAME_MAX];       /* delta: the snapshot it was computed against */
    int64_t prev_create_us;        /* delta: that snapshot's create_us (0: not recorded, older files) */
    int lora_rank;                 /* > 0: saved by a LoRA model (adapter snapshot / LoRA DCP) */
} fwl_ckpt;

void fwl_ckpt_dir(fwl_server *s, const char *job, char *buf, size_t len);
/* Writes data then meta (meta last: a crash never lists a partial checkpoint). */
int fwl_ckpt_write(fwl_server *s, fwl_ckpt *ck, const uint8_t *data, size_t len);
/* The same with the data in several pieces (a safetensors header and the weights, written as they are). */
int fwl_ckpt_write_parts(fwl_server *s, fwl_ckpt *ck, const fwl_part *parts, int nparts);
/* 0 found, -1 absent (expired ones are removed and reported absent). */
int fwl_ckpt_get(fwl_server *s, const char *job, const char *name, fwl_ckpt *out);
int fwl_ckpt_read_data(fwl_server *s, const fwl_ckpt *ck, uint8_t **data, size_t *len);
/* All live checkpoints of a job, oldest first. */
fwl_ckpt *fwl_ckpt_list(fwl_server *s, const char *job, size_t *n);
void fwl_ckpt_remove(fwl_server *s, const fwl_ckpt *ck);
const char *fwl_ckpt_type_name(const fwl_ckpt *ck);
/* docs/protocol.md §3.6: base rows (full-param) and every LoRA sampler row are promotable; deltas and DCPs never. */
bool fwl_ckpt_promotable(const fwl_ckpt *ck);
int64_t fwl_ckpt_stamp(fwl_server *s);
/* The weights a sampler snapshot stands for (base decoded, its chain's deltas applied in place); *out is output
 * only (free with fwl_model_free). */
int fwl_snapshot_weights(fwl_server *s, const fwl_ckpt *ck, fwl_model *out, char *err, size_t errlen);
/* Removes every expired checkpoint (a bg task: fwl_task_fn's shape). */
void fwl_ttl_sweep(fwl_server *s, void *unused);
/* Startup: drop temp files and unreferenced checkpoint data left by a crash. */
void fwl_store_cleanup(fwl_server *s);

#endif /* FWL_CKPT_H */
