package escpos

import (
	"bytes"
	"context"
	"testing"

	"github.com/comandera/comandera/core"
)

func TestStatusRoundTrip(t *testing.T) {
	for _, s := range []core.Status{
		{Known: true, Online: true},
		{Known: true, Online: true, PaperLow: true},
		{Known: true, PaperOut: true},
		{Known: true, CoverOpen: true},
		{Known: true, Error: true, Detail: "unrecoverable error"},
	} {
		got, err := ParseStatus(StatusReply(1, s), StatusReply(2, s), StatusReply(3, s), StatusReply(4, s))
		if err != nil {
			t.Fatal(err)
		}
		if got.State() != s.State() || (!s.PaperOut && got.PaperLow != s.PaperLow) {
			t.Errorf("%+v parsed back as %+v", s, got)
		}
	}
}

func TestParseStatusRealBytes(t *testing.T) {
	// Bytes as an Epson TM-T20 answers: online with paper; cover open; paper end.
	s, err := ParseStatus(0x16, 0x12, 0x12, 0x12)
	if err != nil || s.State() != core.StateOnline {
		t.Errorf("online: %+v %v", s, err)
	}
	s, _ = ParseStatus(0x1e, 0x16, 0x12, 0x12)
	if s.State() != core.StateCoverOpen {
		t.Errorf("cover: %+v", s)
	}
	s, _ = ParseStatus(0x1e, 0x32, 0x12, 0x7e)
	if s.State() != core.StatePaperOut {
		t.Errorf("paper: %+v", s)
	}
	if _, err := ParseStatus(0x00, 0x12, 0x12, 0x12); err == nil {
		t.Error("a byte without the fixed bits was accepted")
	}
}

type scripted struct {
	out bytes.Buffer
	in  []byte
	pos int
}

func (s *scripted) Write(p []byte) (int, error) { return s.out.Write(p) }
func (s *scripted) Read(p []byte) (int, error) {
	if s.pos >= len(s.in) {
		return 0, context.DeadlineExceeded
	}
	p[0] = s.in[s.pos]
	s.pos++
	return 1, nil
}

func TestQueryStatusSkipsNoise(t *testing.T) {
	c := &scripted{in: []byte{XOFF, 0x16, XON, 0x12, 0x12, 0x10, 0x12}}
	s, err := QueryStatus(context.Background(), c, c)
	if err != nil || s.State() != core.StateOnline {
		t.Fatalf("%+v %v", s, err)
	}
	if want := []byte{DLE, EOT, 1, DLE, EOT, 2, DLE, EOT, 3, DLE, EOT, 4}; !bytes.Equal(c.out.Bytes(), want) {
		t.Errorf("sent % x", c.out.Bytes())
	}
	if _, err := QueryStatus(context.Background(), c, &scripted{}); err == nil {
		t.Error("no reply was not an error")
	}
}
