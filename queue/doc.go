// Package queue is Comandera's durable job queue: an embedded bbolt store of
// print jobs, one worker goroutine per printer that prints them in order,
// an expiry sweeper, history pruning, an event stream, and a durable outbox
// of signed callbacks to the backend. The HTTP server is a thin layer on top
// of it.
//
// # Using it from the server
//
// Open the store once, with one PrinterConfig per printer in printers.hcl;
// each names a Printer, the seam the server implements on top of a driver
// connection and the encoder (Print encodes and writes one copy, marking a
// REPRINT line when job.Reprint is set; Status reads the printer's state):
//
//	q, err := queue.Open(filepath.Join(queue.StateDir("./comandera-data"), queue.FileName), queue.Options{
//		Logger:   log,
//		Printers: []queue.PrinterConfig{{Name: "kitchen", Printer: kitchen, TTL: 30 * time.Minute, Fallback: "bar"}, …},
//		Callback: queue.CallbackOptions{Secret: secret, Allow: cfg.CheckCallbackURL},
//	})
//	defer q.Shutdown(ctx) // on SIGTERM: finish the job in hand, stop, close
//
// The routes map onto it like this:
//
//	POST /print                 Submit(ctx, Request) → 202 {job_id, state}; with ?wait=30s, then
//	                            Wait(ctx with timeout, id) and answer the job (on timeout: its
//	                            current state). existed = true means an idempotent retry: answer
//	                            the original job the same way (200 or 202, the server's choice).
//	GET /jobs/{id}              Get(id)
//	GET /jobs?printer=&state=   List(Filter{Printer, State, Limit, Before}) (newest first, no payloads)
//	DELETE /jobs/{id}           Cancel(ctx, id)
//	POST /jobs/{id}/reprint     Reprint(ctx, id, "")
//	GET /events                 Subscribe(n); write each Event from C as an SSE message (id: event_id)
//	GET /status, /health        Printers() (state, queue depth, down since, last error)
//	GET /metrics                Printers(), CallbackStats(), and counts from a Subscribe
//
// Errors map to HTTP statuses: errors.Is(err, ErrInvalid) → 400 (the message
// names the problem), ErrUnknownPrinter and ErrNotFound → 404, ErrNotQueued
// → 409, ErrQueueFull → 429 with Retry-After taken from the *FullError's
// RetryAfter, ErrClosed → 503. The Job type marshals to the JSON the API
// returns (snake_case: job_id, printer, state, copies, attempts, created_at,
// printed_at, expires_at, last_error, reprint, reprint_of,
// failed_over_from, …, and the payload as content, content_base64 or
// document when it was read with Get).
//
// The server checks a callback_url against its configured backend prefixes
// before Submit and passes the same check as CallbackOptions.Allow.
//
// # States and guarantees
//
// A job is queued → printing → printed | failed | expired | canceled, and
// goes back from printing to queued for a retry. Submit returns only after
// the job is fsync'd. Concurrent writes share one transaction and one fsync
// (a group commit without a timer: a write waits only for the commit in
// progress), so durability does not cost throughput.
//
// Each printer has one worker, which prints its jobs in creation order, one
// at a time, copies in a row. Before each job it drops the job if it is
// past ExpiresAt (state expired) and asks the printer's Status: paper out,
// cover open or an error state mean wait and poll (PollEvery) without
// spending an attempt; offline means the printer is down. It then records
// printing durably and only then calls Print. Print's error decides what
// follows: core.ErrNotReady → queued again without spending the attempt;
// Permanent(err), or a panic in the Printer → failed at once (only that
// job; the worker carries on); core.ErrOffline → queued again after a
// backoff (RetryBackoff doubling up to RetryMax, with jitter), never failed
// for it, since an offline printer is a reason to wait or fail over, not to
// lose the ticket; any other error → the same backoff, failed after
// MaxAttempts attempts.
//
// A printer that stays down (offline status or failing prints) for
// FailoverAfter moves its queued jobs to its Fallback, in order, each
// recording FailedOverFrom and starting a fresh attempt count; jobs that
// arrive while it is still down follow. A job is never moved back to the
// printer it came from.
//
// A sweeper expires queued jobs past ExpiresAt on every printer, including
// one whose worker is waiting for a dead printer, so the backend hears of
// it. ExpiresAt is Request.ExpiresIn after creation, or the printer's TTL.
//
// A job found printing when the store opens (the process died while
// writing it) is queued again with Reprint set: printed again with a
// visible REPRINT line, since a missing kitchen ticket is worse than a
// marked duplicate. Jobs found queued are simply printed. Shutdown stops
// accepting jobs, lets each worker finish and record the job in hand, and
// when its deadline passes cancels the Print calls (their jobs are requeued
// marked REPRINT).
//
// Idempotency keys are scoped to the printer the job is submitted to: a
// backend sending order 8812 to the kitchen and to the bar may use
// "order-8812" for both. A key seen within IdempotencyWindow (default 24 h)
// returns the first job, whatever its state (existed = true), and stores
// nothing; the key is written in the same transaction as the job, so a crash
// cannot keep one without the other. A final job whose key is still inside
// the window is not pruned.
//
// History is pruned every PruneEvery: final jobs older than KeepFor
// (default 7 days) or beyond the newest KeepJobs (default 10,000), and keys
// older than the window.
//
// # Events
//
// Every change to a job — creation, each state change, a failover (queued to
// queued with a new printer) — is an Event with a unique, sortable event_id
// and a snapshot of the job. Subscribers receive events in commit order.
// Publishing never blocks a worker: each Subscription has a bounded buffer
// and events that do not fit are dropped for that subscriber and counted
// (Dropped); an SSE client that missed some can re-read jobs with Get. A
// consumer that must see every event uses a sink (below).
//
// # Callbacks
//
// For a job with a CallbackURL, each event is also written to an outbox in
// the same bbolt transaction as the change, so a crash can delay a callback
// but not lose it. A deliverer POSTs each entry as JSON (Callback: the
// event plus "timestamp" and "attempt") with the headers
//
//	X-Comandera-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>
//	X-Comandera-Timestamp: <Unix seconds, equal to the body's "timestamp">
//	X-Comandera-Event:     <event_id, equal to the body's "event_id">
//
// A 2xx answer removes the entry; anything else, a network error or a
// refused redirect is retried with exponential backoff (Backoff up to
// BackoffMax) until the entry is MaxAge old (default 24 h), then given up
// and logged. One job's events are delivered in order; delivery is at
// least once, so the receiver deduplicates on event_id. Only a 307/308
// redirect to the same scheme and host is followed. A receiver checks a
// request with VerifyRequest (signature, and a timestamp within a tolerance
// against replays); Sign and Verify are the primitives, also for the MQTT
// connector. In Python:
//
//	expected = "sha256=" + hmac.new(secret, request.body, hashlib.sha256).hexdigest()
//	ok = hmac.compare_digest(expected, request.headers["X-Comandera-Signature"]) \
//	    and abs(time.time() - json.loads(request.body)["timestamp"]) < 300
//
// # Sinks
//
// A transport that must not miss an event either — the MQTT connector,
// whose events are the backend's only news in an MQTT-only restaurant —
// names a durable sink in Options.Sinks ("mqtt"). Every change of every job
// is then written to each sink as an Entry (the Event's JSON) in the same
// transaction as the change, in commit order: if the change is on disk, so
// is its entry. The consumer takes entries with Sink(name).Next, delivers
// each, and removes it with Ack only once delivered (the deletions are
// gathered for SinkOptions.AckDelay, 1s, and share the group commit);
// entries not acknowledged when the process dies, or acknowledged within
// AckDelay of it, are handed out again after the next Open, from the first
// one not acknowledged. Delivery is therefore at least
// once (never lost, possibly repeated after a crash): a receiver
// deduplicates on event_id. Entry.Callback makes the body the HTTP callback
// carries, so the two channels send the same bytes. Sinks are bounded
// (SinkOptions): at most MaxEntries (default 50,000) entries and MaxBytes
// (default 64 MiB) per sink, none older than MaxAge (default 7 days); the
// oldest entries beyond a bound are dropped, counted (SinkStats.Dropped)
// and logged, so a box offline for weeks loses its oldest events but does
// not fill the SD card. Shutdown waits, within its context, while the
// consumer keeps acknowledging (SinkOptions.Drain, default 1s without
// progress), so the events of the last jobs usually go out before the
// process exits.
//
// # Storage
//
// One bbolt file (FileName in StateDir: /var/lib/comandera/queue.db under
// systemd's StateDirectory=comandera), mode 0600, locked against a second
// process. Job IDs are ULID-shaped (26 characters, sortable by creation,
// unique across restarts even if the clock steps back, as on a Raspberry Pi
// without RTC before NTP syncs). Buckets: jobs (ID → job JSON without
// payload), payloads (written once), pending (per printer: the jobs still
// to print, in order, with their expiry), depth (per printer), keys
// (idempotency), final (for pruning), outbox (event ID → callback entry),
// sinks (per sink: entry ID → event time and event JSON).
package queue
