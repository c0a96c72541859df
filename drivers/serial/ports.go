//go:build !darwin || cgo

package serial

import "go.bug.st/serial/enumerator"

// listPorts lists the ports with their USB identity (on Linux from sysfs).
func listPorts() ([]portInfo, error) {
	ps, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, err
	}
	out := make([]portInfo, 0, len(ps))
	for _, p := range ps {
		if p == nil {
			continue
		}
		out = append(out, portInfo{Name: p.Name, IsUSB: p.IsUSB, VID: p.VID, PID: p.PID,
			Serial: p.SerialNumber, Manufacturer: p.Manufacturer, Product: p.Product})
	}
	return out, nil
}
