/*
 * fwtrain-local internals shared by the server's source files.
 *
 * Threads: libmicrohttpd runs one thread per connection (so a long-poll only
 * holds its own connection), each trainer model has one worker thread that
 * runs its ops in seq_id order, and one background thread runs hotloads,
 * async promotions and the TTL sweep. `fwl_server.lock` guards every shared
 * table (jobs' live state, futures, deployments' replicas, the fault RNG);
 * files on disk are the durable truth and are always replaced atomically.
 */
#ifndef FWL_FWL_H
#define FWL_FWL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FWL_ACCOUNT "local"
#define FWL_ID_MAX 64     /* resource ids: [a-z0-9-]{1,63} */
#define FWL_NAME_MAX 160  /* checkpoint names */

/* grpc status codes used in control-plane error bodies (protocol §2.2) */
enum {
    FWL_GRPC_INVALID_ARGUMENT = 3,
    FWL_GRPC_DEADLINE_EXCEEDED = 4,
    FWL_GRPC_NOT_FOUND = 5,
    FWL_GRPC_ALREADY_EXISTS = 6,
    FWL_GRPC_PERMISSION_DENIED = 7,
    FWL_GRPC_RESOURCE_EXHAUSTED = 8,
    FWL_GRPC_FAILED_PRECONDITION = 9,
    FWL_GRPC_UNIMPLEMENTED = 12,
    FWL_GRPC_INTERNAL = 13,
    FWL_GRPC_UNAVAILABLE = 14,
    FWL_GRPC_UNAUTHENTICATED = 16
};

typedef struct fwl_faults {
    bool enabled;
    uint64_t rng;
    double p503, p429, p408, p410, pdrop, pstall, pdrip, pdelay;
    int drip_ms;           /* drip_body_ms=N@p: one body byte every N ms */
    int delay_ms;          /* delay_ms=N@p: nothing (not even headers) for N ms after the handler ran */
    int retry_after_s;
    int stall_ms;
    char only_prefix[128]; /* when set, only paths starting with it are faulted */
    int hotload_busy;      /* hotload_busy=404|425: completions answer it while the deployment loads a snapshot */
} fwl_faults;

typedef struct fwl_config {
    char data_dir[2048];
    char host[64];
    int port;
    char port_file[4096];
    char api_key[512];
    bool api_key_default;
    int model_dim;
    uint64_t seed;
    int long_poll_ms;
    size_t max_body_bytes;
    int job_start_ms;      /* CREATING -> RUNNING delay */
    int hotload_ms;        /* time a replica spends "downloading" */
    int promote_ms;        /* time an async promotion stays not-done */
    int ttl_sweep_ms;
    int session_timeout_ms; /* a session silent this long is dropped with its models; 0 = never */
    bool verbose;
    bool strict_hotload;   /* old serving stack: unknown hotload body fields (reset_prompt_cache) -> 400 (§3.8) */
    bool no_async_promote; /* old control plane: async_promotion -> 400 (§3.6 fallback) */
    fwl_faults faults;
} fwl_config;

struct fwl_jobrt;
struct fwl_future;
struct fwl_replica;
struct fwl_task;

typedef struct fwl_server {
    fwl_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t fut_cond;       /* broadcast when any future completes or on stop */
    atomic_int stopping;           /* read without the lock by sleepers and long-polls */
    uint32_t epoch;                /* differs between server runs: old request ids -> 410 */
    uint64_t counter;              /* ids */
    int64_t last_ckpt_us;          /* checkpoint createTime is strictly increasing */
    uint64_t ckpt_count;
    struct fwl_jobrt *jobs;        /* live trainer state, by job id */
    struct fwl_future **futs;
    size_t n_futs, cap_futs;
    struct fwl_replica *replicas;  /* deployments' serving state */
    /* background worker */
    pthread_t bg_thread;
    bool bg_started;
    pthread_cond_t bg_cond;
    struct fwl_task *tasks;
    void *mhd;                     /* struct MHD_Daemon * */
    int bound_port;
} fwl_server;

/* ---- requests and responses ---------------------------------------------- */

typedef struct fwl_req {
    const char *method;
    const char *path;
    void *conn;            /* struct MHD_Connection *, NULL in unit use */
    const char *body;
    size_t body_len;
    char **seg;            /* path segments */
    size_t nseg;
} fwl_req;

typedef struct fwl_resp {
    int status;
    char *body;            /* malloc'd JSON text, or NULL for an empty body */
    int retry_after_s;     /* > 0: send Retry-After */
} fwl_resp;

/* Query parameter / header lookup (NULL when absent). */
const char *fwl_req_query(const fwl_req *r, const char *key);
const char *fwl_req_header(const fwl_req *r, const char *key);
/* Parse the body as a JSON object; on failure fills a 400 into out and returns NULL. */
cJSON *fwl_req_json(const fwl_req *r, fwl_resp *out);

/* Responses */
void fwl_resp_json(fwl_resp *out, int status, cJSON *obj); /* takes ownership of obj */
void fwl_resp_error(fwl_resp *out, int http_status, int grpc_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int fwl_http_to_grpc(int http_status);

/* Routing entry (http.c calls it with auth already checked). */
void fwl_route(fwl_server *s, fwl_req *r, fwl_resp *out);

/* ---- utilities (util.c) --------------------------------------------------- */
int64_t fwl_now_us(void);
void fwl_sleep_ms(int ms);
/* RFC3339 UTC; whole seconds are rendered without a fraction, others with microseconds. */
void fwl_format_time(int64_t us, char *buf, size_t len);
bool fwl_valid_id(const char *s);          /* ^[a-z0-9-]{1,63}$ (protocol §6) */
bool fwl_valid_ckpt_name(const char *s);   /* [A-Za-z0-9._-]{1,128}, not starting with '.' */
void fwl_new_id(fwl_server *s, const char *prefix, char *buf, size_t len);
uint64_t fwl_rand_u64(uint64_t *state);
double fwl_rand_unit(uint64_t *state);
/* "accounts/local/<kind>/<id>" -> id (copied), or the bare id if valid. false if malformed. */
bool fwl_parse_resource(const char *s, const char *kind, char *id, size_t idlen);
const char *fwl_json_str(const cJSON *o, const char *key);          /* NULL when absent or not a string */
const char *fwl_json_str2(const cJSON *o, const char *a, const char *b); /* either casing */
void fwl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A copy of a stored record without its internal "_" fields (what leaves the server). */
cJSON *fwl_public_copy(const cJSON *o);
/* {<key>: [public copies of the .json records in dir], "nextPageToken": "", "totalSize": n} */
cJSON *fwl_list_records(const char *dir, const char *key);

/* ---- atomic store (store.c) ----------------------------------------------- */
int fwl_mkdirs(const char *path);
/* temp file in the same dir, write, fsync, rename, fsync dir. */
int fwl_write_atomic(const char *path, const void *data, size_t len);
int fwl_write_json(const char *path, const cJSON *obj);
int fwl_read_file(const char *path, uint8_t **out, size_t *len);
cJSON *fwl_read_json(const char *path);
/* Names of the regular files in dir ending with suffix (temp files skipped). Free with fwl_free_list. */
char **fwl_list_dir(const char *dir, const char *suffix, size_t *n);
void fwl_free_list(char **l, size_t n);
int fwl_remove_tree(const char *path);
int fwl_fsync_dir(const char *dir);

/* ---- jobs (jobs.c) -------------------------------------------------------- */
/* Loads the job resource (state CREATING promoted to RUNNING when due). NULL when unknown. Caller holds no lock. */
cJSON *fwl_job_load(fwl_server *s, const char *job);
bool fwl_job_running(fwl_server *s, const char *job, bool *exists);
void fwl_jobs_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);
void fwl_accounts_route(fwl_server *s, fwl_req *r, fwl_resp *out);

/* ---- checkpoints (ckpt.c) ------------------------------------------------- */
typedef enum { FWL_CK_DCP = 0, FWL_CK_BASE = 1, FWL_CK_DELTA = 2 } fwl_ck_kind;
typedef struct fwl_ckpt {
    char job[FWL_ID_MAX];
    char name[FWL_NAME_MAX];
    fwl_ck_kind kind;
    int64_t create_us;
    int64_t expire_us;     /* 0 = never */
    char file[FWL_NAME_MAX + 64];  /* data file name inside the job's checkpoint dir */
    char prev[FWL_NAME_MAX];       /* delta: the snapshot it was computed against */
    int lora_rank;                 /* > 0: saved by a LoRA model (adapter snapshot / LoRA DCP) */
} fwl_ckpt;

void fwl_ckpt_dir(fwl_server *s, const char *job, char *buf, size_t len);
/* Writes data then meta (meta last: a crash never lists a partial checkpoint). */
int fwl_ckpt_write(fwl_server *s, fwl_ckpt *ck, const uint8_t *data, size_t len);
/* 0 found, -1 absent (expired ones are removed and reported absent). */
int fwl_ckpt_get(fwl_server *s, const char *job, const char *name, fwl_ckpt *out);
int fwl_ckpt_read_data(fwl_server *s, const fwl_ckpt *ck, uint8_t **data, size_t *len);
/* All live checkpoints of a job, oldest first. */
fwl_ckpt *fwl_ckpt_list(fwl_server *s, const char *job, size_t *n);
void fwl_ckpt_remove(fwl_server *s, const fwl_ckpt *ck);
const char *fwl_ckpt_type_name(const fwl_ckpt *ck);
/* protocol §3.6: base rows (full-param) and every LoRA sampler row are promotable; deltas and DCPs never. */
bool fwl_ckpt_promotable(const fwl_ckpt *ck);
int64_t fwl_ckpt_stamp(fwl_server *s);
/* The raw weight bytes a sampler snapshot stands for (base decoded, delta applied over its chain). */
int fwl_snapshot_bytes(fwl_server *s, const fwl_ckpt *ck, uint8_t **out, size_t *len, char *err, size_t errlen);
void fwl_ttl_sweep(fwl_server *s);
/* Startup: drop temp files and unreferenced checkpoint data left by a crash. */
void fwl_store_cleanup(fwl_server *s);

/* ---- trainer data plane (trainer.c, futures.c) ---------------------------- */
void fwl_trainer_route(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *op);
void fwl_trainer_drop_job(fwl_server *s, const char *job);
void fwl_trainer_shutdown(fwl_server *s);

typedef struct fwl_future {
    char id[48];
    char job[FWL_ID_MAX];
    int done;
    char *result;          /* JSON text once done */
    int64_t done_us;
} fwl_future;

fwl_future *fwl_future_new(fwl_server *s, const char *job);   /* registered; lock NOT held by caller */
void fwl_future_complete(fwl_server *s, fwl_future *f, cJSON *result); /* takes result */
void fwl_future_fail(fwl_server *s, fwl_future *f, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fwl_retrieve_future(fwl_server *s, fwl_req *r, fwl_resp *out);
void fwl_futures_free(fwl_server *s);

/* ---- deployments, hotload, inference (deployments.c, hotload.c, inference.c) */
void fwl_deployments_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);
void fwl_hotload_route(fwl_server *s, fwl_req *r, fwl_resp *out);
void fwl_inference_route(fwl_server *s, fwl_req *r, fwl_resp *out);
cJSON *fwl_deployment_load(fwl_server *s, const char *dep);
/* maxReplicaCount == 0: no replica serves (hotload status lists none, inference 425, hotload refused). */
bool fwl_deployment_scaled_to_zero(const cJSON *d);
void fwl_replicas_free(fwl_server *s);
void fwl_replica_reset(fwl_server *s, const char *dep);
void fwl_replica_forget(fwl_server *s, const char *dep);
struct fwl_model;
typedef struct fwl_weights fwl_weights;
/* The deployment's current weights with a reference taken (NULL while it holds none). */
fwl_weights *fwl_replica_weights(fwl_server *s, const char *dep);
/* true while the deployment's replica loads a snapshot (stage pending or downloading) */
bool fwl_replica_loading(fwl_server *s, const char *dep);
const struct fwl_model *fwl_weights_model(const fwl_weights *w);
void fwl_weights_unref(fwl_server *s, fwl_weights *w);
bool fwl_parse_deployment_header(const char *v, char *dep, size_t len);

/* ---- promote, models, operations (promote.c) ------------------------------ */
void fwl_promote_route(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *ckpt);
void fwl_models_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);
void fwl_operations_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);
void fwl_operations_resume(fwl_server *s);

/* ---- background worker (bg.c) --------------------------------------------- */
typedef void (*fwl_task_fn)(fwl_server *s, void *arg);
int fwl_bg_start(fwl_server *s);
void fwl_bg_stop(fwl_server *s);
/* Runs fn(arg) on the background thread no earlier than delay_ms from now; free_fn(arg) after (may be NULL). */
void fwl_bg_post(fwl_server *s, int delay_ms, fwl_task_fn fn, void *arg, void (*free_fn)(void *));

/* ---- faults (faults.c) ---------------------------------------------------- */
int fwl_faults_parse(fwl_faults *f, const char *spec, char *err, size_t errlen);
typedef enum { FWL_FAULT_NONE, FWL_FAULT_STATUS, FWL_FAULT_DROP, FWL_FAULT_STALL, FWL_FAULT_DRIP, FWL_FAULT_DELAY } fwl_fault_kind;
/* Draws the fault for one request; for FWL_FAULT_STATUS fills status and retry_after. */
fwl_fault_kind fwl_faults_draw(fwl_server *s, const char *path, int *status, int *retry_after_s);

/* ---- server lifecycle (server.c) ------------------------------------------ */
void fwl_config_defaults(fwl_config *c);
int fwl_server_start(fwl_server *s);   /* binds, sets s->bound_port */
void fwl_server_stop(fwl_server *s);

#endif /* FWL_FWL_H */
