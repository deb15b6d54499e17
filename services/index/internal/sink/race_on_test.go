//go:build race

package sink_test

// raceEnabled: the race detector allocates on its own, so allocation counts are not compared.
const raceEnabled = true
