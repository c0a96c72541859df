package queue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/comandera/comandera/core"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the database's name inside the data directory.
const FileName = "queue.db"

// StateDir returns the directory systemd made for the service (the first
// entry of $STATE_DIRECTORY, set by StateDirectory=comandera to
// /var/lib/comandera), or fallback when it is not set.
func StateDir(fallback string) string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		d, _, _ = strings.Cut(d, ":")
		return d
	}
	return fallback
}

// Options configure a Queue. Zero values take the defaults given.
type Options struct {
	Logger   *slog.Logger    // nil: discard
	Printers []PrinterConfig // one worker each

	IdempotencyWindow time.Duration // how long a key returns its job; default 24h
	KeepFor           time.Duration // final jobs older than this are pruned; default 7 days
	KeepJobs          int           // at most this many final jobs are kept; default 10000
	PruneEvery        time.Duration // default 1m
	SweepEvery        time.Duration // expiry sweep; default 1s

	// MaxBatch caps how many writes share one group-committed transaction;
	// default 1000.
	MaxBatch int

	Callback CallbackOptions

	// Sinks names the durable event sinks to keep (e.g. "mqtt" for the MQTT
	// connector): every change of every job is written to each, in the
	// transaction of the change, for a consumer to take with Sink(name).
	Sinks []string
	// Sink bounds every sink.
	Sink SinkOptions
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.IdempotencyWindow <= 0 {
		o.IdempotencyWindow = 24 * time.Hour
	}
	if o.KeepFor <= 0 {
		o.KeepFor = 7 * 24 * time.Hour
	}
	if o.KeepJobs <= 0 {
		o.KeepJobs = 10000
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = time.Minute
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	o.Callback.defaults()
	o.Sink.defaults()
}

// Bucket names.
var (
	bJobs     = []byte("jobs")     // ID → Job JSON (no payload)
	bPayloads = []byte("payloads") // ID → payload JSON, written once
	bPending  = []byte("pending")  // printer → (ID → expires_at unix ns, 8 bytes): queued and printing jobs in order
	bDepth    = []byte("depth")    // printer → count of pending jobs
	bFinal    = []byte("final")    // ID → nothing: jobs in a final state, for pruning
	bKeys     = []byte("keys")     // printer 0x00 key → ID + created unix ns
	bOutbox   = []byte("outbox")   // event ID → next attempt (8) + job ID (26) + entry JSON
	bSinks    = []byte("sinks")    // sink name → (entry ID, 8 bytes → event time unix ns (8) + event JSON); counts in meta
	bMeta     = []byte("meta")

	kSchema     = []byte("schema")
	kFinalCount = []byte("final_count")
)

const schema = 1

// Queue is the durable job store with its per-printer workers and the
// callback deliverer. Its methods are safe for concurrent use.
type Queue struct {
	db      *bolt.DB
	commit  *committer
	path    string
	log     *slog.Logger
	opts    Options
	ids     idGen
	workers map[string]*worker
	order   []string // printer names as configured
	bus     bus
	cb      *deliverer
	sinks   []*Sink
	closedc chan struct{} // closed once the database is closed

	// cur is the context of the write transaction in progress; only touched
	// while holding bbolt's writer lock (inside a write transaction).
	cur *txc

	// The sequencer publishes committed transactions in commit order: bbolt
	// numbers committed write transactions consecutively.
	seqMu   sync.Mutex
	seqNext int
	seqHeld map[int]*txc

	wmu     sync.Mutex
	waiters map[string][]chan struct{}

	mu       sync.RWMutex
	closed   bool
	ops      sync.WaitGroup
	stop     chan struct{} // closed by Shutdown: finish the job in hand and exit
	hard     context.Context
	hardStop context.CancelFunc // cancels Print calls when the shutdown deadline passes
	wg       sync.WaitGroup
	shutOnce sync.Once
	shutErr  error
}

// txc collects what a write transaction did, for after it commits.
type txc struct {
	tx     *bolt.Tx
	id     int
	now    time.Time
	events []*Event
	kick   map[string]bool // printers whose worker should look at its queue
	outbox bool

	sinkWrote bool
	sinkDrops []int // per sink: entries the bounds dropped
}

// Open opens (creating if needed) the database at path, recovers jobs a
// crash caught printing, and starts one worker per configured printer, the
// expiry sweeper, the pruner and the callback deliverer.
func Open(path string, opts Options) (*Queue, error) {
	opts.defaults()
	workers := map[string]*worker{}
	var order []string
	for i := range opts.Printers {
		pc := opts.Printers[i]
		if pc.Name == "" {
			return nil, fmt.Errorf("queue: printer %d has no name", i)
		}
		if pc.Printer == nil {
			return nil, fmt.Errorf("queue: printer %q has no Printer", pc.Name)
		}
		if _, dup := workers[pc.Name]; dup {
			return nil, fmt.Errorf("queue: printer %q is configured twice", pc.Name)
		}
		pc.defaults()
		workers[pc.Name] = &worker{cfg: pc, kickc: make(chan struct{}, 1)}
		order = append(order, pc.Name)
	}
	for _, w := range workers {
		if fb := w.cfg.Fallback; fb != "" {
			if fb == w.cfg.Name {
				return nil, fmt.Errorf("queue: printer %q names itself as fallback", fb)
			}
			if workers[fb] == nil {
				return nil, fmt.Errorf("queue: printer %q has fallback %q, which is not configured", w.cfg.Name, fb)
			}
		}
	}
	for i, name := range opts.Sinks {
		if err := validSinkName(name); err != nil {
			return nil, err
		}
		if slices.Contains(opts.Sinks[:i], name) {
			return nil, fmt.Errorf("queue: sink %q is named twice", name)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Map 64 MiB from the start (address space, not memory): growing
		// the map blocks every transaction while it happens.
		InitialMmapSize: 64 << 20,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("queue: %s is in use by another process (is another comandera running?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: open %s: %w", path, err)
	}
	commit := newCommitter(db, opts.MaxBatch)

	hard, hardStop := context.WithCancel(context.Background())
	q := &Queue{
		db: db, commit: commit, path: path, log: opts.Logger, opts: opts,
		workers: workers, order: order,
		seqHeld: map[int]*txc{},
		waiters: map[string][]chan struct{}{},
		stop:    make(chan struct{}),
		hard:    hard, hardStop: hardStop,
		closedc: make(chan struct{}),
	}
	for i, name := range opts.Sinks {
		q.sinks = append(q.sinks, newSink(q, i, name))
	}
	for _, w := range workers {
		w.q = q
		w.log = q.log.With("printer", w.cfg.Name)
	}
	q.cb = newDeliverer(q) // before init: recovery writes outbox entries
	if err := q.init(); err != nil {
		hardStop()
		db.Close()
		commit.close()
		return nil, err
	}

	for _, name := range order {
		q.wg.Add(1)
		go workers[name].run()
	}
	q.wg.Add(3)
	go q.sweeper()
	go q.pruner()
	go q.cb.run()
	return q, nil
}

func (q *Queue) init() error {
	if err := q.db.View(func(tx *bolt.Tx) error {
		q.seqNext = tx.ID() + 1
		return nil
	}); err != nil {
		return err
	}
	err := q.update(func(c *txc) error {
		for _, b := range [][]byte{bJobs, bPayloads, bPending, bDepth, bFinal, bKeys, bOutbox, bMeta} {
			if _, err := c.tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := c.tx.Bucket(bMeta)
		if v := meta.Get(kSchema); v != nil {
			if n := int(getU64(v)); n > schema {
				return fmt.Errorf("queue: %s has schema %d, newer than this program's %d: upgrade comandera", q.path, n, schema)
			}
		} else if err := meta.Put(kSchema, putU64(schema)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	// Seed the ID generator with the newest IDs on disk (initSinks adds the
	// newest event in each sink).
	_ = q.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bJobs, bOutbox} {
			if k, _ := tx.Bucket(b).Cursor().Last(); k != nil {
				q.ids.observe(string(k))
			}
		}
		return nil
	})
	if err := q.initSinks(); err != nil {
		return fmt.Errorf("queue: sinks: %w", err)
	}
	return q.recoverJobs()
}

// recoverJobs requeues jobs a crash caught printing (to be printed again, marked
// REPRINT) and recounts the queue depths and the final-job count.
func (q *Queue) recoverJobs() error {
	var requeued int
	unconfigured := map[string]int{}
	err := q.update(func(c *txc) error {
		requeued = 0
		clear(unconfigured)
		pend := c.tx.Bucket(bPending)
		var printers []string
		_ = pend.ForEachBucket(func(k []byte) error {
			printers = append(printers, string(k))
			return nil
		})
		depth := c.tx.Bucket(bDepth)
		_ = depth.ForEach(func(k, _ []byte) error {
			if !slices.Contains(printers, string(k)) {
				printers = append(printers, string(k))
			}
			return nil
		})
		for _, p := range printers {
			var ids []string
			n := 0
			if b := pend.Bucket([]byte(p)); b != nil {
				_ = b.ForEach(func(k, _ []byte) error {
					n++
					ids = append(ids, string(k))
					return nil
				})
			}
			if err := depth.Put([]byte(p), putU64(uint64(n))); err != nil {
				return err
			}
			if n > 0 && q.workers[p] == nil {
				unconfigured[p] = n
			}
			for _, id := range ids {
				j, err := q.change(c, id, func(j *Job) bool {
					if j.State != core.JobPrinting {
						return false
					}
					j.State = core.JobQueued
					j.Reprint = true
					j.LastError = "interrupted while printing (restart); printing again marked REPRINT"
					return true
				})
				if err != nil {
					return err
				}
				if j != nil {
					requeued++
				}
			}
		}
		var finals uint64
		c2 := c.tx.Bucket(bFinal).Cursor()
		for k, _ := c2.First(); k != nil; k, _ = c2.Next() {
			finals++
		}
		return c.tx.Bucket(bMeta).Put(kFinalCount, putU64(finals))
	})
	if err != nil {
		return fmt.Errorf("queue: recovery: %w", err)
	}
	if requeued > 0 {
		q.log.Warn("jobs interrupted while printing will be printed again, marked REPRINT", "jobs", requeued)
	}
	for p, n := range unconfigured {
		q.log.Warn("jobs wait for a printer that is not configured", "printer", p, "jobs", n)
	}
	return nil
}

// update runs fn in its own write transaction.
func (q *Queue) update(fn func(c *txc) error) error {
	return q.db.Update(func(tx *bolt.Tx) error { return fn(q.txc(tx)) })
}

// batch runs fn in a group-committed write transaction (see committer): the
// writes of concurrent callers share one fsync. fn may run more than once and
// must reset its results each time; it should return an error only for a
// storage failure, since an error makes the rest of the batch run again.
func (q *Queue) batch(fn func(c *txc) error) error {
	return q.commit.do(func(tx *bolt.Tx) error { return fn(q.txc(tx)) })
}

// txc returns the context of write transaction tx, registering the commit
// handler the first time. It runs under bbolt's writer lock.
func (q *Queue) txc(tx *bolt.Tx) *txc {
	if q.cur != nil && q.cur.tx == tx {
		return q.cur
	}
	c := &txc{tx: tx, id: tx.ID(), now: now(), kick: map[string]bool{}}
	q.cur = c
	tx.OnCommit(func() { q.committed(c) })
	return c
}

func now() time.Time { return time.Now().UTC() }

// committed runs after each write transaction commits. bbolt numbers
// committed write transactions consecutively (a rolled-back one's number is
// reused), and every write goes through txc, so holding back a transaction
// until its predecessor is published gives commit order.
func (q *Queue) committed(c *txc) {
	q.seqMu.Lock()
	defer q.seqMu.Unlock()
	q.seqHeld[c.id] = c
	for {
		n, ok := q.seqHeld[q.seqNext]
		if !ok {
			return
		}
		delete(q.seqHeld, q.seqNext)
		q.seqNext++
		q.dispatch(n)
	}
}

func (q *Queue) dispatch(c *txc) {
	if len(c.events) > 0 {
		q.bus.publish(c.events)
		q.wmu.Lock()
		for _, e := range c.events {
			if e.State.Final() {
				for _, ch := range q.waiters[e.Job.ID] {
					close(ch)
				}
				delete(q.waiters, e.Job.ID)
			}
		}
		q.wmu.Unlock()
	}
	for p := range c.kick {
		if w := q.workers[p]; w != nil {
			w.kick()
		}
	}
	if c.outbox && q.cb != nil {
		q.cb.kick()
	}
	if c.sinkWrote {
		for _, s := range q.sinks {
			kick(s.notify)
		}
	}
	for i, n := range c.sinkDrops {
		q.sinks[i].droppedN(n, "the sink is full (max_entries or max_bytes)")
	}
}

// change reads job id, lets mutate change it, and saves it with its event.
// It returns nil when the job is missing or mutate declined.
func (q *Queue) change(c *txc, id string, mutate func(j *Job) bool) (*Job, error) {
	j, err := getJob(c.tx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	prev, prevPrinter := j.State, j.Printer
	if !mutate(j) {
		return nil, nil
	}
	j.UpdatedAt = c.now
	if err := q.save(c, j, prev, prevPrinter); err != nil {
		return nil, err
	}
	return j, nil
}

// save writes j (without payload), keeps the indexes in step with the change
// from (prev, prevPrinter) and records the event, with an outbox entry when
// the job has a callback URL and an entry in each sink — all in c's
// transaction.
func (q *Queue) save(c *txc, j *Job, prev core.JobState, prevPrinter string) error {
	tx := c.tx
	id := []byte(j.ID)
	wasPending := prev == core.JobQueued || prev == core.JobPrinting
	isPending := j.State == core.JobQueued || j.State == core.JobPrinting
	if wasPending && (!isPending || prevPrinter != j.Printer) {
		if b := tx.Bucket(bPending).Bucket([]byte(prevPrinter)); b != nil {
			if err := b.Delete(id); err != nil {
				return err
			}
		}
		if err := addU64(tx.Bucket(bDepth), []byte(prevPrinter), -1); err != nil {
			return err
		}
	}
	if isPending && (!wasPending || prevPrinter != j.Printer) {
		b, err := tx.Bucket(bPending).CreateBucketIfNotExists([]byte(j.Printer))
		if err != nil {
			return err
		}
		var exp uint64
		if !j.ExpiresAt.IsZero() {
			exp = uint64(j.ExpiresAt.UnixNano())
		}
		if err := b.Put(id, putU64(exp)); err != nil {
			return err
		}
		if err := addU64(tx.Bucket(bDepth), []byte(j.Printer), 1); err != nil {
			return err
		}
	}
	if j.State.Final() && !prev.Final() {
		if err := tx.Bucket(bFinal).Put(id, nil); err != nil {
			return err
		}
		if err := addU64(tx.Bucket(bMeta), kFinalCount, 1); err != nil {
			return err
		}
	}
	snap := j.snapshot()
	rec, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	jb := tx.Bucket(bJobs)
	jb.FillPercent = 0.9 // IDs grow, so pages fill from the end: pack them (a quarter fewer page writes)
	if err := jb.Put(id, rec); err != nil {
		return err
	}
	e := &Event{ID: q.ids.next(c.now), Time: c.now, Previous: prev, State: j.State, Job: snap}
	c.events = append(c.events, e)
	c.kick[j.Printer] = true
	if prevPrinter != "" {
		c.kick[prevPrinter] = true
	}
	if j.CallbackURL != "" {
		if err := q.cb.enqueue(tx, e); err != nil {
			return err
		}
		c.outbox = true
	}
	if len(q.sinks) > 0 {
		v := make([]byte, 8, 8+len(rec)+160)
		copy(v, putU64(uint64(e.Time.UnixNano())))
		v = appendEvent(v, e, rec)
		for _, s := range q.sinks {
			if err := s.write(c, v); err != nil {
				return err
			}
		}
		c.sinkWrote = true
	}
	return nil
}

func getJob(tx *bolt.Tx, id string) (*Job, error) {
	v := tx.Bucket(bJobs).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	j := new(Job)
	if err := json.Unmarshal(v, j); err != nil {
		return nil, fmt.Errorf("queue: job %s is damaged: %w", id, err)
	}
	return j, nil
}

func loadPayload(tx *bolt.Tx, j *Job) error {
	v := tx.Bucket(bPayloads).Get([]byte(j.ID))
	if v == nil {
		return fmt.Errorf("queue: job %s has no payload", j.ID)
	}
	var p payload
	if err := json.Unmarshal(v, &p); err != nil {
		return fmt.Errorf("queue: payload of job %s is damaged: %w", j.ID, err)
	}
	j.Content, j.Raw, j.Document = p.Content, p.Raw, p.document()
	return nil
}

func putU64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func addU64(b *bolt.Bucket, k []byte, d int) error {
	n := int64(getU64(b.Get(k))) + int64(d)
	if n < 0 {
		n = 0
	}
	return b.Put(k, putU64(uint64(n)))
}

func keyIndex(printer, key string) []byte {
	return []byte(printer + "\x00" + key)
}

// enter registers an operation that needs the database, or fails when the
// queue is closed.
func (q *Queue) enter() error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	q.ops.Add(1)
	return nil
}

// Submit stores a new job, fsync'd before it returns, and wakes its printer's
// worker. With an idempotency key already used for the same printer within
// the window, it returns the first job and existed = true, and stores
// nothing. The job returned carries no payload.
//
// Errors: ErrInvalid (wrapped, with the reason), ErrUnknownPrinter,
// *FullError (errors.Is ErrQueueFull), ErrClosed, or a storage error.
func (q *Queue) Submit(ctx context.Context, r Request) (job *Job, existed bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if err := q.enter(); err != nil {
		return nil, false, err
	}
	defer q.ops.Done()
	w := q.workers[r.Printer]
	if w == nil {
		return nil, false, fmt.Errorf("%w %q", ErrUnknownPrinter, r.Printer)
	}
	if err := r.validate(); err != nil {
		return nil, false, err
	}
	pl, err := json.Marshal(newPayload(r.Content, r.Raw, r.Document))
	if err != nil {
		return nil, false, invalid("%v", err)
	}
	copies := max(r.Copies, 1)
	ttl := r.ExpiresIn
	if ttl == 0 {
		ttl = w.cfg.TTL
	}
	var full *FullError
	err = q.batch(func(c *txc) error {
		job, existed, full = nil, false, nil
		tx := c.tx
		var kk []byte
		if r.IdempotencyKey != "" {
			kk = keyIndex(r.Printer, r.IdempotencyKey)
			if v := tx.Bucket(bKeys).Get(kk); len(v) == idLen+8 {
				created := time.Unix(0, int64(getU64(v[idLen:])))
				if c.now.Sub(created) < q.opts.IdempotencyWindow {
					j, err := getJob(tx, string(v[:idLen]))
					if err == nil {
						job, existed = j, true
						return nil
					}
					if !errors.Is(err, ErrNotFound) {
						return err
					}
				}
			}
		}
		if d := int(getU64(tx.Bucket(bDepth).Get([]byte(r.Printer)))); d >= w.cfg.QueueLimit {
			full = &FullError{Printer: r.Printer, Depth: d, Limit: w.cfg.QueueLimit, RetryAfter: w.retryAfter()}
			return nil
		}
		j := &Job{
			ID:             q.ids.next(c.now),
			Printer:        r.Printer,
			Copies:         copies,
			IdempotencyKey: r.IdempotencyKey,
			CallbackURL:    r.CallbackURL,
			Metadata:       r.Metadata,
			CreatedAt:      c.now,
		}
		if ttl > 0 {
			j.ExpiresAt = c.now.Add(ttl)
		}
		if err := q.create(c, j, pl); err != nil {
			return err
		}
		if kk != nil {
			v := make([]byte, 0, idLen+8)
			v = append(v, j.ID...)
			v = append(v, putU64(uint64(c.now.UnixNano()))...)
			if err := tx.Bucket(bKeys).Put(kk, v); err != nil {
				return err
			}
		}
		job = j
		return nil
	})
	switch {
	case err != nil:
		return nil, false, fmt.Errorf("queue: submit: %w", err)
	case full != nil:
		return nil, false, full
	}
	return job, existed, nil
}

// create stores a new queued job and its payload.
func (q *Queue) create(c *txc, j *Job, pl []byte) error {
	j.State = core.JobQueued
	j.UpdatedAt = c.now
	pb := c.tx.Bucket(bPayloads)
	pb.FillPercent = 1 // written once, IDs only grow
	if err := pb.Put([]byte(j.ID), pl); err != nil {
		return err
	}
	return q.save(c, j, "", "")
}

// Get returns a job with its payload.
func (q *Queue) Get(id string) (*Job, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var j *Job
	err := q.db.View(func(tx *bolt.Tx) error {
		var err error
		if j, err = getJob(tx, id); err != nil {
			return err
		}
		return loadPayload(tx, j)
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// Filter selects jobs for List. Zero fields match everything.
type Filter struct {
	Printer string
	State   core.JobState
	Limit   int    // default 100, at most 1000
	Before  string // a job ID: list jobs older than it (the next page)
}

// List returns jobs, newest first, without payloads.
func (q *Queue) List(f Filter) ([]*Job, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	if f.State != "" && !f.State.Valid() {
		return nil, invalid("unknown state %q", f.State)
	}
	if f.Before != "" && !ValidID(f.Before) {
		return nil, invalid("before: %q is not a job ID", f.Before)
	}
	var out []*Job
	err := q.db.View(func(tx *bolt.Tx) error {
		var cur *bolt.Cursor
		if f.Printer != "" && (f.State == core.JobQueued || f.State == core.JobPrinting) {
			b := tx.Bucket(bPending).Bucket([]byte(f.Printer))
			if b == nil {
				return nil
			}
			cur = b.Cursor()
		} else {
			cur = tx.Bucket(bJobs).Cursor()
		}
		var k []byte
		if f.Before != "" {
			k, _ = cur.Seek([]byte(f.Before))
			if k == nil {
				k, _ = cur.Last()
			}
			for k != nil && string(k) >= f.Before {
				k, _ = cur.Prev()
			}
		} else {
			k, _ = cur.Last()
		}
		for ; k != nil && len(out) < f.Limit; k, _ = cur.Prev() {
			j, err := getJob(tx, string(k))
			if err != nil {
				return err
			}
			if (f.Printer == "" || j.Printer == f.Printer) && (f.State == "" || j.State == f.State) {
				out = append(out, j)
			}
		}
		return nil
	})
	return out, err
}

// Cancel cancels a queued job. A job that is printing or already final is
// not changed: the error is a *StateError (errors.Is ErrNotQueued).
func (q *Queue) Cancel(ctx context.Context, id string) (*Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.ops.Done()
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var (
		job   *Job
		state core.JobState
	)
	err := q.batch(func(c *txc) error {
		job, state = nil, ""
		j, err := q.change(c, id, func(j *Job) bool {
			state = j.State
			if j.State != core.JobQueued {
				return false
			}
			j.State = core.JobCanceled
			j.LastError = ""
			j.NextAttemptAt = time.Time{}
			return true
		})
		job = j
		return err
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("queue: cancel: %w", err)
	case state == "":
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	case job == nil:
		return nil, &StateError{ID: id, State: state, Op: "cancel"}
	}
	return job, nil
}

// Reprint queues a new job with the payload, copies, callback and metadata of
// job id, marked REPRINT and with ReprintOf = id, on printer (empty: the
// job's own printer). The original may be in any state.
func (q *Queue) Reprint(ctx context.Context, id, printer string) (*Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.ops.Done()
	orig, err := q.Get(id)
	if err != nil {
		return nil, err
	}
	if printer == "" {
		printer = orig.Printer
	}
	w := q.workers[printer]
	if w == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownPrinter, printer)
	}
	pl, err := json.Marshal(newPayload(orig.Content, orig.Raw, orig.Document))
	if err != nil {
		return nil, err
	}
	var (
		job  *Job
		full *FullError
	)
	err = q.batch(func(c *txc) error {
		job, full = nil, nil
		if d := int(getU64(c.tx.Bucket(bDepth).Get([]byte(printer)))); d >= w.cfg.QueueLimit {
			full = &FullError{Printer: printer, Depth: d, Limit: w.cfg.QueueLimit, RetryAfter: w.retryAfter()}
			return nil
		}
		j := &Job{
			ID:          q.ids.next(c.now),
			Printer:     printer,
			Copies:      orig.Copies,
			CallbackURL: orig.CallbackURL,
			Metadata:    orig.Metadata,
			CreatedAt:   c.now,
			Reprint:     true,
			ReprintOf:   orig.ID,
		}
		if w.cfg.TTL > 0 {
			j.ExpiresAt = c.now.Add(w.cfg.TTL)
		}
		if err := q.create(c, j, pl); err != nil {
			return err
		}
		job = j
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("queue: reprint: %w", err)
	case full != nil:
		return nil, full
	}
	return job, nil
}

// Wait blocks until job id reaches a final state and returns it (with
// payload). When ctx ends first it returns the job as it is then together
// with ctx.Err(), so a server answering ?wait=30s can report the current
// state.
func (q *Queue) Wait(ctx context.Context, id string) (*Job, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	ch := make(chan struct{})
	q.wmu.Lock()
	q.waiters[id] = append(q.waiters[id], ch)
	q.wmu.Unlock()
	defer func() {
		q.wmu.Lock()
		defer q.wmu.Unlock()
		ws := q.waiters[id]
		if i := slices.Index(ws, ch); i >= 0 {
			ws = slices.Delete(ws, i, i+1)
		}
		if len(ws) == 0 {
			delete(q.waiters, id)
		} else {
			q.waiters[id] = ws
		}
	}()
	j, err := q.Get(id)
	if err != nil || j.State.Final() {
		return j, err
	}
	select {
	case <-ch:
		return q.Get(id)
	case <-ctx.Done():
		if j2, err := q.Get(id); err == nil {
			j = j2
		}
		return j, ctx.Err()
	case <-q.stop:
		return j, ErrClosed
	}
}

// Subscribe returns a subscription to every job event, buffering up to
// buffer events (see Subscription for what happens when it is full).
func (q *Queue) Subscribe(buffer int) *Subscription {
	s, _ := q.bus.add(buffer, "")
	return s
}

// SubscribeAfter is Subscribe for a subscriber resuming after event ID
// after: the events since it that the queue still keeps in memory (the
// latest RecentEvents) come first. complete reports whether those are all
// of them; false when after is older than what is kept, is from before the
// queue was opened, or is no event ID at all.
func (q *Queue) SubscribeAfter(buffer int, after string) (s *Subscription, complete bool) {
	return q.bus.add(buffer, after)
}

// Depth returns how many jobs are waiting for printer (queued or printing).
func (q *Queue) Depth(printer string) int {
	var d int
	_ = q.db.View(func(tx *bolt.Tx) error {
		d = int(getU64(tx.Bucket(bDepth).Get([]byte(printer))))
		return nil
	})
	return d
}

// Close is Shutdown with a 10-second deadline.
func (q *Queue) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return q.Shutdown(ctx)
}

// Shutdown stops taking new jobs (ErrClosed), lets each worker finish the job
// in hand and record its outcome, stops the sweeper, pruner and callback
// deliverer, gives the sinks' consumers the chance to deliver the last
// entries (see SinkOptions.Drain), and closes the database. When ctx ends first, Print calls still
// running are canceled (their jobs are requeued marked REPRINT, or found
// printing and requeued at the next Open); the database is always left
// consistent.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.shutOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		q.ops.Wait()
		close(q.stop)
		done := make(chan struct{})
		go func() { q.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			q.log.Warn("shutdown deadline passed; canceling prints in progress")
			q.hardStop()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				q.log.Error("a printer did not return from Print after cancellation; its job will be reprinted at the next start")
			}
		}
		q.hardStop()
		q.drainSinks(ctx)
		q.bus.close()
		q.shutErr = q.db.Close()
		close(q.closedc)
		q.commit.close()
	})
	return q.shutErr
}
