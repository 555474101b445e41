// Package alerts holds beamline's Prometheus alerting rules (alerts.yml), embedded so that tools
// and tests can read them; copy the file into Prometheus' rule_files.
package alerts

import _ "embed"

// Rules is the content of alerts.yml.
//
//go:embed alerts.yml
var Rules []byte
