package kserve

import (
	"encoding/json"
	"fmt"
)

// Tensor datatypes used here.
const (
	DatatypeBytes = "BYTES"
	DatatypeFP32  = "FP32"
)

// Input tensor names the client sends, one element per event; and the output it reads when
// Options.Output is empty and the response has several.
const (
	InputText      = "text"
	InputUserAgent = "user_agent"
	InputURL       = "url"
	OutputScore    = "score"
)

// Tensor is one input or output tensor of the protocol's JSON form. Data holds the elements in
// row-major order, as a flat or nested JSON array.
type Tensor struct {
	// Name names the input or output.
	Name string `json:"name"`
	// Shape is the size of each dimension.
	Shape []int64 `json:"shape"`
	// Datatype is the element type, such as DatatypeBytes or DatatypeFP32.
	Datatype string `json:"datatype"`
	// Data is the JSON array of the elements.
	Data json.RawMessage `json:"data"`
}

// InferRequest is the body of POST /v2/models/{name}[/versions/{version}]/infer.
type InferRequest struct {
	// ID is an optional request identifier, echoed in the response.
	ID string `json:"id,omitempty"`
	// Inputs are the input tensors.
	Inputs []Tensor `json:"inputs"`
}

// InferResponse is the body of a successful inference.
type InferResponse struct {
	// ModelName and ModelVersion say which model answered.
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version,omitempty"`
	// ID is the request's ID.
	ID string `json:"id,omitempty"`
	// Outputs are the output tensors.
	Outputs []Tensor `json:"outputs"`
}

// ErrorResponse is the body of a failed request.
type ErrorResponse struct {
	// Error says what went wrong.
	Error string `json:"error"`
}

// bytesTensor returns a BYTES tensor of shape [len(data)].
func bytesTensor(name string, data []string) (Tensor, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Tensor{}, err
	}
	return Tensor{Name: name, Shape: []int64{int64(len(data))}, Datatype: DatatypeBytes, Data: b}, nil
}

// fp32Tensor returns an FP32 tensor of shape [len(data)].
func fp32Tensor(name string, data []float32) (Tensor, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Tensor{}, err
	}
	return Tensor{Name: name, Shape: []int64{int64(len(data))}, Datatype: DatatypeFP32, Data: b}, nil
}

// elements returns the number of elements that t's shape describes.
func (t Tensor) elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Strings decodes a BYTES tensor.
func (t Tensor) Strings() ([]string, error) {
	if t.Datatype != DatatypeBytes {
		return nil, fmt.Errorf("tensor %q: datatype %s, want %s", t.Name, t.Datatype, DatatypeBytes)
	}
	var out []string
	if err := json.Unmarshal(t.Data, &out); err != nil { // not flat: nested arrays
		out = nil
		err = flatten(t.Data, func(raw json.RawMessage) error {
			var s string
			err := json.Unmarshal(raw, &s)
			out = append(out, s)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
	}
	if int64(len(out)) != t.elements() {
		return nil, fmt.Errorf("tensor %q: %d elements, shape %v", t.Name, len(out), t.Shape)
	}
	return out, nil
}

// Float32s decodes an FP32 tensor.
func (t Tensor) Float32s() ([]float32, error) {
	if t.Datatype != DatatypeFP32 {
		return nil, fmt.Errorf("tensor %q: datatype %s, want %s", t.Name, t.Datatype, DatatypeFP32)
	}
	var out []float32
	if err := json.Unmarshal(t.Data, &out); err != nil { // not flat: nested arrays
		out = nil
		err = flatten(t.Data, func(raw json.RawMessage) error {
			var f float32
			err := json.Unmarshal(raw, &f)
			out = append(out, f)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
	}
	if int64(len(out)) != t.elements() {
		return nil, fmt.Errorf("tensor %q: %d elements, shape %v", t.Name, len(out), t.Shape)
	}
	return out, nil
}

// flatten calls leaf with each non-array element of a (possibly nested) JSON array, in order.
func flatten(raw json.RawMessage, leaf func(json.RawMessage) error) error {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return fmt.Errorf("data is not an array: %w", err)
	}
	for _, e := range elems {
		if len(e) > 0 && e[0] == '[' {
			if err := flatten(e, leaf); err != nil {
				return err
			}
			continue
		}
		if err := leaf(e); err != nil {
			return err
		}
	}
	return nil
}
