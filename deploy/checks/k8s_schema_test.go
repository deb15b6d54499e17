package checks

import (
	"bytes"
	"encoding/json"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

// TestPrometheusOperatorTypes decodes the built PodMonitor and PrometheusRule strictly into the
// Prometheus Operator's own Go types for monitoring.coreos.com/v1 (the module version in
// deploy/go.mod): a misspelled or misplaced field (podMetricEndpoint, relabelings under the
// wrong key, a string where a list belongs) fails here instead of being pruned silently by the
// API server, which drops fields its CRD schema does not know. It does not apply the CRD's
// validations (enums, patterns, required fields).
func TestPrometheusOperatorTypes(t *testing.T) {
	objs := objects(t, kustomize(t, "overlays/production"))
	for _, tt := range []struct {
		key  string
		into any
	}{
		{"PodMonitor/newsflow", &monitoringv1.PodMonitor{}},
		{"PrometheusRule/newsflow", &monitoringv1.PrometheusRule{}},
	} {
		o := objs[tt.key]
		if o == nil {
			t.Errorf("overlays/production builds no %s", tt.key)
			continue
		}
		if err := strictDecode(o, tt.into); err != nil {
			t.Errorf("%s (overlays/production) does not decode into the Prometheus Operator's monitoring.coreos.com/v1 type: %v", tt.key, err)
		}
	}
}

// strictDecode round-trips a decoded object through JSON into a typed value, refusing unknown
// fields.
func strictDecode(o map[string]any, into any) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(into)
}
