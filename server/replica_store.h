/* A replica's weights on disk (replica_store.c), so a deployment serves the same bytes after a restart.
 * The deployment record names a safetensors base (`_weightsFile`) and the deltas applied on top of it, in order
 * (`_deltaFiles`), all in DATA/deployments/. A hotload links the checkpoint's own file (no copy, no data fsync:
 * the trainer's save fsynced it), base or delta; every FWL_REPLICA_CHAIN_MAX-th delta writes a fresh base from the
 * weights instead, so a restart replays a bounded chain. Every delta carries the checksum (or the root) of its
 * result, so the replayed weights are exactly the ones served (or the restore fails loudly). */
#ifndef FWL_REPLICA_STORE_H
#define FWL_REPLICA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ckpt.h"
#include "model.h"
#include "state.h"

#define FWL_REPLICA_CHAIN_MAX 16

/* The weights rec stands for into *m (reused when allocated for the same dim), and their content root when the
 * chain ends with a version-3 delta (else root->known is false). 0, or -1 with err. */
int fwl_replica_restore_weights(fwl_server *s, const cJSON *rec, fwl_model *m, fwl_wroot *root, char *err,
                                size_t el);

/* Does a load (a delta or not) onto the chain rec stores need a fresh base rather than one more delta file? */
bool fwl_replica_store_wants_base(const cJSON *rec, bool delta);

/* What a load writes before its record changes: a base (linked from the checkpoint `ck`, or written from `m`)
 * or the delta (linked from `ck`, or its bytes written). `file` gets the new file's name; *is_delta whether it
 * extends the chain. 0 or -1. */
int fwl_replica_store_files(fwl_server *s, const char *dep, const cJSON *rec, const fwl_ckpt *ck, const fwl_model *m,
                            const uint8_t *delta, size_t dlen, char *file, size_t fl, bool *is_delta);
/* Points rec at the new file (a base replaces the chain; a delta is appended). `old` (a JSON array the caller
 * deletes) gets the files that are no longer referenced. */
void fwl_replica_record_files(cJSON *rec, const char *file, bool is_delta, cJSON *old);
/* Unlinks the files named in the array `names` (the strings of fwl_replica_record_files' `old`) or, with
 * names == NULL, every weight file rec references. */
void fwl_replica_unlink_files(fwl_server *s, const cJSON *rec, const cJSON *names);

/* Startup (nothing else runs yet): drops weight files no deployment record names (a crash between a load's file
 * and its record, or a roll that dropped the record's chain). */
void fwl_replica_store_cleanup(fwl_server *s);

#endif /* FWL_REPLICA_STORE_H */
