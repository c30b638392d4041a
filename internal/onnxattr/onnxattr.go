// Package onnxattr reads the attributes of ONNX graph nodes, for the packages that walk
// or rewrite ONNX graphs (backbone, finetune).
package onnxattr

import "github.com/gomlx/compute-onnx/support/protos"

// Find returns n's attribute called name, or nil.
func Find(n *protos.NodeProto, name string) *protos.AttributeProto {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Int returns the integer attribute name of n, or def when n has none.
func Int(n *protos.NodeProto, name string, def int64) int64 {
	if a := Find(n, name); a != nil {
		return a.I
	}
	return def
}

// Ints returns the integer-list attribute name of n, or nil.
func Ints(n *protos.NodeProto, name string) []int64 {
	if a := Find(n, name); a != nil {
		return a.Ints
	}
	return nil
}

// String returns the string attribute name of n, or "".
func String(n *protos.NodeProto, name string) string {
	if a := Find(n, name); a != nil {
		return string(a.S)
	}
	return ""
}

// Tensor returns the tensor attribute name of n, or nil.
func Tensor(n *protos.NodeProto, name string) *protos.TensorProto {
	if a := Find(n, name); a != nil {
		return a.T
	}
	return nil
}
