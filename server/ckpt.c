/* Checkpoint storage: DCP and sampler snapshots of a job under DATA/jobs/<job>/checkpoints/.
 * Each checkpoint is a data file "<name>.<stamp>.bin" plus a meta file "<name>.json" written LAST, so a crash
 * mid-save never lists a partial checkpoint; an overwrite swaps the meta atomically then drops the old data. */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "store.h"

static const char *kind_str(fwl_ck_kind k)
{
    return k == FWL_CK_DCP ? "dcp" : k == FWL_CK_BASE ? "base" : "delta";
}

const char *fwl_ckpt_type_name(const fwl_ckpt *ck)
{
    /* docs/protocol.md §3.5: DCP rows end in TRAINING / TRAINING_LORA (cookbook suffix-matches); sampler rows INFERENCE_*:
     * BASE (safetensors), LORA (adapter), ARC_V2 (delta) */
    if (ck->kind == FWL_CK_DCP)
        return ck->lora_rank > 0 ? "CHECKPOINT_TYPE_TRAINING_LORA" : "CHECKPOINT_TYPE_TRAINING";
    if (ck->kind == FWL_CK_BASE)
        return ck->lora_rank > 0 ? "CHECKPOINT_TYPE_INFERENCE_LORA" : "CHECKPOINT_TYPE_INFERENCE_BASE";
    /* the service names delta (XOR, compressed) sampler rows after their arc_v2 format */
    return "CHECKPOINT_TYPE_INFERENCE_ARC_V2";
}

bool fwl_ckpt_promotable(const fwl_ckpt *ck)
{
    return ck->kind == FWL_CK_BASE;
}

void fwl_ckpt_dir(fwl_server *s, const char *job, char *buf, size_t len)
{
    snprintf(buf, len, "%s/jobs/%s/checkpoints", s->cfg.data_dir, job);
}

int64_t fwl_ckpt_stamp(fwl_server *s)
{
    pthread_mutex_lock(&s->lock);
    int64_t t = fwl_now_us();
    if (t <= s->last_ckpt_us)
        t = s->last_ckpt_us + 1;
    /* docs/protocol.md §9: one row in three is stamped on a whole second (rendered without a fraction), so
     * listings mix precisions like the service's and a string sort of createTime gives the wrong order. */
    if (++s->ckpt_count % 3 == 0 && t % 1000000 != 0)
        t = (t / 1000000 + 1) * 1000000;
    s->last_ckpt_us = t;
    pthread_mutex_unlock(&s->lock);
    return t;
}

static int meta_parse(const cJSON *j, const char *job, fwl_ckpt *ck)
{
    memset(ck, 0, sizeof *ck);
    const char *name = fwl_json_str(j, "name"), *kind = fwl_json_str(j, "kind"), *file = fwl_json_str(j, "file");
    const cJSON *cu = cJSON_GetObjectItemCaseSensitive(j, "createUs");
    const cJSON *eu = cJSON_GetObjectItemCaseSensitive(j, "expireUs");
    if (!name || !kind || !file || !cJSON_IsNumber(cu) || !fwl_valid_ckpt_name(name))
        return -1;
    snprintf(ck->job, sizeof ck->job, "%s", job);
    snprintf(ck->name, sizeof ck->name, "%s", name);
    snprintf(ck->file, sizeof ck->file, "%s", file);
    if (strchr(ck->file, '/'))
        return -1;
    ck->kind = !strcmp(kind, "dcp") ? FWL_CK_DCP : !strcmp(kind, "base") ? FWL_CK_BASE : FWL_CK_DELTA;
    ck->create_us = (int64_t)cu->valuedouble;
    ck->expire_us = cJSON_IsNumber(eu) ? (int64_t)eu->valuedouble : 0;
    const char *prev = fwl_json_str(j, "prev");
    if (prev)
        snprintf(ck->prev, sizeof ck->prev, "%s", prev);
    const cJSON *pu = cJSON_GetObjectItemCaseSensitive(j, "prevCreateUs");
    ck->prev_create_us = cJSON_IsNumber(pu) ? (int64_t)pu->valuedouble : 0;
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(j, "loraRank");
    ck->lora_rank = cJSON_IsNumber(lr) ? (int)lr->valuedouble : 0;
    return 0;
}

int fwl_ckpt_write(fwl_server *s, fwl_ckpt *ck, const uint8_t *data, size_t len)
{
    fwl_part part = {data, len};
    return fwl_ckpt_write_parts(s, ck, &part, 1);
}

int fwl_ckpt_write_parts(fwl_server *s, fwl_ckpt *ck, const fwl_part *parts, int nparts)
{
    char dir[4200], path[4500];
    fwl_ckpt_dir(s, ck->job, dir, sizeof dir);
    if (fwl_mkdirs(dir) != 0)
        return -1;
    ck->create_us = fwl_ckpt_stamp(s);
    snprintf(ck->file, sizeof ck->file, "%s.%lld.bin", ck->name, (long long)ck->create_us);
    snprintf(path, sizeof path, "%s/%s", dir, ck->file);
    if (fwl_write_atomic_parts(path, parts, nparts) != 0)
        return -1;
    size_t len = 0;
    for (int i = 0; i < nparts; i++)
        len += parts[i].len;
    fwl_ckpt old;
    bool had_old = fwl_ckpt_get(s, ck->job, ck->name, &old) == 0;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", ck->name);
    cJSON_AddStringToObject(m, "kind", kind_str(ck->kind));
    cJSON_AddStringToObject(m, "file", ck->file);
    cJSON_AddNumberToObject(m, "createUs", (double)ck->create_us);
    if (ck->expire_us)
        cJSON_AddNumberToObject(m, "expireUs", (double)ck->expire_us);
    if (ck->prev[0])
        cJSON_AddStringToObject(m, "prev", ck->prev);
    if (ck->prev[0] && ck->prev_create_us)
        cJSON_AddNumberToObject(m, "prevCreateUs", (double)ck->prev_create_us);
    if (ck->lora_rank > 0)
        cJSON_AddNumberToObject(m, "loraRank", ck->lora_rank);
    cJSON_AddNumberToObject(m, "size", (double)len);
    snprintf(path, sizeof path, "%s/%s.json", dir, ck->name);
    int rc = fwl_write_json(path, m);
    cJSON_Delete(m);
    if (rc != 0)
        return -1;
    if (had_old && strcmp(old.file, ck->file) != 0) {
        snprintf(path, sizeof path, "%s/%s", dir, old.file);
        unlink(path);
    }
    return 0;
}

void fwl_ckpt_remove(fwl_server *s, const fwl_ckpt *ck)
{
    char dir[4200], path[4500];
    fwl_ckpt_dir(s, ck->job, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s.json", dir, ck->name);
    unlink(path); /* meta first: the checkpoint disappears atomically */
    snprintf(path, sizeof path, "%s/%s", dir, ck->file);
    unlink(path);
    fwl_fsync_dir(dir);
}

static bool expired(const fwl_ckpt *ck, int64_t now)
{
    return ck->expire_us && now >= ck->expire_us;
}

int fwl_ckpt_get(fwl_server *s, const char *job, const char *name, fwl_ckpt *out)
{
    if (!fwl_valid_id(job) || !fwl_valid_ckpt_name(name))
        return -1;
    char dir[4200], path[4500];
    fwl_ckpt_dir(s, job, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    cJSON *j = fwl_read_json(path);
    if (!j)
        return -1;
    int rc = meta_parse(j, job, out);
    cJSON_Delete(j);
    if (rc != 0 || strcmp(out->name, name) != 0)
        return -1;
    if (expired(out, fwl_now_us())) {
        fwl_log("checkpoint %s/%s expired (ttl): removed", job, name);
        fwl_ckpt_remove(s, out);
        return -1;
    }
    return 0;
}

int fwl_ckpt_read_data(fwl_server *s, const fwl_ckpt *ck, uint8_t **data, size_t *len)
{
    char dir[4200], path[4500];
    fwl_ckpt_dir(s, ck->job, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, ck->file);
    int rc = fwl_read_file(path, data, len);
    if (rc != 0 && errno == ENOENT) /* its meta exists, so this is damage, not absence (other errors are logged) */
        fwl_log("checkpoint %s/%s: cannot open its data %s: %s", ck->job, ck->name, path, strerror(ENOENT));
    return rc;
}

static int cmp_ck(const void *a, const void *b)
{
    const fwl_ckpt *x = a, *y = b;
    return x->create_us < y->create_us ? -1 : x->create_us > y->create_us ? 1 : strcmp(x->name, y->name);
}

fwl_ckpt *fwl_ckpt_list(fwl_server *s, const char *job, size_t *n)
{
    *n = 0;
    char dir[4200];
    fwl_ckpt_dir(s, job, dir, sizeof dir);
    size_t nf = 0;
    char **files = fwl_list_dir(dir, ".json", &nf);
    fwl_ckpt *v = nf ? calloc(nf, sizeof *v) : NULL;
    for (size_t i = 0; i < nf && v; i++) {
        char name[FWL_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s", files[i]);
        name[strlen(name) - 5] = 0;
        if (fwl_ckpt_get(s, job, name, &v[*n]) == 0)
            (*n)++;
    }
    fwl_free_list(files, nf);
    if (*n > 1)
        qsort(v, *n, sizeof *v, cmp_ck);
    return v;
}

int fwl_snapshot_weights(fwl_server *s, const fwl_ckpt *ck, fwl_model *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* walk back to the base, then apply the deltas forward */
    fwl_ckpt *chain = NULL;
    size_t n = 0, cap = 0;
    fwl_ckpt cur = *ck;
    for (;;) {
        if (cur.kind == FWL_CK_DCP) {
            snprintf(err, errlen, "%s is a DCP (training) checkpoint, not a sampler snapshot", cur.name);
            free(chain);
            return -1;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            fwl_ckpt *nc = realloc(chain, cap * sizeof *chain);
            if (!nc) {
                snprintf(err, errlen, "out of memory following the delta chain of %s", ck->name);
                free(chain);
                return -1;
            }
            chain = nc;
        }
        chain[n++] = cur;
        if (cur.kind == FWL_CK_BASE)
            break;
        char job[FWL_ID_MAX], prev[FWL_NAME_MAX];
        snprintf(job, sizeof job, "%s", cur.job); /* fwl_ckpt_get overwrites cur */
        snprintf(prev, sizeof prev, "%s", cur.prev);
        if (n > 100000 || fwl_ckpt_get(s, job, prev, &cur) != 0) {
            snprintf(err, errlen, "delta %s: its previous snapshot %s is missing", chain[n - 1].name,
                     chain[n - 1].prev);
            free(chain);
            return -1;
        }
    }
    /* the base decoded into one weight-sized buffer, every delta applied to it in place */
    fwl_model m = {0};
    fwl_wroot root = {0, false}; /* computed by the first version-3 delta, then carried along the chain */
    uint8_t *data = NULL;
    size_t dlen = 0;
    int rc = 0;
    for (size_t i = n; i-- > 0 && rc == 0;) {
        if (fwl_ckpt_read_data(s, &chain[i], &data, &dlen) != 0) {
            snprintf(err, errlen, "cannot read snapshot %s", chain[i].name);
            rc = -1;
            break;
        }
        if (chain[i].kind == FWL_CK_BASE)
            rc = fwl_safetensors_decode(&m, data, dlen, err, errlen);
        else
            rc = fwl_delta_apply_inplace((uint8_t *)m.w, m.n_params * sizeof(float), &root, data, dlen, err, errlen);
        free(data);
        data = NULL;
    }
    free(chain);
    if (rc != 0) {
        fwl_model_free(&m);
        return -1;
    }
    *out = m;
    return 0;
}

void fwl_ttl_sweep(fwl_server *s, void *unused)
{
    (void)unused;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/jobs", s->cfg.data_dir);
    size_t nj = 0;
    char **jobs = fwl_list_dir(dir, NULL, &nj);
    for (size_t i = 0; i < nj && !s->stopping; i++) {
        size_t n = 0;
        free(fwl_ckpt_list(s, jobs[i], &n)); /* listing removes what has expired */
    }
    fwl_free_list(jobs, nj);
}

/* Leftovers of a crash: temp files (never renamed) and checkpoint data files no meta points at (the crash hit
 * between the data and the meta write, or between an overwrite's meta and the old data's unlink). Runs at
 * startup, before anything else can write. */
static void remove_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tmp.")) {
            char p[4800];
            snprintf(p, sizeof p, "%.4400s/%.255s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

void fwl_store_cleanup(fwl_server *s)
{
    char dir[4200];
    const char *flat[] = {"deployments", "models", "operations"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s/%s", s->cfg.data_dir, flat[i]);
        remove_temps(dir);
    }
    snprintf(dir, sizeof dir, "%s/jobs", s->cfg.data_dir);
    size_t nj = 0;
    char **jobs = fwl_list_dir(dir, NULL, &nj);
    for (size_t i = 0; i < nj; i++) {
        char jd[4400], cd[4400];
        snprintf(jd, sizeof jd, "%s/%s", dir, jobs[i]);
        remove_temps(jd);
        fwl_ckpt_dir(s, jobs[i], cd, sizeof cd);
        remove_temps(cd);
        size_t nb = 0, nm = 0;
        char **bins = fwl_list_dir(cd, ".bin", &nb);
        fwl_ckpt *cks = fwl_ckpt_list(s, jobs[i], &nm);
        for (size_t b = 0; b < nb; b++) {
            bool used = false;
            for (size_t k = 0; k < nm && !used; k++)
                used = !strcmp(cks[k].file, bins[b]);
            if (!used) {
                char p[4700];
                snprintf(p, sizeof p, "%s/%s", cd, bins[b]);
                unlink(p);
            }
        }
        free(cks);
        fwl_free_list(bins, nb);
    }
    fwl_free_list(jobs, nj);
}
