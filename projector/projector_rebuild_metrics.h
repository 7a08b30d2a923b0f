#ifndef PROJECTOR_REBUILD_METRICS_H
#define PROJECTOR_REBUILD_METRICS_H

/*
 * projector_rebuild_metrics: `outbox-projector rebuild NAME` serves its progress while it runs,
 * on http.listen's host at http.rebuild-port (0: any free port; the URL is printed), as
 * Prometheus text:
 *
 *   outbox_projector_rebuild_events_done{projection}    gauge  records of the projection's
 *                                                              topics the shadow has consumed
 *   outbox_projector_rebuild_events_total{projection}   gauge  records in those topics now
 *   outbox_projector_rebuild_lag_events{projection}     gauge  total - done
 *   outbox_projector_rebuild_rate_events_per_second{projection}  gauge  smoothed, as printed
 *   outbox_projector_rebuild_eta_seconds{projection}    gauge  lag / rate; -1 while unknown
 *   outbox_projector_rebuild_phase{projection}          gauge  1 building, 2 swapping (the
 *                                                              swap transaction is open)
 *   and the shadow workers' own outbox_projector_* series (projector_stats.h), e.g.
 *   outbox_projector_events_applied_total{projection,worker}: events a worker applied to the
 *   shadow (no worker label when projector.rebuild-workers = 1).
 *   GET /healthz answers 200 "rebuilding" (503 once a worker failed).
 *
 * Ownership: the rebuild owns the metrics (projector_rebuild_metrics_stop); the workers'
 * stats are borrowed and must outlive it. Threads: update/phase from the rebuild's main thread;
 * rendering on the HTTP server's threads (relaxed atomics).
 */

#include <stddef.h>
#include <stdint.h>

#include "projector_settings.h"
#include "projector_stats.h"

typedef enum projector_rebuild_phase {
    PROJECTOR_REBUILD_PHASE_BUILDING = 1,
    PROJECTOR_REBUILD_PHASE_SWAPPING = 2,
} projector_rebuild_phase;

typedef struct projector_rebuild_metrics projector_rebuild_metrics;

/* Start serving (http.listen, http.rebuild-port). NULL with errstr on failure, NULL
 * with errstr "" when http.listen is off. Main thread. */
projector_rebuild_metrics *
projector_rebuild_metrics_start(const projector_settings *settings, const char *projection,
                                projector_stats *const *workers, size_t count, char *errstr,
                                size_t errstr_size) __attribute__((warn_unused_result));

/* The bound port. */
uint16_t projector_rebuild_metrics_port(const projector_rebuild_metrics *m);

/* The latest progress: records done of total, the smoothed rate (records/s). NULL: no-op. */
void projector_rebuild_metrics_update(projector_rebuild_metrics *m, int64_t done, int64_t total,
                                      double rate);
void projector_rebuild_metrics_phase(projector_rebuild_metrics *m, projector_rebuild_phase phase);

/* Stop serving and free. NULL: no-op. Main thread. */
void projector_rebuild_metrics_stop(projector_rebuild_metrics *m);

/* The progress series alone, as Prometheus text (malloc'd; NULL on ENOMEM). Pure; any thread. */
char *projector_rebuild_metrics_text(const char *projection, int64_t done, int64_t total,
                                     double rate, int phase);

#endif
