/* A program built against an installed libfwtrain: links, runs, uses the registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fwtrain/fwtrain.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer DIR\n");
        return 2;
    }
    if (strcmp(fwt_version_string(), FWT_VERSION_STRING) != 0) {
        fprintf(stderr, "version mismatch: header %s, library %s\n", FWT_VERSION_STRING, fwt_version_string());
        return 1;
    }
    fwt_registry_entry e;
    fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
    e.name = "step-3";
    e.step = 3;
    e.data_consumed = 12;
    e.state_path = "cross_job://job-install/step-3";
    e.sampler_path = "step-3-0123abcd";
    e.source_job_id = "job-install";
    if (fwt_registry_append(argv[1], &e) != FWT_OK) {
        fprintf(stderr, "append: %s\n", fwt_error_last()->message);
        return 1;
    }
    fwt_registry *l = NULL;
    if (fwt_registry_read(&l, argv[1]) != FWT_OK) {
        fprintf(stderr, "read: %s\n", fwt_error_last()->message);
        return 1;
    }
    const fwt_registry_entry *p = fwt_registry_latest_promotable(l);
    int ok = p && p->step == 3 && strcmp(p->sampler_path, "step-3-0123abcd") == 0;
    fwt_registry_free(l);
    printf("fwtrain %s: %s\n", fwt_version_string(), ok ? "ok" : "wrong registry contents");
    return ok ? 0 : 1;
}
