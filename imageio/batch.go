package imageio

// DefaultBatchSize is the number of images per batch (one engine call) wherever a batch
// size is not given: the image loader, feature extraction, prediction, serving and the
// prefix passes of fine-tuning.
const DefaultBatchSize = 32
