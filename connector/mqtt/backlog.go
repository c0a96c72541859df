package mqtt

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/autopaho/queue"
	"github.com/eclipse/paho.golang/autopaho/queue/memory"

	"github.com/comandera/comandera/core"
)

// boundedQueue is autopaho's memory queue with a limit: the messages the
// connector publishes wait in it, in order, while the broker is
// unreachable, and Enqueue refuses more than max.
type boundedQueue struct {
	q   *memory.Queue
	max int

	mu sync.Mutex
	n  int
}

func newBoundedQueue(max int) *boundedQueue {
	return &boundedQueue{q: memory.New(), max: max}
}

var errBacklogFull = errors.New("the publish backlog is full (the broker has been unreachable a long time)")

func (b *boundedQueue) Wait() chan struct{}         { return b.q.Wait() }
func (b *boundedQueue) WaitForEmpty() chan struct{} { return b.q.WaitForEmpty() }

func (b *boundedQueue) Enqueue(p io.Reader) error {
	b.mu.Lock()
	if b.n >= b.max {
		b.mu.Unlock()
		return fmt.Errorf("%w: %d messages waiting", errBacklogFull, b.max)
	}
	b.n++
	b.mu.Unlock()
	if err := b.q.Enqueue(p); err != nil {
		b.done()
		return err
	}
	return nil
}

func (b *boundedQueue) Peek() (queue.Entry, error) {
	e, err := b.q.Peek()
	if err != nil {
		return nil, err
	}
	return &boundedEntry{Entry: e, b: b}, nil
}

// Len returns how many messages wait.
func (b *boundedQueue) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *boundedQueue) done() {
	b.mu.Lock()
	if b.n > 0 {
		b.n--
	}
	b.mu.Unlock()
}

type boundedEntry struct {
	queue.Entry
	b *boundedQueue
}

func (e *boundedEntry) Remove() error {
	err := e.Entry.Remove()
	if err == nil || errors.Is(err, queue.ErrEmpty) {
		e.b.done()
	}
	return err
}

func (e *boundedEntry) Quarantine() error {
	err := e.Entry.Quarantine()
	if err == nil || errors.Is(err, queue.ErrEmpty) {
		e.b.done()
	}
	return err
}

func isUTF8(s string) bool { return utf8.ValidString(s) }

func versionString() string { return core.Version() }
