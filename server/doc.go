// Package server is Comandera's print server without its main: the
// transport-agnostic Service (every operation of the API, for the HTTP
// handlers and the MQTT connector alike), the queue.Printer that turns a
// queued job into bytes on a driver connection, and the HTTP API on top —
// routes, JSON errors, bearer-token authentication with a failure limiter,
// Server-Sent Events and Prometheus metrics.
//
// # Using it
//
//	svc, err := server.Open(ctx, cfg, server.Options{Logger: log}) // plugins, queue, workers
//	go svc.Serve(listener)                                        // HTTP (TLS when configured)
//	…
//	svc.Shutdown(ctx) // refuse new jobs, finish the job in hand, close the queue
//
// Another transport (MQTT) calls the Service directly, with the same
// request JSON as POST /print:
//
//	req, err := server.DecodePrintRequest(payload, "")
//	job, existed, err := svc.Print(ctx, req)
//	e := server.AsError(err) // e.Status, e.Code, e.Message as the HTTP API would answer
//
// and Test, Scan, Status, Health, Job, Jobs, Cancel, Reprint, Render,
// Printers, Wait and Events for the rest.
//
// # Printing a job
//
// The queue's worker for a printer calls Status, then Print once per copy.
// Status opens a driver connection and, when the connection is a
// core.StatusReader, asks it. A printer that does not speak ESC/POS (Star
// Line Mode, Star Graphic) whose quirks plugin has a status request
// (plugins.Info.StatusRequest) is also asked in its own language when the
// connection reads (core.Reader, bounded by core.Deadliner): the request is
// written, the answer read for up to a second and decoded by the plugin's
// ParseStatus; no answer, or one that does not decode, is "unknown", never
// "online". The connection is kept for the Print that follows (up to a
// second). Print encodes the job for the printer's profile
// (a document or text through the quirks plugin when the printer has one,
// else the built-in ESC/POS encoder; raw bytes through the plugin's
// Transform), puts a REPRINT banner first when the job is a reprint, labels
// the connection with the job ID (core.Labeler), writes with the worker's
// deadline (core.Deadliner, and by closing the connection when the context
// ends) and closes. Driver errors keep their class (core.ErrOffline,
// core.ErrNotReady) for the queue; an encoding error is queue.Permanent; a
// plugin that crashed or timed out is retried; a driver that panics fails
// only its job.
package server
