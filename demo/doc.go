// Package demo runs the project's whole story on a procedurally generated world with no
// downloads: generate a multi-label target task (package synth), load the embedded
// backbone pretrained on the synth source task (or pretrain one afresh), train target
// heads three ways — from scratch, linear probe on transferred features, fine-tuned last
// stage — with BCE and with the asymmetric loss, evaluate them on a held-out test set and
// report a table and an HTML page.
package demo
