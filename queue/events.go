package queue

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/comandera/comandera/core"
)

// An Event is one change to a job: its creation (Previous is empty), each
// state change, and a failover (Previous == State == queued, with
// Job.FailedOverFrom set). Events are published in commit order, the order the
// changes reached the disk, so a job's events always arrive in the order they
// happened.
type Event struct {
	ID       string        `json:"event_id"` // unique, sortable
	Time     time.Time     `json:"time"`
	Previous core.JobState `json:"previous_state,omitempty"`
	State    core.JobState `json:"state"`
	Job      *Job          `json:"job"` // snapshot after the change, without payload
}

// A Subscription receives Events. Publishing never blocks the queue: when C's
// buffer is full the event is dropped for this subscriber and counted in
// Dropped. A subscriber that must not miss a state change (a callback) uses the
// durable outbox instead; SSE clients can re-read a job with Get.
type Subscription struct {
	// C delivers events. It is closed by Close and when the queue shuts down.
	C <-chan Event

	c       chan Event
	dropped atomic.Uint64
	bus     *bus
	once    sync.Once
}

// Dropped returns how many events did not fit in the buffer.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.bus.remove(s)
}

type bus struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

func (b *bus) add(buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, bus: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(c)
		s.once.Do(func() {})
		return s
	}
	if b.subs == nil {
		b.subs = map[*Subscription]struct{}{}
	}
	b.subs[s] = struct{}{}
	return s
}

func (b *bus) remove(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		s.once.Do(func() { close(s.c) })
	}
}

// publish sends without blocking.
func (b *bus) publish(evs []*Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		for _, e := range evs {
			select {
			case s.c <- *e:
			default:
				s.dropped.Add(1)
			}
		}
	}
}

func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		s.once.Do(func() { close(s.c) })
	}
}
