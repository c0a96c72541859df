package queue

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/comandera/comandera/core"
	bolt "go.etcd.io/bbolt"
)

// Callback headers.
const (
	HeaderSignature = "X-Comandera-Signature" // "sha256=" + hex HMAC-SHA256 of the body
	HeaderTimestamp = "X-Comandera-Timestamp" // Unix seconds, also in the body
	HeaderEvent     = "X-Comandera-Event"     // event ID, also in the body
)

// Callback is the JSON body POSTed to a job's callback URL: the Event plus
// the time it was sent and the attempt number. The signature covers the whole
// body, so the timestamp and event ID in it are signed: a receiver rejects a
// stale timestamp (replay) and deduplicates on event_id (delivery is at least
// once).
type Callback struct {
	Event
	Timestamp int64 `json:"timestamp"` // Unix seconds; equals the X-Comandera-Timestamp header
	Attempt   int   `json:"attempt"`   // 1 for the first delivery
}

// CallbackOptions configure the callback deliverer. Zero values take the
// defaults given.
type CallbackOptions struct {
	// Secret signs each body (HeaderSignature). Without one, callbacks are
	// sent unsigned.
	Secret []byte
	// Client sends the POSTs; default a client with Timeout. Its redirect
	// policy is replaced: only a 307/308 to the same scheme and host is
	// followed, so a callback is never turned into a request to another host.
	Client      *http.Client
	Timeout     time.Duration // per POST; default 10s
	Backoff     time.Duration // first retry delay, doubled each time, with jitter; default 1s
	BackoffMax  time.Duration // default 5m
	MaxAge      time.Duration // an entry older than this is given up (logged); default 24h
	Concurrency int           // jobs delivered in parallel (one job's events stay in order); default 4
	// Allow, when set, is asked before every delivery (the server passes its
	// backend allow-list check); an entry whose URL it refuses is dropped
	// and logged. It covers entries queued before the configuration changed.
	Allow func(url string) error
}

func (o *CallbackOptions) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	o.BackoffMax = max(o.BackoffMax, o.Backoff)
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
}

// Sign returns the HeaderSignature value for body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret. The MQTT connector signs events the
// same way.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ErrSignature is returned by Verify and VerifyRequest for a missing or wrong
// signature, or a stale or inconsistent timestamp.
var ErrSignature = errors.New("callback signature does not verify")

// Verify checks a HeaderSignature value against body, in constant time.
func Verify(secret, body []byte, signature string) error {
	hexsum, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("%w: want \"sha256=<hex>\"", ErrSignature)
	}
	got, err := hex.DecodeString(hexsum)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: malformed hex digest", ErrSignature)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrSignature
	}
	return nil
}

// MaxCallbackBody bounds what VerifyRequest reads.
const MaxCallbackBody = 1 << 20

// VerifyRequest reads and checks a callback request the way a receiver
// should: the signature over the body, the timestamp header equal to the
// signed one in the body and within tolerance of now, and the event header
// equal to the signed event_id. It returns the decoded body.
func VerifyRequest(r *http.Request, secret []byte, tolerance time.Duration, now time.Time) (*Callback, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxCallbackBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxCallbackBody {
		return nil, fmt.Errorf("callback body larger than %d bytes", MaxCallbackBody)
	}
	if err := Verify(secret, body, r.Header.Get(HeaderSignature)); err != nil {
		return nil, err
	}
	var cb Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("callback body: %w", err)
	}
	ts, err := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	if err != nil || ts != cb.Timestamp {
		return nil, fmt.Errorf("%w: timestamp header does not match the signed body", ErrSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return nil, fmt.Errorf("%w: timestamp %d is %s away from now", ErrSignature, ts, d.Round(time.Second))
	}
	if r.Header.Get(HeaderEvent) != cb.ID {
		return nil, fmt.Errorf("%w: event header does not match the signed body", ErrSignature)
	}
	return &cb, nil
}

// outboxEntry is one callback waiting to be delivered. Its bbolt value is the
// next attempt time (8 bytes, Unix ns), the job ID (26 bytes), then this JSON.
type outboxEntry struct {
	URL       string          `json:"url"`
	Event     json.RawMessage `json:"event"`
	CreatedAt time.Time       `json:"created_at"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error,omitempty"`
}

const outboxHead = 8 + idLen

func outboxValue(next time.Time, jobID string, e *outboxEntry) ([]byte, error) {
	js, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	v := make([]byte, 0, outboxHead+len(js))
	var n uint64
	if !next.IsZero() {
		n = uint64(next.UnixNano())
	}
	v = append(v, putU64(n)...)
	v = append(v, jobID...)
	return append(v, js...), nil
}

// CallbackStats counts callback deliveries since Open.
type CallbackStats struct {
	Pending   int    `json:"pending"` // entries in the outbox
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`    // attempts that will be retried
	Abandoned uint64 `json:"abandoned"` // entries given up after MaxAge
}

// CallbackStats reports the outbox size and delivery counts.
func (q *Queue) CallbackStats() CallbackStats {
	s := CallbackStats{
		Delivered: q.cb.delivered.Load(),
		Failed:    q.cb.failed.Load(),
		Abandoned: q.cb.abandoned.Load(),
	}
	_ = q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bOutbox).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			s.Pending++
		}
		return nil
	})
	return s
}

type deliverer struct {
	q      *Queue
	log    *slog.Logger
	opts   CallbackOptions
	client *http.Client
	kickc  chan struct{}
	warn   sync.Once

	delivered, failed, abandoned atomic.Uint64
}

func newDeliverer(q *Queue) *deliverer {
	o := q.opts.Callback
	var c http.Client
	if o.Client != nil {
		c = *o.Client
	} else {
		c = http.Client{Timeout: o.Timeout}
	}
	if c.Timeout == 0 {
		c.Timeout = o.Timeout
	}
	c.CheckRedirect = sameHostRedirect
	return &deliverer{q: q, log: q.log.With("component", "callbacks"), opts: o, client: &c, kickc: make(chan struct{}, 1)}
}

func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("callback: stopped after 5 redirects")
	}
	o := via[0].URL
	if req.URL.Scheme != o.Scheme || req.URL.Host != o.Host {
		return fmt.Errorf("callback: refusing a redirect from %s://%s to another host %s://%s", o.Scheme, o.Host, req.URL.Scheme, req.URL.Host)
	}
	if req.Method != http.MethodPost {
		return fmt.Errorf("callback: refusing a redirect that turns the POST into %s", req.Method)
	}
	return nil
}

// enqueue writes e's outbox entry in tx, the transaction of the change.
func (d *deliverer) enqueue(tx *bolt.Tx, e *Event) error {
	ev, err := json.Marshal(e)
	if err != nil {
		return err
	}
	v, err := outboxValue(time.Time{}, e.Job.ID, &outboxEntry{URL: e.Job.CallbackURL, Event: ev, CreatedAt: e.Time})
	if err != nil {
		return err
	}
	return tx.Bucket(bOutbox).Put([]byte(e.ID), v)
}

func (d *deliverer) kick() {
	select {
	case d.kickc <- struct{}{}:
	default:
	}
}

func (d *deliverer) run() {
	defer d.q.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-d.q.stop
		cancel()
	}()
	for {
		next := d.pass(ctx)
		wait := time.Minute
		if !next.IsZero() {
			wait = max(time.Until(next), 10*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-d.kickc:
			t.Stop()
		}
	}
}

type outboxItem struct {
	key   string
	job   string
	entry outboxEntry
}

const outboxPassMax = 256

// pass delivers the entries that are due, keeping each job's events in
// order: a job's later event waits while an earlier one is failing. It
// returns when the next entry is due (zero: nothing waiting).
func (d *deliverer) pass(ctx context.Context) time.Time {
	now := time.Now()
	var (
		groups   = map[string][]outboxItem{}
		order    []string
		blocked  = map[string]bool{}
		earliest time.Time
		n        int
		bad      []string
	)
	_ = d.q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bOutbox).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) < outboxHead {
				continue
			}
			job := string(v[8:outboxHead])
			if blocked[job] {
				continue
			}
			at := time.Unix(0, int64(getU64(v[:8])))
			if at.After(now) {
				blocked[job] = true
				if earliest.IsZero() || at.Before(earliest) {
					earliest = at
				}
				continue
			}
			if n >= outboxPassMax {
				earliest = now
				break
			}
			var e outboxEntry
			if err := json.Unmarshal(v[outboxHead:], &e); err != nil {
				d.log.Error("damaged outbox entry; dropping it", "event", string(k), "err", err)
				bad = append(bad, string(k))
				continue
			}
			if _, ok := groups[job]; !ok {
				order = append(order, job)
			}
			groups[job] = append(groups[job], outboxItem{key: string(k), job: job, entry: e})
			n++
		}
		return nil
	})
	if len(bad) > 0 {
		_ = d.q.batch(func(c *txc) error {
			for _, k := range bad {
				if err := c.tx.Bucket(bOutbox).Delete([]byte(k)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if n == 0 {
		return earliest
	}
	sem := make(chan struct{}, d.opts.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, job := range order {
		items := groups[job]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, it := range items {
				next, ok := d.deliver(ctx, it)
				if !ok {
					mu.Lock()
					if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
						earliest = next
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return earliest
}

// deliver POSTs one entry and records the result. It returns ok when the
// entry is gone (delivered or given up), else when to try again.
func (d *deliverer) deliver(ctx context.Context, it outboxItem) (time.Time, bool) {
	e := it.entry
	key := []byte(it.key)
	if d.opts.Allow != nil {
		if err := d.opts.Allow(e.URL); err != nil {
			d.abandoned.Add(1)
			d.log.Error("callback dropped: URL no longer allowed", "event", it.key, "job", it.job, "url", e.URL, "err", err)
			_ = d.q.batch(func(c *txc) error { return c.tx.Bucket(bOutbox).Delete(key) })
			return time.Time{}, true
		}
	}
	err := d.post(ctx, it.key, &e)
	if ctx.Err() != nil {
		return time.Time{}, false // shutting down: the entry stays for the next start
	}
	if err == nil {
		d.delivered.Add(1)
		if err := d.q.batch(func(c *txc) error { return c.tx.Bucket(bOutbox).Delete(key) }); err != nil {
			d.log.Error("cannot remove a delivered callback; it will be sent again", "event", it.key, "err", err)
		}
		return time.Time{}, true
	}
	e.Attempts++
	e.LastError = err.Error()
	if time.Since(e.CreatedAt) > d.opts.MaxAge {
		d.abandoned.Add(1)
		d.log.Error("callback given up", "event", it.key, "job", it.job, "url", e.URL,
			"attempts", e.Attempts, "age", time.Since(e.CreatedAt).Round(time.Millisecond), "err", err)
		_ = d.q.batch(func(c *txc) error { return c.tx.Bucket(bOutbox).Delete(key) })
		return time.Time{}, true
	}
	d.failed.Add(1)
	next := time.Now().Add(backoff(d.opts.Backoff, d.opts.BackoffMax, e.Attempts))
	d.log.Warn("callback failed; will retry", "event", it.key, "job", it.job, "url", e.URL,
		"attempt", e.Attempts, "retry_at", next.UTC().Format(time.RFC3339), "err", err)
	v, merr := outboxValue(next, it.job, &e)
	if merr == nil {
		merr = d.q.batch(func(c *txc) error { return c.tx.Bucket(bOutbox).Put(key, v) })
	}
	if merr != nil {
		d.log.Error("cannot record a callback failure", "event", it.key, "err", merr)
	}
	return next, false
}

func (d *deliverer) post(ctx context.Context, eventID string, e *outboxEntry) error {
	cb, body, err := newCallback(e.Event, time.Now(), e.Attempts+1)
	if err != nil {
		return err
	}
	ts := cb.Timestamp
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "comandera/"+core.Version())
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderEvent, eventID)
	if len(d.opts.Secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(d.opts.Secret, body))
	} else {
		d.warn.Do(func() { d.log.Warn("sending callbacks unsigned: no callback secret configured") })
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("callback answered %s", resp.Status)
	}
	return nil
}
