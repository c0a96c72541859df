// Command example is the smallest useful Comandera quirks plugin, written to
// be read: every line says why it is there. It makes sure every job starts
// from a clean printer (ESC @, "initialize printer") even when a backend's
// raw bytes forget to, and leaves encoding and status to Comandera.
//
// Build, checksum and declare it (see docs/plugins.md):
//
//	go build -o comandera-example ./plugins/example
//	sha256sum comandera-example
//
//	plugin "example" {
//	  path   = "/usr/lib/comandera/plugins/comandera-example"
//	  sha256 = "<the sum>"
//	}
package main

import (
	// Every Quirks method takes a context: the host's per-call deadline.
	"context"

	// core has the Document, Profile and Status types the contract uses.
	"github.com/comandera/comandera/core"
	// plugins has the contract (Quirks), Serve and the plugin-side Logger.
	"github.com/comandera/comandera/plugins"
)

// version is this plugin's own version, reported in Info.
const version = "1.0.0"

// esc and at are the two bytes of ESC @, "initialize printer" in ESC/POS.
const esc, at = 0x1b, '@'

// example implements plugins.Quirks. It has no state, so it is safe for the
// concurrent calls the host may make.
type example struct{}

// log writes to the plugin's standard error in the format the host reads:
// the lines appear in Comandera's log, tagged with the plugin's name.
var log = plugins.Logger()

// Info tells the host who we are and what we implement. APIVersion must be
// plugins.APIVersion: the host refuses a plugin built for another contract.
func (example) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name:         "example",
		Version:      version,
		APIVersion:   plugins.APIVersion,
		Capabilities: []string{plugins.CapTransform},
	}, nil
}

// Encode answers ErrUnsupported: Comandera then encodes the document with its
// built-in ESC/POS encoder and passes the bytes to Transform below.
func (example) Encode(context.Context, core.Document, *core.Profile) ([]byte, error) {
	return nil, plugins.ErrUnsupported
}

// Transform gets every job's bytes (encoded documents and raw jobs alike)
// for the printer's profile p, and returns the bytes to send instead.
func (example) Transform(ctx context.Context, data []byte, p *core.Profile) ([]byte, error) {
	// Star printers do not speak ESC/POS: leave their bytes alone.
	if p.CommandSet != core.CommandSetESCPOS {
		return nil, plugins.ErrUnsupported
	}
	// Already starts with ESC @: nothing to do, send the bytes as they are.
	if len(data) >= 2 && data[0] == esc && data[1] == at {
		return data, nil
	}
	// Say what we did; the host logs it at debug level with our name.
	log.Debug("adding ESC @ in front of a job", "bytes", len(data), "profile", p.Name)
	// Build a new slice: never modify the caller's data in place.
	out := make([]byte, 0, len(data)+2)
	out = append(out, esc, at)
	return append(out, data...), nil
}

// ParseStatus answers ErrUnsupported: Comandera decodes DLE EOT replies itself.
func (example) ParseStatus(context.Context, []byte, *core.Profile) (core.Status, error) {
	return core.Status{}, plugins.ErrUnsupported
}

// main hands our implementation to plugins.Serve, which talks to the host
// until the host stops us. Run by hand, Serve explains what this binary is.
func main() {
	plugins.Serve(example{})
}
