// Package mqtt is Comandera's outbound MQTT connector: the box in the
// restaurant connects out to a broker (Mosquitto, EMQX, HiveMQ, AWS IoT
// Core) and receives its jobs there, so no port is ever opened towards it.
// It is the connector "mqtt" block of printers.hcl, run by `comandera serve`
// beside the HTTP API, and calls the same server.Service the HTTP handlers
// call, so a job over MQTT is checked, queued and printed exactly like a
// POST /print. docs/mqtt.md is the protocol reference; this comment is the
// summary.
//
// # Topics
//
// Under the prefix P (topic_prefix, default "comandera/<client_id>"):
//
//	P/jobs             in   a job: the JSON of POST /print
//	P/requests/{op}    in   print, test, scan, status, health, job, jobs, cancel, reprint
//	P/events           out  every job state change: the body of the HTTP callback, signed
//	P/status           out  retained: online with printers and queue depths; the will says offline
//	P/errors           out  a P/jobs message that was refused, with the HTTP error code
//	P/replies          out  answers to requests that carry no MQTT 5 response topic
//
// # Guarantees
//
// The connector connects with MQTT 5 (github.com/eclipse/paho.golang's
// autopaho, reconnecting with backoff) or, with protocol "3.1.1" or when
// the broker refuses MQTT 5 (protocol "auto"), with MQTT 3.1.1
// (github.com/eclipse/paho.mqtt.golang; see session.go), clean start false and the
// configured session expiry, so the broker keeps the subscription and the
// QoS 1 messages that arrive while the box is away. It subscribes at QoS 1
// and acknowledges a job only once it is durably queued (manual
// acknowledgement): a crash before the fsync leaves the message
// unacknowledged and the broker delivers it again. A job is deduplicated
// by its idempotency_key (or job_id), or when it has neither by a key
// derived from the message's bytes ("mqtt-sha256-<hex>"), so a redelivery
// returns the job already queued and QoS 1 prints one ticket. Jobs are
// handled one at a time in the order they arrive, so they print in the
// order they were published. A job the server refuses for good (bad JSON,
// unknown printer, invalid document…) is acknowledged, logged and reported
// on P/errors (and to its response topic) with the code the HTTP API would
// answer; a full queue or an internal error is retried, never dropped;
// while the server shuts down a job is left unacknowledged for the next
// start.
//
// Requests other than print are acknowledged on receipt and answered once
// (at most once): the requester retries on a timeout. Replies go to the
// MQTT 5 response topic with the correlation data, or to P/replies with the
// body's correlation_id.
//
// Events are as durable as the HTTP callbacks: the queue writes each job
// state change to its "mqtt" sink (queue.Sink) in the same transaction as
// the change, and the connector publishes them from there at QoS 1, in
// order, one at a time, removing each only after the broker's PUBACK. A
// broker outage, a crash or a power cut delays events but loses none: after
// a reconnection or a restart publishing continues from the first event
// not acknowledged, so an event may arrive twice (a backend deduplicates
// on event_id) but never goes missing. The sink is bounded
// (queue.SinkOptions: 50,000 events, 64 MiB, 7 days by default); beyond
// that the oldest events are dropped, counted and logged. Replies and
// rejections go through an in-memory queue (Options.EventBacklog) while the
// broker is unreachable.
//
// Every message the box publishes carries the user property
// X-Comandera-Signature: "sha256=" and the hex HMAC-SHA256 of the payload
// keyed with the server's callback secret (queue.Sign), as the HTTP
// callbacks do; events also carry X-Comandera-Timestamp and
// X-Comandera-Event. With envelope = true (for MQTT 3.1.1 brokers and
// bridges, which drop user properties) the payload is instead
// {"body": "<JSON text>", "signature": "sha256=…"}.
//
// # Using it
//
//	svc, _ := server.Open(ctx, cfg, server.Options{Logger: log}) // with cfg.MQTT: keeps the "mqtt" sink
//	conn, err := mqtt.Start(svc, cfg.MQTT, mqtt.Options{Logger: log})
//	…
//	svc.Shutdown(ctx) // jobs arriving now are left for the next start; the last events go out
//	conn.Close(ctx)   // publish "offline", disconnect
package mqtt
