// Package api is beamline's serving API: an http.Handler that answers view queries by merging the
// batch and the speed layer of a view store (package store). It reads the store only through
// store.Store and never links the Beam SDK.
//
// # Usage
//
//	st, err := store.Open(ctx, "sqlite:///var/lib/beamline/views.db")
//	srv := api.New(st, &api.Options{AuthToken: token})
//	http.ListenAndServe("127.0.0.1:8080", srv)
//
// # Endpoints
//
//	GET /v1/views/{view}?key=K&from=T&to=T[&granularity=1m|1h|1d]  rows of one key, and totals
//	GET /v1/views/{view}/top?from=T&to=T&metric=M[&n=10]              top keys by an additive metric
//	GET /v1/views/{view}/keys?from=T&to=T                             keys with data in the range
//	GET /v1/status                                                    cutoff, runs, watermark, lag
//	GET /healthz                                                      liveness (no token needed)
//	GET /metrics                                                      Prometheus text format
//	GET /openapi.json                                                 the OpenAPI 3 document
//
// Every view query covers the windows whose start lies in [from, to). from and to are RFC 3339
// times on boundaries of the granularity (of the view's window for top and keys), from before to,
// at most Options.MaxRange apart. Answers are JSON; times in them are RFC 3339 UTC.
//
// # The batch cutoff
//
// The cutoff is the end of the last day of the run of consecutive published days that starts at
// the oldest published day (see Cutoff). With days 1, 2 and 4 published it is the end of day 2:
// a day published after a gap (a failed or unfinished backfill) does not move it, so the days of
// the gap are answered by the speed layer rather than missing, until the gap is published. With
// no day published there is no cutoff (batch_cutoff is null) and the speed layer answers all.
//
// # The merge rule
//
// A window that starts before the cutoff comes from the batch layer, any later one from the speed
// layer; a speed row of a window before the cutoff is never added in, and a batch row of a window
// after it is never served. So no window is counted twice or missing. Batch rows are read only for
// published runs (the store's contract), so a half-written run is never served, and a run
// becomes visible at once when it is published. An answer that read the batch layer is checked
// against the publications read after it: if a run was published meanwhile it is recomputed, so
// an answer reflects one publication state, never half of each.
//
// Every answer says which layer answered each row ("layer"), which part of the range each layer
// answered ("layers"), the cutoff ("batch_cutoff") and the freshness of the speed layer
// ("freshness": its watermark and how far it lags behind now).
//
// # Granularity and distinct counts
//
// Rows come at the view's window length by default (1m; 1h for sessions); granularity=1h or 1d
// sums the windows of each hour or day. Additive metrics are summed. Distinct counts (visitors of
// page_views) cannot be summed, so at a coarser granularity they are left out of the rows and the
// answer lists them in "omitted_metrics" with a "note"; totals hold additive metrics only, and top
// refuses a distinct count with 400. A granularity finer than the view's window (1m for sessions)
// is a 400. The cutoff is a midnight, so a 1h or 1d bucket never mixes layers.
//
// # Errors
//
// Errors are JSON {"error": "..."}: 400 for bad parameters (a malformed or missing time, from not
// before to, a range over the limit, a misaligned time, an unknown metric or parameter, a repeated
// or oversized parameter, key over 1 KiB, n outside 1..1000), 401 without the bearer token, 404
// for an unknown view or path, 405 for a method other than GET, 502 when the store fails, 504 when
// a store call outlasts Options.StoreTimeout, and 503 with Retry-After when runs keep being
// published while an answer is read or when an expensive query is shed.
//
// # Admission
//
// A query over every key of a view (top, keys) whose range is longer than
// Options.ExpensiveRange, or over one key and seven times that range, is expensive: at most
// Options.MaxExpensive of them compute at once (queries that share a computation share its
// slot); the others wait up to Options.QueueWait, then are shed with 503 and Retry-After: 1. So
// expensive queries cannot hold every store connection past the store timeout, and cheap
// queries and /healthz are never held back by them.
//
// # Caching
//
// The publications and the speed watermark are read at most every Options.StateRefresh, so a
// publication is served (whole, as above) at most that long after it is made. Encoded
// answers are cached by request, publication state and speed watermark for up to Options.CacheTTL
// (speed rows may change before the watermark moves); a publication or a watermark change makes
// every cached answer stale at once. Concurrent misses of one request share one computation.
package api
