/* bench/server's parts (one JSON object in the end): the model deltas (server.c), the checkpoint path (server_io.c)
 * and retrieve_future throughput against a minimal epoll responder (server_rps.c). */
#ifndef FWL_BENCH_SERVER_H
#define FWL_BENCH_SERVER_H

#include <stdio.h>

double bench_now(void);
/* Save / hotload per dim (64..512) with a memcpy of the same weights as the yardstick: appends
 * "ckpt": {...} (with a leading comma) to out. 0, or -1 with a message on stderr. */
int bench_ckpt(FILE *out);
/* retrieve_future at 1 / 16 / 256 connections, fwtrain-local vs a minimal single-threaded epoll responder:
 * appends "rps": {...} (with a leading comma). 0, or -1 with a message on stderr. */
int bench_rps(FILE *out);

#endif
