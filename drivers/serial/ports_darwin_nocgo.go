//go:build darwin && !cgo

package serial

import bugst "go.bug.st/serial"

// listPorts lists the port names only: go.bug.st/serial reads USB identities
// on macOS through IOKit, which needs cgo.
func listPorts() ([]portInfo, error) {
	names, err := bugst.GetPortsList()
	if err != nil {
		return nil, err
	}
	out := make([]portInfo, 0, len(names))
	for _, n := range names {
		out = append(out, portInfo{Name: n})
	}
	return out, nil
}
