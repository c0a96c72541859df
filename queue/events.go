package queue

import (
	"slices"
	"strings"
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
// durable outbox instead; SSE clients can re-read a job with Get, and resume
// after the last event they saw with SubscribeAfter.
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

// RecentEvents is how many of the latest events the queue keeps in memory
// for SubscribeAfter; fewer when they take more than recentBytes (job
// metadata can be up to MaxMetadataBytes each).
const (
	RecentEvents = 1024
	recentBytes  = 4 << 20
)

// eventSize is roughly what an event holds in memory.
func eventSize(e *Event) int {
	if e.Job == nil {
		return 256
	}
	return 512 + len(e.Job.Metadata) + len(e.Job.LastError) + len(e.Job.IdempotencyKey) + len(e.Job.CallbackURL)
}

type bus struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	recent []*Event // the latest events, oldest first: at least RecentEvents once there were that many (or recentBytes)
	size   int      // the eventSize of recent
}

// add subscribes with room for buffer events. With after set (an event ID),
// the events after it still in recent are delivered first, and complete
// says whether they are all the events after it: false when after is older
// than what recent keeps (or the queue has restarted since).
func (b *bus) add(buffer int, after string) (s *Subscription, complete bool) {
	if buffer < 1 {
		buffer = 1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var backlog []*Event
	if after != "" {
		i, _ := slices.BinarySearchFunc(b.recent, after, func(e *Event, id string) int { return strings.Compare(e.ID, id) })
		complete = i > 0 || len(b.recent) > 0 && b.recent[0].ID == after
		for ; i < len(b.recent); i++ {
			if b.recent[i].ID > after {
				backlog = append(backlog, b.recent[i])
			}
		}
	}
	c := make(chan Event, buffer+len(backlog))
	for _, e := range backlog {
		c <- *e
	}
	s = &Subscription{C: c, c: c, bus: b}
	if b.closed {
		close(c)
		s.once.Do(func() {})
		return s, complete
	}
	if b.subs == nil {
		b.subs = map[*Subscription]struct{}{}
	}
	b.subs[s] = struct{}{}
	return s, complete
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
	for _, e := range evs {
		b.recent = append(b.recent, e)
		b.size += eventSize(e)
	}
	if len(b.recent) >= 2*RecentEvents || b.size > 2*recentBytes {
		// Keep the latest RecentEvents within recentBytes.
		cut := max(0, len(b.recent)-RecentEvents)
		for _, e := range b.recent[:cut] {
			b.size -= eventSize(e)
		}
		for b.size > recentBytes && cut < len(b.recent)-1 {
			b.size -= eventSize(b.recent[cut])
			cut++
		}
		b.recent = slices.Clone(b.recent[cut:])
	}
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
