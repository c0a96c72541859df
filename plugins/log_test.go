package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// records is a slog.Handler that keeps what it is given.
type records struct {
	mu    sync.Mutex
	level slog.Level
	attrs []slog.Attr
	recs  []record
}

type record struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

func (r *records) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r *records) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]any{}
	for _, a := range r.attrs {
		m[a.Key] = a.Value.Any()
	}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.Any()
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, record{rec.Level, rec.Message, m})
	r.mu.Unlock()
	return nil
}

func (r *records) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordsView{r, as}
}

func (r *records) WithGroup(string) slog.Handler { return r }

// recordsView adds attributes to a shared records.
type recordsView struct {
	*records
	extra []slog.Attr
}

func (v *recordsView) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(v.extra...)
	return v.records.Handle(ctx, rec)
}

func (v *recordsView) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordsView{v.records, append(append([]slog.Attr(nil), v.extra...), as...)}
}

func (r *records) find(msg string) (record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.msg == msg {
			return rec, true
		}
	}
	return record{}, false
}

func TestHCLogger(t *testing.T) {
	rs := &records{level: slog.LevelInfo}
	l := newHCLogger(slog.New(rs).With("plugin", "star"))
	if l.GetLevel() != hclog.Info || l.IsDebug() || !l.IsWarn() {
		t.Errorf("level %v, IsDebug %v", l.GetLevel(), l.IsDebug())
	}
	l.Named("comandera-star").With("pid", 42).Warn("hello", "k", "v")
	l.Debug("dropped")
	rec, ok := rs.find("hello")
	if !ok {
		t.Fatalf("no record: %+v", rs.recs)
	}
	if rec.level != slog.LevelWarn || rec.attrs["plugin"] != "star" || rec.attrs["logger"] != "comandera-star" ||
		rec.attrs["pid"] != int64(42) || rec.attrs["k"] != "v" {
		t.Errorf("record %+v", rec)
	}
	if _, ok := rs.find("dropped"); ok {
		t.Error("debug record passed an info handler")
	}
	rs.level = slog.LevelDebug - 4
	if l.GetLevel() != hclog.Trace {
		t.Errorf("level %v, want trace", l.GetLevel())
	}
}

// TestPluginLogFormat checks that Logger's lines are what go-plugin parses:
// hclog's "@level", "@message" and "@timestamp" keys.
func TestPluginLogFormat(t *testing.T) {
	var buf bytes.Buffer
	loggerTo(&buf).Warn("paper low", "printer", "bar")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if m["@level"] != "warn" || m["@message"] != "paper low" || m["printer"] != "bar" {
		t.Errorf("line %s", buf.Bytes())
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", m["@timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	if hclog.LevelFromString(m["@level"].(string)) != hclog.Warn {
		t.Error("hclog does not read the level")
	}
}
