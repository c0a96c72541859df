package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/comandera/comandera/core"
	bolt "go.etcd.io/bbolt"
)

// Printer is the seam between a worker and a printer. The server implements
// it on top of a driver connection and the encoder.
type Printer interface {
	// Print encodes job for the printer and writes it: one copy per call (the
	// worker calls it job.Copies times in a row, nothing in between). When
	// job.Reprint is set the ticket carries a visible REPRINT line. Errors:
	// wrap core.ErrOffline when the transport is down (the job is retried
	// and the printer may fail over), core.ErrNotReady for paper out or
	// cover open (the job waits, spending no attempt), Permanent(err) for a
	// problem with the job itself such as an encoding error (it fails at
	// once). Any other error is retried up to MaxAttempts. Print must
	// return when ctx ends. A panic fails only this job.
	Print(ctx context.Context, job *Job) error
	// Status reports the printer's state; core.Status{} (unknown) when the
	// transport cannot tell. It is called before each job.
	Status(ctx context.Context) (core.Status, error)
}

// PrinterConfig is one printer's worker settings. Zero values take the
// defaults given.
type PrinterConfig struct {
	Name    string
	Printer Printer

	MaxAttempts  int           // tries before a job fails; default 5 (an offline printer never fails a job: see the package doc)
	RetryBackoff time.Duration // first retry delay, doubled each time, with jitter; default 1s
	RetryMax     time.Duration // cap on the retry delay; default 1m
	TTL          time.Duration // default expires_in of a job; 0: jobs do not expire unless the request says so
	QueueLimit   int           // jobs waiting (queued or printing) before Submit answers ErrQueueFull; default 1000

	Fallback      string        // printer that takes this one's queued jobs when it is down
	FailoverAfter time.Duration // how long down before failing over; default 1m

	PollEvery     time.Duration // status poll while the printer is not ready; default 2s
	StatusTimeout time.Duration // default 5s
	PrintTimeout  time.Duration // bound on one Print call; default 5m
}

func (pc *PrinterConfig) defaults() {
	if pc.MaxAttempts <= 0 {
		pc.MaxAttempts = 5
	}
	if pc.RetryBackoff <= 0 {
		pc.RetryBackoff = time.Second
	}
	if pc.RetryMax <= 0 {
		pc.RetryMax = time.Minute
	}
	pc.RetryMax = max(pc.RetryMax, pc.RetryBackoff)
	if pc.QueueLimit <= 0 {
		pc.QueueLimit = 1000
	}
	if pc.FailoverAfter <= 0 {
		pc.FailoverAfter = time.Minute
	}
	if pc.PollEvery <= 0 {
		pc.PollEvery = 2 * time.Second
	}
	if pc.StatusTimeout <= 0 {
		pc.StatusTimeout = 5 * time.Second
	}
	if pc.PrintTimeout <= 0 {
		pc.PrintTimeout = 5 * time.Minute
	}
}

// PrinterInfo is what the queue knows about a printer, for /status, /health
// and metrics.
type PrinterInfo struct {
	Name       string            `json:"name"`
	State      core.PrinterState `json:"state"` // offline while down, else the last status read
	Status     core.Status       `json:"status"`
	QueueDepth int               `json:"queue_depth"`
	Current    string            `json:"current_job,omitempty"`
	DownSince  time.Time         `json:"down_since,omitzero"`
	LastError  string            `json:"last_error,omitempty"`
	Fallback   string            `json:"fallback,omitempty"`
}

// Printers describes the configured printers, in configuration order.
func (q *Queue) Printers() []PrinterInfo {
	out := make([]PrinterInfo, 0, len(q.order))
	for _, name := range q.order {
		info, _ := q.Printer(name)
		out = append(out, info)
	}
	return out
}

// Printer describes one configured printer.
func (q *Queue) Printer(name string) (PrinterInfo, bool) {
	w := q.workers[name]
	if w == nil {
		return PrinterInfo{}, false
	}
	w.mu.Lock()
	info := PrinterInfo{
		Name:      name,
		Status:    w.status,
		State:     w.status.State(),
		Current:   w.current,
		LastError: w.lastError,
		Fallback:  w.cfg.Fallback,
	}
	if w.down {
		info.State = core.StateOffline
		info.DownSince = w.downSince
	}
	w.mu.Unlock()
	info.QueueDepth = q.Depth(name)
	return info, true
}

const idlePoll = 2 * time.Second

type worker struct {
	q     *Queue
	log   *slog.Logger
	cfg   PrinterConfig
	kickc chan struct{}

	// Owned by the worker goroutine.
	holdUntil      time.Time // no print before this (printer-level wait)
	lastFailoverAt time.Time
	copyJob        string // copies of copyJob already printed in this run
	copyDone       int

	mu        sync.Mutex // guards what Printer and retryAfter read
	status    core.Status
	down      bool
	downSince time.Time
	downCount int
	lastFail  time.Time
	notReady  bool
	current   string
	lastError string
	avgPrint  time.Duration
}

func (w *worker) kick() {
	select {
	case w.kickc <- struct{}{}:
	default:
	}
}

// sleep waits d, or until kicked or stopped.
func (w *worker) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.kickc:
	case <-w.q.stop:
	}
}

func (w *worker) stopping() bool {
	select {
	case <-w.q.stop:
		return true
	default:
		return false
	}
}

// run is the worker loop. A printed job's final state is committed together
// with the start of the next job when there is one (one fsync for both);
// every wait commits it first.
func (w *worker) run() {
	defer w.q.wg.Done()
	var done *Job
	for {
		if w.stopping() {
			w.flush(&done)
			return
		}
		skip := ""
		if done != nil {
			skip = done.ID
		}
		head, err := w.peek(skip)
		if err != nil {
			w.log.Error("cannot read the queue", "err", err)
			w.flush(&done)
			w.sleep(time.Second)
			continue
		}
		if head == nil {
			w.flush(&done)
			w.holdUntil = time.Time{} // a new job gets a fresh look at the printer
			w.sleep(idlePoll)
			continue
		}
		now := time.Now()
		if head.State == core.JobPrinting {
			// Left printing by a write that failed (see flush): put it back,
			// to be printed again, marked.
			if err := w.requeueStuck(head.ID); err != nil {
				w.log.Error("cannot requeue a job left printing", "job", head.ID, "err", err)
				w.sleep(time.Second)
			}
			continue
		}
		if !head.ExpiresAt.IsZero() && !now.Before(head.ExpiresAt) {
			if err := w.expire(done, head.ID); err != nil {
				w.log.Error("cannot record expiry", "job", head.ID, "err", err)
				w.sleep(time.Second)
				continue
			}
			done = nil
			continue
		}
		if w.failoverDue(now) {
			w.flush(&done)
			w.failover()
			continue
		}
		wake := head.NextAttemptAt
		if w.holdUntil.After(wake) {
			wake = w.holdUntil
		}
		if wake.After(now) {
			w.flush(&done)
			w.sleep(w.capSleep(wake.Sub(now), now))
			continue
		}
		if hold := w.checkStatus(); hold > 0 {
			w.flush(&done)
			w.holdUntil = time.Now().Add(hold)
			continue
		}
		job, err := w.start(done, head.ID)
		if err != nil {
			w.log.Error("cannot record job start", "job", head.ID, "err", err)
			w.sleep(time.Second)
			continue
		}
		done = nil
		if job != nil {
			done = w.print(job)
		}
	}
}

// capSleep shortens a wait so a due failover is not late.
func (w *worker) capSleep(d time.Duration, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cfg.Fallback != "" && w.down && w.lastFail.After(w.lastFailoverAt) {
		if at := w.downSince.Add(w.cfg.FailoverAfter); at.After(now) && at.Sub(now) < d {
			d = at.Sub(now)
		}
	}
	return d
}

// peek returns the oldest job waiting for this printer, other than skip.
func (w *worker) peek(skip string) (*Job, error) {
	var head *Job
	err := w.q.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bPending).Bucket([]byte(w.cfg.Name))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if string(k) == skip {
				continue
			}
			j, err := getJob(tx, string(k))
			if err != nil {
				return err
			}
			head = j
			return nil
		}
		return nil
	})
	return head, err
}

// finish records a printed job.
func (w *worker) finish(c *txc, done *Job) error {
	_, err := w.q.change(c, done.ID, func(j *Job) bool {
		if j.State != core.JobPrinting {
			return false
		}
		j.State = core.JobPrinted
		j.PrintedAt = done.PrintedAt
		j.LastError = ""
		j.NextAttemptAt = time.Time{}
		return true
	})
	return err
}

// flush commits a printed job still held for sharing a transaction.
func (w *worker) flush(done **Job) {
	if *done == nil {
		return
	}
	d := *done
	var err error
	for try := 0; try < 3; try++ {
		if err = w.q.batch(func(c *txc) error { return w.finish(c, d) }); err == nil {
			*done = nil
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The job stays "printing" on disk and is reprinted, marked, at the next
	// start: a duplicate rather than a loss.
	w.log.Error("cannot record a printed job", "job", d.ID, "err", err)
	*done = nil
}

func (w *worker) requeueStuck(id string) error {
	return w.q.batch(func(c *txc) error {
		_, err := w.q.change(c, id, func(j *Job) bool {
			if j.State != core.JobPrinting {
				return false
			}
			j.State = core.JobQueued
			j.Reprint = true
			j.LastError = "its printed state could not be recorded; printing again marked REPRINT"
			return true
		})
		return err
	})
}

func expireMutation(now time.Time) func(j *Job) bool {
	return func(j *Job) bool {
		if j.State != core.JobQueued || j.ExpiresAt.IsZero() || now.Before(j.ExpiresAt) {
			return false
		}
		j.State = core.JobExpired
		j.NextAttemptAt = time.Time{}
		if j.LastError != "" {
			j.LastError = "expired before it could print (last error: " + j.LastError + ")"
		} else {
			j.LastError = "expired before it could print"
		}
		return true
	}
}

func (w *worker) expire(done *Job, id string) error {
	return w.q.batch(func(c *txc) error {
		if done != nil {
			if err := w.finish(c, done); err != nil {
				return err
			}
		}
		_, err := w.q.change(c, id, expireMutation(c.now))
		return err
	})
}

// start commits done (if any) as printed and id as printing, in one
// transaction, and returns id's job with its payload — or nil when the job
// is no longer queued here (canceled, expired, moved).
func (w *worker) start(done *Job, id string) (*Job, error) {
	var job *Job
	err := w.q.batch(func(c *txc) error {
		job = nil
		if done != nil {
			if err := w.finish(c, done); err != nil {
				return err
			}
		}
		j, err := w.q.change(c, id, func(j *Job) bool {
			if j.State != core.JobQueued || j.Printer != w.cfg.Name ||
				!j.ExpiresAt.IsZero() && !c.now.Before(j.ExpiresAt) {
				return false
			}
			j.State = core.JobPrinting
			j.Attempts++
			j.NextAttemptAt = time.Time{}
			return true
		})
		job = j
		return err
	})
	if err != nil || job == nil {
		return nil, err
	}
	if err := w.q.db.View(func(tx *bolt.Tx) error { return loadPayload(tx, job) }); err != nil {
		w.outcome(job, Permanent(err))
		return nil, nil
	}
	return job, nil
}

// print prints job's copies. It returns the job to record as printed, or nil
// after recording another outcome.
func (w *worker) print(job *Job) *Job {
	w.mu.Lock()
	w.current = job.ID
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.current = ""
		w.mu.Unlock()
	}()
	start := time.Now()
	if w.copyJob != job.ID {
		w.copyJob, w.copyDone = job.ID, 0
	}
	for w.copyDone < job.Copies {
		if err := w.printOne(job); err != nil {
			w.outcome(job, err)
			return nil
		}
		w.copyDone++
	}
	w.copyJob = ""
	elapsed := time.Since(start)
	w.mu.Lock()
	if w.avgPrint == 0 {
		w.avgPrint = elapsed
	} else {
		w.avgPrint = (w.avgPrint*7 + elapsed) / 8
	}
	w.mu.Unlock()
	w.up()
	d := *job
	d.PrintedAt = now()
	return &d
}

func (w *worker) printOne(job *Job) (err error) {
	ctx, cancel := context.WithTimeout(w.q.hard, w.cfg.PrintTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("printer panicked; failing only this job", "job", job.ID, "panic", r, "stack", string(debug.Stack()))
			err = Permanent(fmt.Errorf("printer driver panicked: %v", r))
		}
	}()
	return w.cfg.Printer.Print(ctx, job)
}

// outcome records a failed print: requeued for a retry, waiting, or failed.
func (w *worker) outcome(job *Job, err error) {
	now := time.Now()
	msg := err.Error()
	var mutate func(j *Job) bool
	requeue := func(next time.Time, spend bool, reprint bool) func(j *Job) bool {
		return func(j *Job) bool {
			if j.State != core.JobPrinting {
				return false
			}
			j.State = core.JobQueued
			if !spend && j.Attempts > 0 {
				j.Attempts--
			}
			j.NextAttemptAt = next.UTC()
			j.LastError = msg
			j.Reprint = j.Reprint || reprint
			return true
		}
	}
	fail := func(reason string) func(j *Job) bool {
		return func(j *Job) bool {
			if j.State != core.JobPrinting {
				return false
			}
			j.State = core.JobFailed
			j.LastError = reason
			j.NextAttemptAt = time.Time{}
			return true
		}
	}
	switch {
	case w.q.hard.Err() != nil:
		// Shutdown deadline: the write was cut off, maybe mid-ticket.
		msg = "interrupted by shutdown: " + msg
		mutate = requeue(time.Time{}, false, true)
	case IsPermanent(err):
		w.log.Error("job failed", "job", job.ID, "err", err)
		mutate = fail(msg)
	case errors.Is(err, core.ErrNotReady):
		w.setNotReady(msg)
		mutate = requeue(now.Add(w.cfg.PollEvery), false, false)
	default:
		// Only an unreachable printer counts as down (and starts the
		// failover clock); other errors (a plugin that crashed, a driver
		// error it did not classify) are retried without blaming the printer.
		offline := errors.Is(err, core.ErrOffline)
		if offline {
			w.markDown(msg)
		} else {
			w.mu.Lock()
			w.lastError = msg
			w.mu.Unlock()
		}
		if !offline && job.Attempts >= w.cfg.MaxAttempts {
			w.log.Error("job failed", "job", job.ID, "attempts", job.Attempts, "err", err)
			mutate = fail(fmt.Sprintf("%s (gave up after %d attempts)", msg, job.Attempts))
		} else {
			d := backoff(w.cfg.RetryBackoff, w.cfg.RetryMax, job.Attempts)
			w.log.Warn("print failed; will retry", "job", job.ID, "attempt", job.Attempts, "retry_in", d, "err", err)
			mutate = requeue(now.Add(d), true, IsPartial(err))
		}
	}
	var serr error
	for try := 0; try < 3; try++ {
		if serr = w.q.batch(func(c *txc) error {
			_, err := w.q.change(c, job.ID, mutate)
			return err
		}); serr == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.log.Error("cannot record a print failure; the job is retried at the next start", "job", job.ID, "err", serr)
}

// checkStatus asks the printer whether it can print. It returns how long to
// hold off, or 0 to go ahead.
func (w *worker) checkStatus() time.Duration {
	ctx, cancel := context.WithTimeout(w.q.hard, w.cfg.StatusTimeout)
	st, err := w.callStatus(ctx)
	cancel()
	w.mu.Lock()
	w.status = st
	w.mu.Unlock()
	state := st.State()
	switch {
	case errors.Is(err, core.ErrNotReady) ||
		err == nil && (state == core.StatePaperOut || state == core.StateCoverOpen || state == core.StateError):
		reason := string(state)
		if err != nil {
			reason = err.Error()
		}
		w.setNotReady("printer not ready: " + reason)
		return w.cfg.PollEvery
	case errors.Is(err, core.ErrOffline) || err == nil && state == core.StateOffline:
		reason := "printer offline"
		if err != nil {
			reason = err.Error()
		}
		n := w.markDown(reason)
		return backoff(w.cfg.RetryBackoff, w.cfg.RetryMax, n)
	case err != nil:
		w.log.Debug("status unavailable; printing anyway", "err", err)
	case state == core.StateOnline:
		w.up()
	}
	return 0
}

func (w *worker) callStatus(ctx context.Context) (st core.Status, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("printer Status panicked", "panic", r, "stack", string(debug.Stack()))
			st, err = core.Status{}, fmt.Errorf("status panicked: %v", r)
		}
	}()
	return w.cfg.Printer.Status(ctx)
}

// markDown records a failure to reach the printer and returns how many in a row.
func (w *worker) markDown(reason string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := time.Now()
	if !w.down {
		w.down, w.downSince, w.downCount = true, t, 0
		w.log.Warn("printer down", "err", reason)
	}
	w.downCount++
	w.lastFail = t
	w.notReady = false
	w.lastError = reason
	return w.downCount
}

func (w *worker) setNotReady(reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.notReady {
		w.log.Warn("printer not ready; jobs wait", "reason", reason)
	}
	w.notReady = true
	w.down, w.downCount = false, 0 // it answers, so it is not down
	w.lastError = reason
}

func (w *worker) up() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down || w.notReady {
		w.log.Info("printer ready again")
	}
	w.down, w.notReady, w.downCount = false, false, 0
	w.lastError = ""
}

// failoverDue reports whether the printer has been down for FailoverAfter,
// failing recently (not just idle since an old failure), with something new
// to move since the last failover.
func (w *worker) failoverDue(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	fresh := now.Sub(w.lastFail) <= 2*w.cfg.RetryMax+w.cfg.PollEvery
	return w.cfg.Fallback != "" && w.down && fresh &&
		now.Sub(w.downSince) >= w.cfg.FailoverAfter &&
		w.lastFail.After(w.lastFailoverAt)
}

// failover moves this printer's queued jobs, in order, to its fallback. A
// job that came from the fallback stays, so two printers that fall back to
// each other do not bounce jobs.
func (w *worker) failover() {
	fb := w.cfg.Fallback
	w.lastFailoverAt = time.Now()
	w.mu.Lock()
	since := w.downSince
	w.mu.Unlock()
	var moved int
	err := w.q.batch(func(c *txc) error {
		moved = 0
		b := c.tx.Bucket(bPending).Bucket([]byte(w.cfg.Name))
		if b == nil {
			return nil
		}
		var ids []string
		_ = b.ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
		for _, id := range ids {
			j, err := w.q.change(c, id, func(j *Job) bool {
				if j.State != core.JobQueued || j.Printer != w.cfg.Name || j.FailedOverFrom == fb {
					return false
				}
				if j.FailedOverFrom == "" {
					j.FailedOverFrom = j.Printer
				}
				j.Printer = fb
				j.NextAttemptAt = time.Time{}
				j.Attempts = 0 // a fresh budget on the fallback
				j.LastError = fmt.Sprintf("printer %q down since %s; moved to %q", w.cfg.Name, since.UTC().Format(time.RFC3339), fb)
				return true
			})
			if err != nil {
				return err
			}
			if j != nil {
				moved++
			}
		}
		return nil
	})
	if err != nil {
		w.log.Error("failover failed", "fallback", fb, "err", err)
		return
	}
	if moved > 0 {
		w.log.Warn("printer down: queued jobs moved to the fallback", "fallback", fb, "jobs", moved, "down_for", time.Since(since).Round(time.Second))
	}
}

// retryAfter suggests when a client refused with ErrQueueFull should retry:
// the time to print a tenth of the queue, 1s to 60s, longer while the
// printer is down.
func (w *worker) retryAfter() time.Duration {
	w.mu.Lock()
	avg, down := w.avgPrint, w.down || w.notReady
	w.mu.Unlock()
	if avg <= 0 {
		avg = time.Second
	}
	d := avg * time.Duration(max(1, w.cfg.QueueLimit/10))
	if down {
		d = max(d, 30*time.Second)
	}
	d = min(max(d, time.Second), time.Minute)
	return (d + time.Second - 1).Truncate(time.Second)
}

// backoff is base·2^(n-1), capped at limit, with "equal jitter": a random
// duration in [d/2, d].
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
