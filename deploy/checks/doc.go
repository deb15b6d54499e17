// Package checks verifies newsflow's deployment files (deploy/compose, deploy/k8s,
// deploy/prometheus, deploy/grafana, deploy/kibana, deploy/docker) against the tools that read
// them and against the services themselves: metric names are taken from the running binaries'
// /metrics (plus the stage set pkg/metrics declares), index fields from `index setup --print`,
// and NEWSFLOW_* variables from each command's --help. Nothing here hard-codes a list of what the
// services offer, so the checks follow the services as they change.
package checks
