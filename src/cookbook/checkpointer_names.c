/*
 * A warning when a checkpoint name is saved twice in one session: the
 * trainer keeps one checkpoint per name, so the second save silently
 * replaces the first (the cookbook warns the same way). The names are
 * forgotten when a recovery opens a new session.
 */
#include <string.h>

#include "checkpointer_impl.h"
#include "fwt_util.h"

void fwt__ckpt_names_clear(fwt_checkpointer *c)
{
    for (size_t i = 0; i < c->nnames; i++)
        fwt__free_mem(c->names[i]);
    fwt__free_mem(c->names);
    c->names = NULL;
    c->nnames = c->cap_names = 0;
}

void fwt__ckpt_name_used(fwt_checkpointer *c, const char *kind, const char *name)
{
    char *key = fwt__asprintf("%s/%s", kind, name);
    if (!key)
        return; /* only a warning is at stake */
    for (size_t i = 0; i < c->nnames; i++) {
        if (!strcmp(c->names[i], key)) {
            fwt_client *client = fwt_training_client(c->t);
            char *msg = fwt__asprintf("checkpointer on %s: the %s checkpoint name \"%s\" is saved again in session %s; "
                                      "the trainer replaces the earlier checkpoint of that name",
                                      c->log_path, kind, name, fwt_training_session_id(c->t));
            if (client && msg)
                fwt_client_log(client, FWT_LOG_WARN, msg);
            fwt__free_mem(msg);
            fwt__free_mem(key);
            return;
        }
    }
    if (c->nnames == c->cap_names) {
        size_t cap = c->cap_names ? c->cap_names * 2 : 16;
        char **n = fwt__realloc(c->names, cap * sizeof *n);
        if (!n) {
            fwt__free_mem(key);
            return;
        }
        c->names = n;
        c->cap_names = cap;
    }
    c->names[c->nnames++] = key;
}
