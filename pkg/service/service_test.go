package service

import (
	"testing"

	"github.com/newsflow/newsflow/pkg/config"
)

// TestPprofFlag: pprof is on unless NEWSFLOW_ADMIN_PPROF or --pprof turns it off, which is what
// deploy/k8s/overlays/production relies on.
func TestPprofFlag(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want bool
	}{
		{"default", "", nil, true},
		{"env off", "false", nil, false},
		{"flag off", "", []string{"--pprof=false"}, false},
		{"flag wins over env", "false", []string{"--pprof=true"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("NEWSFLOW_ADMIN_PPROF", tt.env)
			}
			var c Common
			s := config.New("test")
			c.RegisterFlags(s, "127.0.0.1:0")
			if err := s.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if c.Pprof != tt.want {
				t.Errorf("Pprof = %v, want %v", c.Pprof, tt.want)
			}
		})
	}
}
