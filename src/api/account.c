/*
 * The account lookup (docs/protocol.md §1): GET /v1/accounts?pageSize=2 and take
 * accounts[0].name "accounts/<id>". The client caches the result in its
 * account slot (core knows the slot, not the route).
 */
#include <string.h>

#include "api/jobs_internal.h"
#include "json/json.h"

static int resolve_account(fwt_client *c, char **out)
{
    char *url = fwt__url_join(fwt_client_base_url(c), "/v1/accounts?pageSize=2");
    if (!url)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__call call = {.plane = FWT__PLANE_CONTROL, .method = "GET", .url = url, .retry = FWT__RC_CONTROL};
    fwt__reply r;
    int rc = fwt__call_sync(c, &call, &r);
    fwt__free_mem(url);
    if (rc) {
        fwt__reply_clear(&r);
        return rc;
    }
    const cJSON *accounts = NULL;
    int jr = r.json ? fwt__json_get_array(r.json, "accounts", &accounts) : FWT_EPROTO;
    int n = jr == FWT_OK ? cJSON_GetArraySize(accounts) : 0;
    if (jr == FWT_EPROTO)
        rc = fwt__last_set(FWT_EPROTO, "account lookup: the reply is not {\"accounts\": [...]}");
    else if (n == 0)
        rc = fwt__last_set(FWT_ENOTFOUND, "account lookup: the API key has no account");
    else if (n > 1)
        rc = fwt__last_set(FWT_EUNSUPPORTED,
                           "account lookup: multiple accounts for this API key are not supported; set account_id");
    else {
        const char *name = NULL;
        const cJSON *first = cJSON_GetArrayItem(accounts, 0);
        if (fwt__json_get_string(first, "name", &name) || strncmp(name, "accounts/", 9) != 0 || !name[9] ||
            strchr(name + 9, '/') || !strcmp(name + 9, ".") || !strcmp(name + 9, ".."))
            rc = fwt__last_set(FWT_EPROTO, "account lookup: accounts[0].name is not \"accounts/<id>\"");
        else if (!(*out = fwt__strdup(name + 9)))
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__reply_clear(&r);
    return rc;
}

int fwt__client_account(fwt_client *c, const char **out)
{
    return fwt__client_account_slot(c, resolve_account, out);
}

int fwt_client_account_id(const char **out, fwt_client *c)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "fwt_client_account_id: %s is NULL", out ? "client" : "out");
    return fwt__client_account(c, out);
}
