/* Internal to the trainer data plane (trainer.c: sessions, models, routes; ops.c: what each op computes). */
#ifndef FWL_TRAINER_H
#define FWL_TRAINER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ckpt.h"
#include "futures.h"
#include "model.h"
#include "state.h"
#include "util.h"

/* Largest LoRA rank create_model accepts (fwtrain-local's model has no adapters; the rank marks a LoRA session). */
#define FWL_MAX_LORA_RANK 65536

typedef struct fwl_op {
    int64_t seq;
    char type[40];
    cJSON *body;
    struct fwl_fwd_batch *batch; /* forward / forward_backward: parsed at submit (fwd_batch.h), NULL if refused */
    fwl_future *fut;
    struct fwl_op *next;
} fwl_op;

typedef struct fwl_seen {
    int64_t seq;
    char key[160];
    char type[40];
    char rid[48];
} fwl_seen;

typedef struct fwl_tmodel {
    char id[48];
    fwl_server *s;
    struct fwl_jobrt *jr;
    fwl_model m;
    fwl_adam a;
    float *grad;
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int lora_rank;         /* > 0: a LoRA session (adapter saves are always full, docs/protocol.md §4.6) */
    char session[256];     /* the session that created it: the model goes when that session expires */
    fwl_op *queue;         /* sorted by seq */
    int64_t next_seq;
    bool stop;
    fwl_seen *seen;
    size_t nseen, capseen;
    struct fwl_tmodel *next;
} fwl_tmodel;

typedef struct fwl_cm_seen {
    int64_t model_seq;
    char rid[48];
    struct fwl_cm_seen *next;
} fwl_cm_seen;

typedef struct fwl_session {
    char id[48];
    int64_t last_us;
    fwl_cm_seen *created;
    struct fwl_session *next;
} fwl_session;

typedef struct fwl_jobrt {
    char job[FWL_ID_MAX];
    fwl_session *sessions;
    fwl_tmodel *models;
    pthread_mutex_t snap_mu;   /* the job's previous sampler snapshot, base of the next delta */
    fwl_model prev;            /* its weights (w NULL: none in memory); one buffer, overwritten by every save */
    char prev_name[FWL_NAME_MAX];
    int64_t prev_create_us;    /* its creation stamp (fwl_ckpt.create_us): a delta names its base by it */
    fwl_wroot prev_root;       /* its content root when known (kept by delta saves; a base save resets it) */
    struct fwl_jobrt *next;
} fwl_jobrt;

/* Runs one op on the model's worker thread and completes its future. */
void fwl_run_op(fwl_tmodel *tm, fwl_op *op);
/* An integral JSON number within +-2^53. */
bool fwl_json_int(const cJSON *o, const char *k, int64_t *out);

#endif /* FWL_TRAINER_H */
