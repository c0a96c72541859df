// Command comandera-clone is the quirks plugin for clone ESC/POS printers
// (Xprinter, POS-58/POS-80 class, Zjiang…): it cancels the Kanji mode their
// firmware starts in, maps Epson's code page numbers to the clone's, and
// splits tall rasters into bands the firmware prints correctly. Documents
// are encoded by Comandera's built-in ESC/POS encoder and then pass through
// Transform, like raw jobs.
package main

import (
	"context"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/plugins"
)

var log = plugins.Logger()

type clone struct{}

func (clone) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name:         "clone",
		Version:      core.Version(),
		APIVersion:   plugins.APIVersion,
		Capabilities: []string{plugins.CapTransform},
	}, nil
}

// Encode leaves documents to the built-in ESC/POS encoder.
func (clone) Encode(context.Context, core.Document, *core.Profile) ([]byte, error) {
	return nil, plugins.ErrUnsupported
}

func (clone) Transform(_ context.Context, data []byte, p *core.Profile) ([]byte, error) {
	if check(p) != nil {
		return nil, plugins.ErrUnsupported
	}
	return transform(data, p, log), nil
}

// ParseStatus leaves DLE EOT replies to Comandera.
func (clone) ParseStatus(context.Context, []byte, *core.Profile) (core.Status, error) {
	return core.Status{}, plugins.ErrUnsupported
}

func main() {
	plugins.Serve(clone{})
}
