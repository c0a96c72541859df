package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SinkOptions bound every named sink (Options.Sinks). Zero values take the
// defaults given. When a bound is reached the oldest entries are dropped,
// counted (SinkStats.Dropped) and logged: a box whose consumer cannot
// deliver for a long time loses its oldest events, never its disk.
type SinkOptions struct {
	// MaxEntries caps the entries waiting in one sink; default 50,000
	// (about a week of a busy kitchen: 2,400 jobs a day, three state
	// changes each).
	MaxEntries int
	// MaxBytes caps the size of one sink's entries (the event JSON, about
	// 0.5–1 KB each, more with large metadata); default 64 MiB.
	MaxBytes int64
	// MaxAge drops entries older than this (checked every PruneEvery and
	// at Open); default 7 days, the default history KeepFor.
	MaxAge time.Duration
	// Drain is how long Shutdown waits for a sink's consumer to make
	// progress (acknowledge an entry) before it closes the database with
	// entries still waiting (they are delivered after the next Open);
	// default 1s. Shutdown's context bounds the whole wait.
	Drain time.Duration
	// AckDelay is how long acknowledgements are gathered before the
	// entries are deleted, in one write that shares the group commit:
	// a consumer delivering one entry at a time then costs the disk one
	// write per AckDelay, not one per entry. An entry acknowledged less
	// than AckDelay before a crash is delivered again after it. Default
	// 1s.
	AckDelay time.Duration
}

func (o *SinkOptions) defaults() {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 50000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	if o.Drain <= 0 {
		o.Drain = time.Second
	}
	if o.AckDelay <= 0 {
		o.AckDelay = time.Second
	}
}

// An Entry is one event waiting in a sink.
type Entry struct {
	// ID is the entry's position in its sink: increasing in commit order
	// and never reused. Ack takes it.
	ID uint64
	// Time is when the change was committed (the event's time).
	Time time.Time
	// Event is the Event as JSON.
	Event json.RawMessage
}

// Callback returns the body a consumer publishes for the entry: the same
// Callback, encoded by the same code, as the HTTP callback POST carries
// (the event, "timestamp" = now in Unix seconds and "attempt"), so a
// backend handles both alike. Sign it with Sign.
func (e Entry) Callback(now time.Time, attempt int) (*Callback, []byte, error) {
	return newCallback(e.Event, now, attempt)
}

// newCallback decodes an event and encodes the Callback body around it.
// The HTTP deliverer and sink consumers share it, so both bodies are the
// same bytes for the same event, time and attempt.
func newCallback(event []byte, now time.Time, attempt int) (*Callback, []byte, error) {
	cb := &Callback{Timestamp: now.Unix(), Attempt: attempt}
	if err := json.Unmarshal(event, &cb.Event); err != nil {
		return nil, nil, fmt.Errorf("damaged event: %w", err)
	}
	body, err := json.Marshal(cb)
	if err != nil {
		return nil, nil, err
	}
	return cb, body, nil
}

// SinkStats describes a sink.
type SinkStats struct {
	Pending int    `json:"pending"` // entries waiting (on disk)
	Bytes   int64  `json:"bytes"`   // their size
	Acked   uint64 `json:"acked"`   // entries acknowledged since Open
	Dropped uint64 `json:"dropped"` // entries dropped by the bounds since Open
}

// A Sink is a named durable event sink: every change of every job is
// written to it, as an Entry, in the same transaction as the change, in
// commit order. A consumer takes entries with Next and removes each with
// Ack once it has delivered it, so delivery is at least once across
// crashes: an entry not acknowledged is handed out again after the next
// Open. One consumer at a time.
type Sink struct {
	q      *Queue
	idx    int
	name   string
	key    []byte // bucket in bSinks
	metaK  []byte // count (8) + bytes (8) in bMeta
	notify chan struct{}
	acks   chan struct{} // progress, for Shutdown's drain

	mu       sync.Mutex // guards next
	next     uint64     // the first ID Next may return
	attached atomic.Bool

	ackMu    sync.Mutex
	acking   map[uint64]struct{} // acknowledged, not yet deleted on disk: never handed out again
	ackTimer bool                // a flush is scheduled
	flushMu  sync.Mutex          // one flush at a time

	acked, dropped atomic.Uint64
	lastDropLog    atomic.Int64
}

func sinkMetaKey(name string) []byte { return []byte("sink\x00" + name) }

// validSinkName: what Options.Sinks accepts.
func validSinkName(s string) error {
	switch {
	case s == "":
		return errors.New("queue: a sink has no name")
	case len(s) > 64:
		return fmt.Errorf("queue: sink name %q is longer than 64 bytes", s)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("queue: sink name %q contains NUL", s)
	}
	return nil
}

func newSink(q *Queue, idx int, name string) *Sink {
	return &Sink{q: q, idx: idx, name: name, key: []byte(name), metaK: sinkMetaKey(name),
		notify: make(chan struct{}, 1), acks: make(chan struct{}, 1), acking: map[uint64]struct{}{}}
}

// Sink returns the sink opened with that name in Options.Sinks, or nil.
func (q *Queue) Sink(name string) *Sink {
	for _, s := range q.sinks {
		if s.name == name {
			return s
		}
	}
	return nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.name }

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func sinkCounts(meta *bolt.Bucket, k []byte) (n uint64, size uint64) {
	v := meta.Get(k)
	if len(v) != 16 {
		return 0, 0
	}
	return getU64(v[:8]), getU64(v[8:])
}

func putSinkCounts(meta *bolt.Bucket, k []byte, n, size uint64) error {
	v := make([]byte, 16)
	copy(v, putU64(n))
	copy(v[8:], putU64(size))
	return meta.Put(k, v)
}

// write appends value (event time + event JSON) to the sink in c's
// transaction, dropping the oldest entries to stay within the bounds.
func (s *Sink) write(c *txc, value []byte) error {
	b := c.tx.Bucket(bSinks).Bucket(s.key)
	b.FillPercent = 1 // keys only ever grow: pack the pages, write fewer
	meta := c.tx.Bucket(bMeta)
	n, size := sinkCounts(meta, s.metaK)
	o := &s.q.opts.Sink
	if n+1 > uint64(o.MaxEntries) || size+uint64(len(value)) > uint64(o.MaxBytes) {
		cur := b.Cursor()
		for k, v := cur.First(); k != nil && (n+1 > uint64(o.MaxEntries) || size+uint64(len(value)) > uint64(o.MaxBytes)); k, v = cur.First() {
			size -= min(size, uint64(len(v)))
			n = max(n, 1) - 1
			delivered := s.isAcked(getU64(k)) // its deletion was pending: not a loss
			if err := cur.Delete(); err != nil {
				return err
			}
			if !delivered {
				c.drop(s.idx, len(s.q.sinks))
			}
		}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	if err := b.Put(putU64(seq), value); err != nil {
		return err
	}
	return putSinkCounts(meta, s.metaK, n+1, size+uint64(len(value)))
}

func (c *txc) drop(idx, sinks int) {
	if c.sinkDrops == nil {
		c.sinkDrops = make([]int, sinks)
	}
	c.sinkDrops[idx]++
}

// appendEvent appends e as JSON, the bytes json.Marshal(e) makes, with job
// the JSON of e.Job already encoded. IDs and states need no escaping.
func appendEvent(b []byte, e *Event, job []byte) []byte {
	b = append(b, `{"event_id":"`...)
	b = append(b, e.ID...)
	b = append(b, `","time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.Previous != "" {
		b = append(b, `,"previous_state":"`...)
		b = append(b, e.Previous...)
		b = append(b, '"')
	}
	b = append(b, `,"state":"`...)
	b = append(b, e.State...)
	b = append(b, `","job":`...)
	b = append(b, job...)
	return append(b, '}')
}

// closedErr maps the errors of a closed database to ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) || errors.Is(err, errCommitterClosed) {
		return ErrClosed
	}
	return err
}

// Next returns the entry after the last one it returned (the first entry
// not yet acknowledged, after Open or Rewind), waiting until there is one,
// ctx ends (ctx.Err()) or the queue is closed (ErrClosed). Entries stay in
// the sink until acknowledged. A consumer that delivers one entry at a time
// calls Ack before the next Next; one that pipelines calls Rewind to go
// back to the first entry it has not acknowledged.
func (s *Sink) Next(ctx context.Context) (Entry, error) {
	s.attached.Store(true)
	for {
		s.mu.Lock()
		from := s.next
		s.mu.Unlock()
		e, ok, err := s.peek(from)
		if err != nil {
			return Entry{}, err
		}
		if ok {
			s.mu.Lock()
			rewound := s.next != from
			if !rewound {
				s.next = e.ID + 1
			}
			s.mu.Unlock()
			if rewound {
				continue
			}
			return e, nil
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		case <-s.q.closedc:
			return Entry{}, ErrClosed
		}
	}
}

// peek reads the first entry at or after id.
func (s *Sink) peek(id uint64) (Entry, bool, error) {
	var (
		e  Entry
		ok bool
	)
	err := s.q.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSinks).Bucket(s.key)
		cur := b.Cursor()
		for k, v := cur.Seek(putU64(id)); k != nil; k, v = cur.Next() {
			if len(k) != 8 || len(v) < 8 {
				continue // not written by this code; skipped (and never acknowledged)
			}
			if s.isAcked(getU64(k)) {
				continue
			}
			e = Entry{ID: getU64(k), Time: time.Unix(0, int64(getU64(v[:8]))).UTC(), Event: append(json.RawMessage(nil), v[8:]...)}
			ok = true
			return nil
		}
		return nil
	})
	return e, ok, closedErr(err)
}

// Rewind makes the next Next start again at the first entry not yet
// acknowledged.
func (s *Sink) Rewind() {
	s.mu.Lock()
	s.next = 0
	s.mu.Unlock()
	kick(s.notify)
}

// Ack records that entries were delivered: they are never handed out
// again by this Queue, no longer count as pending, and are deleted from
// disk within AckDelay (group-committed with the queue's other writes) or
// at Shutdown. An entry whose deletion a crash prevented is handed out
// again after the next Open: delivery is at least once. IDs already gone
// (acknowledged, or dropped by the bounds) are ignored. Ack returns
// ErrClosed once the queue is closed.
func (s *Sink) Ack(ids ...uint64) error {
	if len(ids) == 0 {
		return nil
	}
	select {
	case <-s.q.closedc:
		return fmt.Errorf("queue: sink %s: ack: %w", s.name, ErrClosed)
	default:
	}
	// Only entries still waiting count (and need deleting).
	fresh := make([]uint64, 0, len(ids))
	err := s.q.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSinks).Bucket(s.key)
		for _, id := range ids {
			if b.Get(putU64(id)) != nil {
				fresh = append(fresh, id)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: sink %s: ack: %w", s.name, closedErr(err))
	}
	s.ackMu.Lock()
	n := 0
	for _, id := range fresh {
		if _, ok := s.acking[id]; !ok {
			s.acking[id] = struct{}{}
			n++
		}
	}
	schedule := n > 0 && !s.ackTimer
	if schedule {
		s.ackTimer = true
	}
	s.ackMu.Unlock()
	if schedule {
		time.AfterFunc(s.q.opts.Sink.AckDelay, func() {
			if err := s.flushAcks(); err != nil && !errors.Is(err, ErrClosed) {
				s.q.log.Error("cannot delete delivered events; they will be delivered again after a restart", "sink", s.name, "err", err)
			}
		})
	}
	s.acked.Add(uint64(n))
	kick(s.acks)
	return nil
}

func (s *Sink) isAcked(id uint64) bool {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	_, ok := s.acking[id]
	return ok
}

// flushAcks deletes the acknowledged entries from disk.
func (s *Sink) flushAcks() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.ackMu.Lock()
	s.ackTimer = false
	ids := make([]uint64, 0, len(s.acking))
	for id := range s.acking {
		ids = append(ids, id)
	}
	s.ackMu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	err := s.q.batch(func(c *txc) error {
		b := c.tx.Bucket(bSinks).Bucket(s.key)
		meta := c.tx.Bucket(bMeta)
		cnt, size := sinkCounts(meta, s.metaK)
		n := 0
		for _, id := range ids {
			k := putU64(id)
			v := b.Get(k)
			if v == nil {
				continue
			}
			size -= min(size, uint64(len(v)))
			cnt = max(cnt, 1) - 1
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		return putSinkCounts(meta, s.metaK, cnt, size)
	})
	if err != nil {
		return closedErr(err)
	}
	s.ackMu.Lock()
	for _, id := range ids {
		delete(s.acking, id)
	}
	s.ackMu.Unlock()
	return nil
}

// Pending returns how many entries wait in the sink (0 once the queue is
// closed).
func (s *Sink) Pending() int { return s.Stats().Pending }

// Stats describes the sink.
func (s *Sink) Stats() SinkStats {
	st := SinkStats{Acked: s.acked.Load(), Dropped: s.dropped.Load()}
	s.ackMu.Lock()
	acking := make([]uint64, 0, len(s.acking))
	for id := range s.acking {
		acking = append(acking, id)
	}
	s.ackMu.Unlock()
	_ = s.q.db.View(func(tx *bolt.Tx) error {
		n, size := sinkCounts(tx.Bucket(bMeta), s.metaK)
		b := tx.Bucket(bSinks).Bucket(s.key)
		for _, id := range acking { // acknowledged, still on disk
			if v := b.Get(putU64(id)); v != nil {
				n = max(n, 1) - 1
				size -= min(size, uint64(len(v)))
			}
		}
		st.Pending, st.Bytes = int(n), int64(size)
		return nil
	})
	return st
}

// droppedN records entries the bounds dropped (after the commit), logging at
// most every 10 seconds.
func (s *Sink) droppedN(n int, why string) {
	if n <= 0 {
		return
	}
	total := s.dropped.Add(uint64(n))
	now := time.Now().UnixNano()
	last := s.lastDropLog.Load()
	if now-last < int64(10*time.Second) || !s.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	o := s.q.opts.Sink
	s.q.log.Warn("undelivered events dropped: "+why, "sink", s.name, "dropped", n, "dropped_total", total,
		"max_entries", o.MaxEntries, "max_bytes", o.MaxBytes, "max_age", o.MaxAge)
}

// initSinks creates the sinks' buckets, recounts each (the counters are
// rebuilt from the entries, so they cannot drift) and applies the bounds.
func (q *Queue) initSinks() error {
	var maxEvent string
	err := q.update(func(c *txc) error {
		root, err := c.tx.CreateBucketIfNotExists(bSinks)
		if err != nil {
			return err
		}
		for _, s := range q.sinks {
			if _, err := root.CreateBucketIfNotExists(s.key); err != nil {
				return err
			}
		}
		meta := c.tx.Bucket(bMeta)
		return root.ForEachBucket(func(name []byte) error {
			var n, size uint64
			b := root.Bucket(name)
			cur := b.Cursor()
			for k, v := cur.First(); k != nil; k, v = cur.Next() {
				n++
				size += uint64(len(v))
			}
			if k, v := cur.Last(); k != nil && len(v) > 8 {
				var head struct {
					ID string `json:"event_id"`
				}
				if json.Unmarshal(v[8:], &head) == nil && head.ID > maxEvent {
					maxEvent = head.ID
				}
			}
			return putSinkCounts(meta, sinkMetaKey(string(name)), n, size)
		})
	})
	if err != nil {
		return err
	}
	if maxEvent != "" {
		q.ids.observe(maxEvent)
	}
	_, err = q.pruneSinks()
	return err
}

// pruneSinks applies MaxAge to every sink on disk (also those no longer
// configured, so they do not stay forever) and MaxEntries and MaxBytes to
// the configured ones, in chunks.
func (q *Queue) pruneSinks() (int, error) {
	o := q.opts.Sink
	cutoff := uint64(now().Add(-o.MaxAge).UnixNano())
	total := 0
	for {
		var (
			n       int
			dropped map[string]int
		)
		err := q.batch(func(c *txc) error {
			n, dropped = 0, map[string]int{}
			root := c.tx.Bucket(bSinks)
			meta := c.tx.Bucket(bMeta)
			var names [][]byte
			_ = root.ForEachBucket(func(name []byte) error {
				names = append(names, append([]byte(nil), name...))
				return nil
			})
			for _, name := range names {
				configured := q.Sink(string(name)) != nil
				mk := sinkMetaKey(string(name))
				cnt, size := sinkCounts(meta, mk)
				cur := root.Bucket(name).Cursor()
				k, v := cur.First()
				for ; k != nil && n < pruneChunk; k, v = cur.First() {
					old := len(v) < 8 || getU64(v[:8]) < cutoff
					over := configured && (cnt > uint64(o.MaxEntries) || size > uint64(o.MaxBytes))
					if !old && !over {
						break
					}
					cnt = max(cnt, 1) - 1
					size -= min(size, uint64(len(v)))
					if err := cur.Delete(); err != nil {
						return err
					}
					n++
					dropped[string(name)]++
				}
				if err := putSinkCounts(meta, mk, cnt, size); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		for name, d := range dropped {
			if s := q.Sink(name); s != nil {
				s.droppedN(d, "older than max_age, or beyond the sink's bounds")
			} else if d > 0 {
				q.log.Warn("undelivered events of a sink no longer configured dropped: older than max_age", "sink", name, "dropped", d, "max_age", o.MaxAge)
			}
		}
		if n < pruneChunk {
			return total, nil
		}
	}
}

// drainSinks gives the consumers of the sinks the chance to deliver what is
// waiting before the database closes: it returns when every attached sink
// is empty, when one has made no progress for Drain, or when ctx ends.
func (q *Queue) drainSinks(ctx context.Context) {
	for _, s := range q.sinks {
		if !s.attached.Load() {
			continue
		}
		t := time.NewTimer(q.opts.Sink.Drain)
		for s.Pending() > 0 {
			select {
			case <-s.acks:
				t.Reset(q.opts.Sink.Drain)
				continue
			case <-t.C:
			case <-ctx.Done():
			}
			if n := s.Pending(); n > 0 {
				q.log.Info("closing with undelivered events; they are delivered after the next start", "sink", s.name, "pending", n)
			}
			break
		}
		t.Stop()
	}
	for _, s := range q.sinks {
		if err := s.flushAcks(); err != nil {
			q.log.Error("cannot delete delivered events; they will be delivered again after the next start", "sink", s.name, "err", err)
		}
	}
}
