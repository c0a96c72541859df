package core

// Status is what a printer reported about itself. A transport that cannot read
// replies returns the zero Status, whose State is Unknown: never "ok" by guess.
type Status struct {
	// Known is true when the fields below come from a real reply.
	Known     bool   `json:"known"`
	Online    bool   `json:"online"`
	PaperOut  bool   `json:"paper_out"`
	PaperLow  bool   `json:"paper_low"` // paper near end: still prints
	CoverOpen bool   `json:"cover_open"`
	Error     bool   `json:"error"` // cutter jam, head overheat, mechanical or unrecoverable error
	Detail    string `json:"detail,omitempty"`
}

// PrinterState is a one-word summary of a Status.
type PrinterState string

// The printer states, from most to least specific reason a printer cannot print.
const (
	StateUnknown   PrinterState = "unknown"
	StateOnline    PrinterState = "online"
	StateOffline   PrinterState = "offline"
	StatePaperOut  PrinterState = "paper_out"
	StateCoverOpen PrinterState = "cover_open"
	StateError     PrinterState = "error"
)

// State summarises s.
func (s Status) State() PrinterState {
	switch {
	case !s.Known:
		return StateUnknown
	case s.CoverOpen:
		return StateCoverOpen
	case s.PaperOut:
		return StatePaperOut
	case s.Error:
		return StateError
	case !s.Online:
		return StateOffline
	}
	return StateOnline
}

// CanPrint reports whether a job should be sent now: the printer is online and
// ready, or its state is unknown (a write-only transport).
func (s Status) CanPrint() bool {
	st := s.State()
	return st == StateOnline || st == StateUnknown
}
