package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Sidecar is the content of a ticket's .json file.
type Sidecar struct {
	Name       string    `json:"name"`          // file name without extension
	Job        string    `json:"job,omitempty"` // the label (job ID), if any
	Ticket     int       `json:"ticket"`        // 1 for the job's first ticket, 2 for the second…
	Profile    string    `json:"profile"`
	WidthDots  int       `json:"width_dots"`
	DPI        int       `json:"dpi"`
	LengthDots int       `json:"length_dots"`
	LengthMM   float64   `json:"length_mm"`
	Clipped    bool      `json:"clipped,omitempty"` // the ticket reached the length cap
	Cut        string    `json:"cut"`               // "full", "partial" or "none"
	Drawer     []Pulse   `json:"drawer"`            // drawer kicks, in order
	Beeps      int       `json:"beeps"`
	Lines      int       `json:"lines"` // transcript lines
	Bytes      int64     `json:"bytes"` // bytes received for this ticket
	Warnings   []string  `json:"warnings"`
	Image      string    `json:"image,omitempty"` // the PNG's file name
	Time       time.Time `json:"time"`
}

// writeTicket writes NAME.txt, NAME.json and NAME.png atomically and
// returns the name used (a taken name gets ".try2", ".try3"…).
func (p *Printer) writeTicket(name string, t *Ticket, label string, index int, n int64) (string, error) {
	p.fileMu.Lock()
	defer p.fileMu.Unlock()
	dir := p.cfg.Output
	base := name
	for try := 2; ; try++ {
		taken := false
		for _, ext := range []string{".txt", ".json", ".png"} {
			if _, err := os.Lstat(filepath.Join(dir, base+ext)); err == nil {
				taken = true
			}
		}
		if !taken {
			break
		}
		base = fmt.Sprintf("%s.try%d", name, try)
	}
	sc := Sidecar{
		Name: base, Job: label, Ticket: index, Profile: p.profile.Name,
		WidthDots: t.Width, DPI: t.DPI, LengthDots: t.Length, LengthMM: float64(int(t.LengthMM()*10+0.5)) / 10,
		Clipped: t.Clipped, Cut: t.Cut, Drawer: t.Pulses, Beeps: t.Beeps, Lines: len(t.Lines), Bytes: n,
		Warnings: t.Warnings, Time: now().UTC(),
	}
	if sc.Cut == "" {
		sc.Cut = "none"
	}
	if sc.Drawer == nil {
		sc.Drawer = []Pulse{}
	}
	if sc.Warnings == nil {
		sc.Warnings = []string{}
	}
	if t.Image != nil {
		sc.Image = base + ".png"
	}
	if err := writeAtomic(dir, base+".txt", func(w io.Writer) error {
		_, err := io.WriteString(w, t.Text())
		return err
	}); err != nil {
		return base, err
	}
	writeJSON := func() error {
		return writeAtomic(dir, base+".json", func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(sc)
		})
	}
	if t.Image == nil {
		return base, writeJSON()
	}
	if err := writeJSON(); err != nil {
		return base, err
	}
	return base, writeAtomic(dir, base+".png", func(w io.Writer) error { return EncodePNG(w, t.Image) })
}

// writeAtomic writes a file under a temporary name and renames it, so a
// reader polling the directory never sees it half written.
func writeAtomic(dir, name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sim: writing %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}
