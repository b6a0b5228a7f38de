/*
 * The account lookup (docs/protocol.md §1): GET /v1/accounts?pageSize=2 and take
 * accounts[0].name "accounts/<id>". The client caches the result in its
 * account slot (core knows the slot, not the route).
 */
#include <stdio.h>
#include <string.h>

#include "api/jobs_internal.h"
#include "json/json.h"

/* The key sees several accounts: name them, so the user can pick one for account_id. */
static int several_accounts(const cJSON *accounts, const cJSON *reply)
{
    char list[512];
    size_t len = 0;
    list[0] = 0;
    const cJSON *a = NULL;
    cJSON_ArrayForEach(a, accounts)
    {
        const char *name = NULL;
        if (fwt__json_get_string(a, "name", &name) != FWT_OK || !*name)
            name = "(unnamed)";
        if (strncmp(name, "accounts/", 9) == 0 && name[9])
            name += 9;
        int k = snprintf(list + len, sizeof list - len, "%s\"%.100s\"", len ? ", " : "", name);
        if (k < 0 || (size_t)k >= sizeof list - len)
            break;
        len += (size_t)k;
    }
    /* The lookup asks for two rows: a next page (or a larger total) means there are more. */
    const char *tok = NULL;
    double total = 0;
    const cJSON *ts = fwt__json_get(reply, "totalSize");
    if (cJSON_IsNumber(ts))
        total = ts->valuedouble;
    int more = (fwt__json_get_string(reply, "nextPageToken", &tok) == FWT_OK && *tok) ||
               total > (double)cJSON_GetArraySize(accounts);
    return fwt__last_set(FWT_EUNSUPPORTED,
                         "account lookup: this API key sees several accounts (%s%s); set account_id to the one to use",
                         list, more ? ", and more" : "");
}

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
        rc = several_accounts(accounts, r.json);
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
