/*
 * Paged control-plane listings (docs/protocol.md §3.2 "Listing", §3.5, §11.5): GET the prefix, then the same
 * URL with &pageToken=T for as long as the answer names a next page. Written once for every listing (jobs,
 * checkpoints): the token is URL-escaped, a server that repeats its token or never ends is an FWT_EPROTO
 * instead of an endless loop, and max_pages stops early on request.
 */
#include "api/jobs_internal.h"

#include <string.h>

#include "json/json.h"

/* A listing that has not ended after this many pages is broken, not long. */
#define FWT__MAX_LIST_PAGES 100000

/* The page's next token, copied; NULL on the last page. FWT_OK or FWT_ENOMEM. */
static int next_token(const cJSON *json, char **next)
{
    const char *tok = NULL;
    *next = NULL;
    (void)fwt__json_get_string2(json, "nextPageToken", "next_page_token", &tok);
    if (tok && *tok && !(*next = fwt__strdup(tok)))
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    return FWT_OK;
}

/* The URL of the page after `token` (NULL: the first page). NULL when out of memory. */
static char *page_url(const char *prefix, const char *token)
{
    if (!token)
        return fwt__strdup(prefix);
    char *esc = fwt__url_escape(token);
    char *url = esc ? fwt__asprintf("%s&pageToken=%s", prefix, esc) : NULL;
    fwt__free_mem(esc);
    return url;
}

int fwt__list_pages(fwt_client *c, const char *prefix, const fwt__pager *p, size_t *pages)
{
    char *token = NULL;
    int rc = FWT_OK;
    *pages = 0;
    for (;;) {
        char *url = page_url(prefix, token);
        if (!url) {
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
            break;
        }
        fwt__reply r;
        rc = fwt__cp_call(c, "GET", url, NULL, FWT__CP_GET_TIMEOUT_MS, &r);
        fwt__free_mem(url);
        if (rc == FWT_ENOTFOUND && p->not_found)
            rc = fwt__last_set_replyf(&r, "%s", p->not_found);
        char *next = NULL;
        if (rc == FWT_OK && !cJSON_IsObject(r.json))
            rc = fwt__last_set(FWT_EPROTO, "%s is not a JSON object", p->what);
        if (rc == FWT_OK)
            rc = p->on_page(p->ctx, r.json);
        if (rc == FWT_OK)
            rc = next_token(r.json, &next);
        fwt__reply_clear(&r);
        if (rc != FWT_OK)
            break;
        (*pages)++;
        if (next && token && strcmp(next, token) == 0) {
            fwt__free_mem(next);
            rc = fwt__last_set(FWT_EPROTO, "%s repeats the same page token", p->what);
            break;
        }
        fwt__free_mem(token);
        token = next;
        if (!token || (p->max_pages > 0 && *pages >= (size_t)p->max_pages))
            break;
        if (*pages >= FWT__MAX_LIST_PAGES) {
            rc = fwt__last_set(FWT_EPROTO, "%s does not end", p->what);
            break;
        }
    }
    fwt__free_mem(token);
    return rc;
}
