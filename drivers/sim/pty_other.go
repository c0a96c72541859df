//go:build !linux

package sim

import (
	"context"
	"errors"
	"time"
)

// ServePTY is only available on Linux.
func (p *Printer) ServePTY(ctx context.Context, idle time.Duration, ready func(path string)) error {
	return errors.New("sim: pseudo-terminal printers need Linux")
}
