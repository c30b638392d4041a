// Package metric computes the multi-label classification metrics that papers report
// (mAP, CP/CR/CF1, OP/OR/OF1, their top-k variants, macro- and micro-F1) together with
// the example-based metrics of scikit-learn (hamming loss, subset accuracy, coverage,
// ranking loss, label-ranking average precision), tunes decision thresholds on
// validation data, and bootstraps a confidence interval for mAP. It is plain Go with no
// dependency outside the standard library, so servers and scripts can use it alone.
//
// # Inputs
//
// scores[i][j] is the probability, in [0,1], that image i has label j; truth[i][j] is
// 1 (positive), 0 (negative) or -1 (unknown). Every row of both matrices has one entry
// per label.
//
// # Conventions
//
// Unknown entries are left out of every figure: a class's AP, counts and thresholds use
// only the rows where that class is known, and the example-based metrics use, for each
// image, only its known labels (as if the unknown columns were deleted from that row).
//
//   - Average precision is scikit-learn's average_precision_score: non-interpolated,
//     AP = Σ (R_n − R_{n−1}) P_n over the distinct score values taken in decreasing
//     order, so that all items with the same score enter together (tie-aware).
//   - mAP is the mean AP over the classes with at least one known positive. Other classes
//     have no AP: they are reported as null (JSON) and never counted as 0.
//   - A label is predicted when its score is >= its threshold (the global Threshold,
//     default 0.5, or Thresholds[j]).
//   - CP and CR (ML-GCN) are the means, over the classes with at least one positive, of
//     per-class precision TP/(TP+FP) (0 when the class has no predicted positive) and
//     recall TP/(TP+FN). CF1 = 2·CP·CR/(CP+CR). OP, OR and OF1 use TP, FP and FN summed
//     over all classes (a class without positives still contributes its false
//     positives). Any ratio whose denominator is 0 is 0.
//   - Top-k: of each image's labels, keep the k with the highest scores (ties broken by
//     the lower label index) that also pass the threshold; then the same six figures.
//   - macro-F1 is the mean per-class F1 over the classes with at least one positive
//     (the fastai/torchmetrics/ASL convention, restricted like CP/CR); micro-F1 is the F1
//     of the summed counts.
//   - Hamming loss is the fraction of known entries predicted wrongly. Subset accuracy is
//     the fraction of images (with at least one known label) whose known labels are all
//     predicted right.
//   - Coverage, ranking loss and LRAP follow scikit-learn's coverage_error,
//     label_ranking_loss and label_ranking_average_precision_score applied to each image's
//     known labels and averaged over the images with at least one known label. As in
//     scikit-learn, an image without positives has coverage 0, ranking loss 0 and LRAP 1;
//     tied scores count against the ranking. Coverage is a number of labels (from 0 to
//     the number of labels), not a fraction.
//
// Evaluate computes everything at once: each class's known rows are sorted once and the
// order is reused, and classes are processed in parallel. On 40,000 images × 80 labels
// the full set takes well under a second (see BenchmarkEvaluate).
package metric
