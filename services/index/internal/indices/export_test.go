package indices

// SetRaceHooks makes m run beforeStage between place's reading of the read alias and its
// staging call, and beforeSwap between Swap's listing and its _aliases call: the tests put a
// rival writer's or swap's step exactly there.
func SetRaceHooks(m *Manager, beforeStage, beforeSwap func()) {
	m.hooks = hooks{beforeStage: beforeStage, beforeSwap: beforeSwap}
}
