/* The fwt_client struct, shared by client.c and request.c only. */
#ifndef FWT_CORE_CLIENT_IMPL_H
#define FWT_CORE_CLIENT_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/request.h"

typedef struct fwt__attachment {
    void (*detach)(void *ud);
    void *ud;
    struct fwt__attachment *next;
} fwt__attachment;

struct fwt_client {
    fwt_client_options opts;   /* resolved defaults; api_key NULL */
    char *base_url, *hotload_url, *inference_url;
    char *account_id;          /* configured or resolved; guarded by account_mu until set */
    char *proxy;               /* options.proxy copied (NULL = environment, https only) */
    char *api_key;             /* wiped on free */
    char *hdr_key, *hdr_bearer;/* "X-Api-Key: …", "Authorization: Bearer …"; wiped on free */
    fwt__logger logger;
    fwt_log_fn user_log;
    void *user_log_payload;
    fwt__engine *engine;
    pthread_mutex_t account_mu;
    pthread_mutex_t attach_mu;
    fwt__attachment *attached;
    char user_agent[64];
    atomic_uint compat;        /* FWT__COMPAT_* */
};

#endif /* FWT_CORE_CLIENT_IMPL_H */
