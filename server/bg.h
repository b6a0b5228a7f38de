/* The background thread (bg.c): hotloads, async promotions and the periodic TTL sweep. */
#ifndef FWL_BG_H
#define FWL_BG_H

#include "state.h"

typedef void (*fwl_task_fn)(fwl_server *s, void *arg);
/* sweep runs every cfg.ttl_sweep_ms on the background thread (NULL: none). */
int fwl_bg_start(fwl_server *s, fwl_task_fn sweep);
void fwl_bg_stop(fwl_server *s);
/* Runs fn(arg) on the background thread no earlier than delay_ms from now; free_fn(arg) after (may be NULL).
 * -1 when out of memory (free_fn(arg) has then been called). */
int fwl_bg_post(fwl_server *s, int delay_ms, fwl_task_fn fn, void *arg, void (*free_fn)(void *));

#endif /* FWL_BG_H */
