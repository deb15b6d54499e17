//go:build race

package stage

// raceEnabled: the race detector allocates on its own, so allocation counts are not compared.
const raceEnabled = true
