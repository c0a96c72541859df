package plugins

import (
	"context"
	"slices"
	"sync"

	"github.com/comandera/comandera/core"
)

// Mock is a Quirks for tests of code that uses plugins. Each method calls its
// Func field; a nil Func answers ErrUnsupported (Info answers a plugin named
// "mock" with StatusRequest). It records the methods called, in order, and
// is safe for concurrent use.
type Mock struct {
	// StatusRequest is the Info.StatusRequest of the default Info.
	StatusRequest []byte

	InfoFunc        func(ctx context.Context) (Info, error)
	EncodeFunc      func(ctx context.Context, doc core.Document, p *core.Profile) ([]byte, error)
	TransformFunc   func(ctx context.Context, data []byte, p *core.Profile) ([]byte, error)
	ParseStatusFunc func(ctx context.Context, reply []byte, p *core.Profile) (core.Status, error)

	mu    sync.Mutex
	calls []string
}

var _ Quirks = (*Mock)(nil)

func (m *Mock) record(method string) {
	m.mu.Lock()
	m.calls = append(m.calls, method)
	m.mu.Unlock()
}

// Calls returns the names of the methods called so far.
func (m *Mock) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// Info implements Quirks.
func (m *Mock) Info(ctx context.Context) (Info, error) {
	m.record("Info")
	if m.InfoFunc == nil {
		return Info{Name: "mock", Version: "0", APIVersion: APIVersion, StatusRequest: slices.Clone(m.StatusRequest)}, nil
	}
	return m.InfoFunc(ctx)
}

// Encode implements Quirks.
func (m *Mock) Encode(ctx context.Context, doc core.Document, p *core.Profile) ([]byte, error) {
	m.record("Encode")
	if m.EncodeFunc == nil {
		return nil, ErrUnsupported
	}
	return m.EncodeFunc(ctx, doc, p)
}

// Transform implements Quirks.
func (m *Mock) Transform(ctx context.Context, data []byte, p *core.Profile) ([]byte, error) {
	m.record("Transform")
	if m.TransformFunc == nil {
		return nil, ErrUnsupported
	}
	return m.TransformFunc(ctx, data, p)
}

// ParseStatus implements Quirks.
func (m *Mock) ParseStatus(ctx context.Context, reply []byte, p *core.Profile) (core.Status, error) {
	m.record("ParseStatus")
	if m.ParseStatusFunc == nil {
		return core.Status{}, ErrUnsupported
	}
	return m.ParseStatusFunc(ctx, reply, p)
}
