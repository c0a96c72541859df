package sim

import (
	"errors"
	"fmt"
	"sync"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim/paper"
)

// Ticket is one ticket: the paper between two cuts, its transcript,
// warnings and events.
type Ticket = paper.Ticket

// Pulse is one drawer kick.
type Pulse = paper.Pulse

// ErrUnsupported is returned for a profile whose command set the sim cannot
// interpret yet.
var ErrUnsupported = errors.New("not yet supported by the sim")

// An interpreter executes one printer command language on a paper.Roll.
// ESC/POS is in escpos.go, Star Line Mode and Star Graphic Mode in
// star.go; each registers itself in interpreters.
type interpreter interface {
	// Write interprets the next bytes of the stream; a command split
	// across calls is completed by the next call.
	Write(p []byte)
	// End ends the stream: an incomplete command becomes a warning. It does
	// not finish the roll.
	End()
}

// host is what an interpreter gets from the printer around it.
type host struct {
	roll    *paper.Roll
	profile *core.Profile
	// status gives the simulated state, for status requests (DLE EOT).
	status func() core.Status
	// reply sends bytes back to the host computer (status replies).
	reply func(b []byte)
	// stopped reports that the printer stopped printing (paper out): the
	// interpreter drops what it would print, but still answers status
	// requests, as a printer does.
	stopped func() bool
	// bytes counts the bytes of the commands executed so far; an
	// interpreter adds each command's length before executing it.
	bytes int64
}

// interpreters maps a command set to its interpreter's constructor.
var (
	interpMu     sync.RWMutex
	interpreters = map[string]func(h *host) interpreter{}
)

// registerInterpreter makes an interpreter available for a command set.
func registerInterpreter(commandSet string, f func(h *host) interpreter) {
	interpMu.Lock()
	defer interpMu.Unlock()
	interpreters[commandSet] = f
}

func newInterpreter(h *host) (interpreter, error) {
	interpMu.RLock()
	f, ok := interpreters[h.profile.CommandSet]
	interpMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("sim: profile %q speaks %s, which is %w (it interprets escpos, starline and stargraphic)", h.profile.Name, h.profile.CommandSet, ErrUnsupported)
	}
	return f(h), nil
}

// defaultProfile returns core.DefaultProfile from the built-in profiles. The
// sim never changes a profile, so one copy is shared.
var defaultProfile = sync.OnceValue(func() *core.Profile {
	p, err := core.Builtin().Lookup(core.DefaultProfile)
	if err != nil {
		panic("sim: " + err.Error()) // the built-in set always has it
	}
	return p
})

// checkProfile validates p (nil means the default profile) for simulation.
func checkProfile(p *core.Profile) (*core.Profile, error) {
	if p == nil {
		return defaultProfile(), nil
	}
	if p.DotsPerLine < 8 || p.DotsPerLine > 4096 {
		return nil, fmt.Errorf("sim: profile %q: dots_per_line %d out of range", p.Name, p.DotsPerLine)
	}
	if p.DPI <= 0 {
		return nil, fmt.Errorf("sim: profile %q: dpi %d out of range", p.Name, p.DPI)
	}
	return p, nil
}
