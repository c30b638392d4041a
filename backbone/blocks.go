package backbone

import (
	"fmt"
	"io"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
)

// Block is a run of weighted ops of the feature graph between two cut points: places
// where exactly one computed tensor is alive, so that the graph splits there into a
// prefix and a tail joined by that one tensor. Fine-tuning "the last K blocks" cuts the
// graph at the Cut of the K-th block from the end (package finetune).
type Block struct {
	// Name is the common prefix of the block's weight names (e.g. "fire9"), or
	// "blockN" when they share none.
	Name string `json:"name"`
	// Cut is the tensor where a tail starting with this block begins (the graph input
	// for the first block). Weightless ops just before the block (pooling) stay in the
	// prefix.
	Cut string `json:"cut"`
	// Shape is Cut's shape with the batch as -1 (nil when unknown).
	Shape []int64 `json:"shape,omitempty"`
	// Params counts the block's weights; TailParams those of this block and all later
	// ones (what unfreezing from here trains, the head excluded).
	Params     int64 `json:"params"`
	TailParams int64 `json:"tail_params"`
	// Nodes is the number of graph nodes from Cut to the next block's Cut.
	Nodes int `json:"nodes"`
}

// weightedOps have trainable weights even when their weights are not initializers.
var weightedOps = map[string]bool{"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true,
	"BatchNormalization": true, "InstanceNormalization": true, "LayerNormalization": true, "PRelu": true}

// Blocks lists the blocks of the graph that computes the feature node, first to last.
// A graph with no single-tensor cut point gives one block (from the input).
func (b *Backbone) Blocks() []Block {
	g := b.model.Graph
	// Nodes the feature node depends on, in graph order.
	needed := map[string]bool{b.FeatureNode: true}
	keep := make([]bool, len(g.Node))
	for i := len(g.Node) - 1; i >= 0; i-- {
		n := g.Node[i]
		for _, o := range n.Output {
			if needed[o] {
				keep[i] = true
			}
		}
		if keep[i] {
			for _, in := range n.Input {
				needed[in] = true
			}
		}
	}
	inits := map[string]*protos.TensorProto{}
	for _, t := range g.Initializer {
		inits[t.Name] = t
	}
	constant := map[string]bool{}
	for name := range inits {
		constant[name] = true
	}
	var nodes []*protos.NodeProto
	for i, n := range g.Node {
		if !keep[i] {
			continue
		}
		allConst := true
		for _, in := range n.Input {
			if in != "" && !constant[in] {
				allConst = false
			}
		}
		if allConst { // Constant nodes and constant subexpressions (shape arithmetic)
			for _, o := range n.Output {
				constant[o] = true
			}
			continue
		}
		nodes = append(nodes, n)
	}
	lastUse := map[string]int{b.FeatureNode: len(nodes)}
	for i, n := range nodes {
		for _, in := range n.Input {
			if in != "" && !constant[in] {
				lastUse[in] = max(lastUse[in], i)
			}
		}
	}
	// Cut points: after node i, exactly one live computed tensor.
	type cutPoint struct {
		tensor string
		after  int // index of the last prefix node (-1: the graph input)
	}
	cuts := []cutPoint{{b.Input, -1}}
	live := map[string]bool{b.Input: true}
	for i, n := range nodes {
		for _, o := range n.Output {
			if o != "" && lastUse[o] > i {
				live[o] = true
			}
		}
		for t := range live {
			if lastUse[t] <= i {
				delete(live, t)
			}
		}
		if len(live) == 1 {
			for t := range live {
				cuts = append(cuts, cutPoint{t, i})
			}
		}
	}
	// Segments between consecutive cut points; weighted ones are blocks.
	var out []Block
	for c := range cuts {
		end := len(nodes) - 1
		if c+1 < len(cuts) {
			end = cuts[c+1].after
		}
		seg := nodes[cuts[c].after+1 : end+1]
		var params int64
		var names []string
		weighted := false
		for _, n := range seg {
			if weightedOps[n.OpType] {
				weighted = true
			}
			for _, in := range n.Input {
				if t := inits[in]; t != nil && (t.DataType == dtFloat || t.DataType == dtFloat16) {
					if k := elemCount(t); k > 1 || weightedOps[n.OpType] {
						params += k
						names = append(names, in)
						weighted = true
					}
				}
			}
		}
		if !weighted {
			continue
		}
		blk := Block{Name: commonName(names), Cut: cuts[c].tensor, Params: params}
		if s := b.shapes[blk.Cut]; s != nil {
			blk.Shape = append([]int64{-1}, s[1:]...)
		}
		out = append(out, blk)
	}
	// Consecutive blocks with the same name are one block (a module whose inner cut
	// points, e.g. after a Fire module's squeeze, are not worth stopping at).
	merged := out[:0]
	for _, bl := range out {
		if k := len(merged); k > 0 && merged[k-1].Name == bl.Name && bl.Name != "" {
			merged[k-1].Params += bl.Params
			continue
		}
		merged = append(merged, bl)
	}
	out = merged
	for i := range out {
		if out[i].Name == "" {
			out[i].Name = fmt.Sprintf("block%d", i+1)
		}
	}
	// Node counts from each block's cut to the next block's cut.
	pos := map[string]int{}
	for _, c := range cuts {
		pos[c.tensor] = c.after
	}
	var tail int64
	for i := len(out) - 1; i >= 0; i-- {
		tail += out[i].Params
		out[i].TailParams = tail
		next := len(nodes) - 1
		if i+1 < len(out) {
			next = pos[out[i+1].Cut]
		}
		out[i].Nodes = next - pos[out[i].Cut]
	}
	return out
}

// commonName returns the longest common prefix of names cut back to a separator
// ("/", "." or ":"), without the separator.
func commonName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	p := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, p) {
			p = p[:len(p)-1]
		}
	}
	if i := strings.LastIndexAny(p, "/.:"); i > 0 {
		return p[:i]
	}
	return ""
}

// TensorShape returns the inferred shape of a tensor of the normalised graph for a batch
// of 1 (nil when unknown).
func (b *Backbone) TensorShape(name string) []int64 {
	if s := b.shapes[name]; s != nil {
		return append([]int64(nil), s...)
	}
	return nil
}

// WriteBlocks prints the blocks for people, last first, with the --unfreeze value that
// starts the trainable tail at each.
func WriteBlocks(w io.Writer, blocks []Block) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "blocks (cut points for fine-tuning, --unfreeze K trains the last K):\n")
	for i := len(blocks) - 1; i >= 0; i-- {
		bl := blocks[i]
		fmt.Fprintf(&sb, "  K=%-3d %-16s cut %-28s %-16s params %9d  tail params %9d\n",
			len(blocks)-i, bl.Name, bl.Cut, shapeString(bl.Shape), bl.Params, bl.TailParams)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
