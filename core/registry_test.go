package core

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type fakeDriver struct{}

func (fakeDriver) Config() any                             { return &struct{}{} }
func (fakeDriver) Open(context.Context, any) (Conn, error) { return nil, errors.New("no") }

type unavailableDriver struct{ fakeDriver }

func (unavailableDriver) Available() error { return errors.New("needs Linux") }

func TestRegistry(t *testing.T) {
	Register("test-fake", fakeDriver{})
	if _, err := Lookup("test-fake"); err != nil {
		t.Fatal(err)
	}
	_, err := Lookup("nope")
	if err == nil || err.Error() != `unknown driver "nope" (forgotten import?)` {
		t.Fatalf("Lookup(nope) = %v", err)
	}
	mustPanic(t, "duplicate", func() { Register("test-fake", fakeDriver{}) })
	mustPanic(t, "nil", func() { Register("test-nil", nil) })
	if Available(fakeDriver{}) != nil {
		t.Error("plain driver reported unavailable")
	}
	if err := Available(unavailableDriver{}); err == nil || !strings.Contains(err.Error(), "Linux") {
		t.Errorf("Available = %v", err)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestStatusState(t *testing.T) {
	for _, tc := range []struct {
		s    Status
		want PrinterState
		can  bool
	}{
		{Status{}, StateUnknown, true},
		{Status{Known: true, Online: true}, StateOnline, true},
		{Status{Known: true, Online: true, PaperLow: true}, StateOnline, true},
		{Status{Known: true}, StateOffline, false},
		{Status{Known: true, Online: true, PaperOut: true}, StatePaperOut, false},
		{Status{Known: true, CoverOpen: true, PaperOut: true}, StateCoverOpen, false},
		{Status{Known: true, Online: true, Error: true}, StateError, false},
	} {
		if got := tc.s.State(); got != tc.want || tc.s.CanPrint() != tc.can {
			t.Errorf("%+v: State %s CanPrint %v, want %s %v", tc.s, got, tc.s.CanPrint(), tc.want, tc.can)
		}
	}
}
