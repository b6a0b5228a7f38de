/* A replica's weights on disk: see replica_store.h. */
#include "replica_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

static void dep_file_path(fwl_server *s, const char *file, char *buf, size_t len)
{
    snprintf(buf, len, "%s/deployments/%s", s->cfg.data_dir, file);
}

/* A file name from a record: a plain name inside DATA/deployments, else NULL. */
static const char *plain_name(const cJSON *j)
{
    const char *f = cJSON_IsString(j) ? j->valuestring : NULL;
    return f && *f && !strchr(f, '/') ? f : NULL;
}

int fwl_replica_restore_weights(fwl_server *s, const cJSON *rec, fwl_model *m, fwl_wroot *root, char *err,
                                size_t el)
{
    root->known = false;
    const char *base = plain_name(cJSON_GetObjectItemCaseSensitive(rec, "_weightsFile"));
    if (!base) {
        snprintf(err, el, "no weights file in the record");
        return -1;
    }
    char p[4500];
    dep_file_path(s, base, p, sizeof p);
    const uint8_t *buf = NULL;
    size_t len = 0;
    if (fwl_map_file(p, &buf, &len) != 0) {
        snprintf(err, el, "cannot read %s", p);
        return -1;
    }
    int rc = fwl_safetensors_decode_into(m, buf, len, err, el);
    fwl_unmap_file(buf, len);
    const cJSON *deltas = cJSON_GetObjectItemCaseSensitive(rec, "_deltaFiles");
    if (!cJSON_IsArray(deltas))
        deltas = NULL;
    const cJSON *d;
    /* the root is computed by the first version-3 delta, then carried along the chain */
    cJSON_ArrayForEach(d, deltas)
    {
        if (rc != 0)
            break;
        const char *f = plain_name(d);
        uint8_t *db = NULL;
        size_t dl = 0;
        if (!f) {
            snprintf(err, el, "bad delta file name in the record");
            rc = -1;
            break;
        }
        dep_file_path(s, f, p, sizeof p);
        if (fwl_read_file(p, &db, &dl) != 0) {
            snprintf(err, el, "cannot read %s", p);
            rc = -1;
            break;
        }
        char derr[256];
        rc = fwl_delta_apply_inplace((uint8_t *)m->w, m->n_params * sizeof(float), root, db, dl, derr, sizeof derr);
        if (rc != 0)
            snprintf(err, el, "delta %s: %s", f, derr);
        free(db);
    }
    return rc;
}

/* Writes the safetensors of m straight from its weights (no joined copy). */
static int write_base(const char *path, const fwl_model *m)
{
    uint8_t hdr[4096];
    size_t hlen = 0;
    if (fwl_safetensors_header(m, hdr, sizeof hdr, &hlen) != 0)
        return -1;
    fwl_part parts[2] = {{hdr, hlen}, {m->w, m->n_params * sizeof(float)}};
    return fwl_write_atomic_parts(path, parts, 2);
}

bool fwl_replica_store_wants_base(const cJSON *rec, bool delta)
{
    const cJSON *chain = rec ? cJSON_GetObjectItemCaseSensitive(rec, "_deltaFiles") : NULL;
    bool has_base = rec && plain_name(cJSON_GetObjectItemCaseSensitive(rec, "_weightsFile"));
    /* a delta extends the stored chain while it is short and has a base under it; else a fresh base */
    return !(delta && has_base && cJSON_GetArraySize(chain) < FWL_REPLICA_CHAIN_MAX);
}

int fwl_replica_store_files(fwl_server *s, const char *dep, const cJSON *rec, const fwl_ckpt *ck, const fwl_model *m,
                            const uint8_t *delta, size_t dlen, char *file, size_t fl, bool *is_delta)
{
    *is_delta = !fwl_replica_store_wants_base(rec, delta != NULL);
    int64_t now = fwl_now_us();
    snprintf(file, fl, "%s.%lld.%s", dep, (long long)now, *is_delta ? "delta" : "safetensors");
    char p[4500];
    dep_file_path(s, file, p, sizeof p);
    if (ck) {
        /* the snapshot (base or delta) is already a durable file of the trainer's: give it a second name instead
         * of writing and fsyncing a copy (the bytes are those applied: loads run one at a time, and a checkpoint's
         * data file is never rewritten, an overwrite gets a new file) */
        char cp[4500], dir[4200];
        fwl_ckpt_dir(s, ck->job, dir, sizeof dir);
        snprintf(cp, sizeof cp, "%s/%s", dir, ck->file);
        if ((*is_delta || !delta) && fwl_link_unsynced(cp, p) == 0)
            return 0; /* (durable through the record's fsync that follows it; replica.c "Durability") */
    }
    if (*is_delta)
        return fwl_write_atomic(p, delta, dlen);
    if (!m)
        return -1;
    return write_base(p, m);
}

void fwl_replica_record_files(cJSON *rec, const char *file, bool is_delta, cJSON *old)
{
    cJSON *chain = cJSON_GetObjectItemCaseSensitive(rec, "_deltaFiles");
    if (is_delta) {
        if (!cJSON_IsArray(chain)) {
            chain = cJSON_CreateArray();
            fwl_json_put(rec, "_deltaFiles", chain);
        }
        cJSON_AddItemToArray(chain, cJSON_CreateString(file));
        return;
    }
    const char *wf = plain_name(cJSON_GetObjectItemCaseSensitive(rec, "_weightsFile"));
    if (wf && strcmp(wf, file) != 0)
        cJSON_AddItemToArray(old, cJSON_CreateString(wf));
    const cJSON *d;
    if (!cJSON_IsArray(chain))
        chain = NULL;
    cJSON_ArrayForEach(d, chain)
    {
        if (plain_name(d))
            cJSON_AddItemToArray(old, cJSON_CreateString(d->valuestring));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "_deltaFiles");
    fwl_json_put(rec, "_weightsFile", cJSON_CreateString(file));
}

void fwl_replica_unlink_files(fwl_server *s, const cJSON *rec, const cJSON *names)
{
    char p[4500];
    if (!names) {
        const char *wf = plain_name(cJSON_GetObjectItemCaseSensitive(rec, "_weightsFile"));
        if (wf) {
            dep_file_path(s, wf, p, sizeof p);
            unlink(p);
        }
        names = cJSON_GetObjectItemCaseSensitive(rec, "_deltaFiles");
    }
    if (!cJSON_IsArray(names))
        names = NULL;
    const cJSON *d;
    cJSON_ArrayForEach(d, names)
    {
        const char *f = plain_name(d);
        if (f) {
            dep_file_path(s, f, p, sizeof p);
            unlink(p);
        }
    }
}

/* Is name among the files rec references? */
static bool referenced(const cJSON *rec, const char *name)
{
    const char *wf = plain_name(cJSON_GetObjectItemCaseSensitive(rec, "_weightsFile"));
    if (wf && !strcmp(wf, name))
        return true;
    const cJSON *chain = cJSON_GetObjectItemCaseSensitive(rec, "_deltaFiles"), *d;
    if (!cJSON_IsArray(chain))
        chain = NULL;
    cJSON_ArrayForEach(d, chain)
    {
        if (plain_name(d) && !strcmp(d->valuestring, name))
            return true;
    }
    return false;
}

void fwl_replica_store_cleanup(fwl_server *s)
{
    char dir[4200], p[4500];
    snprintf(dir, sizeof dir, "%s/deployments", s->cfg.data_dir);
    size_t nr = 0, nw = 0, nd = 0;
    char **recs = fwl_list_dir(dir, ".json", &nr);
    char **bases = fwl_list_dir(dir, ".safetensors", &nw), **deltas = fwl_list_dir(dir, ".delta", &nd);
    cJSON **parsed = nr ? calloc(nr, sizeof *parsed) : NULL;
    if (nr && !parsed)
        goto out; /* out of memory: keep everything */
    for (size_t i = 0; i < nr; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, recs[i]);
        parsed[i] = fwl_read_json(p);
    }
    for (int pass = 0; pass < 2; pass++) {
        char **files = pass ? deltas : bases;
        size_t n = pass ? nd : nw;
        for (size_t k = 0; k < n; k++) {
            bool used = false;
            for (size_t i = 0; i < nr && !used; i++)
                used = parsed[i] && referenced(parsed[i], files[k]);
            if (!used) {
                snprintf(p, sizeof p, "%s/%s", dir, files[k]);
                unlink(p);
            }
        }
    }
    for (size_t i = 0; i < nr; i++)
        cJSON_Delete(parsed[i]);
out:
    free(parsed);
    fwl_free_list(recs, nr);
    fwl_free_list(bases, nw);
    fwl_free_list(deltas, nd);
}
