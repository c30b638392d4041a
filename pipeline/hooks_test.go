package pipeline

// Test hooks for the external (model_test) tests, which may import modeltest.
var (
	LoadSplitsForTest = loadSplits
	SizeForTest       = size
)
