package kserve

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/beamline/beamline/transforms/score"
)

// maxRequestBytes bounds an inference request body.
const maxRequestBytes = 64 << 20

// Handler serves model as name with the KServe v2 REST API: GET /v2/health/live,
// GET /v2/health/ready, GET /v2/models/{name}, GET /v2/models/{name}/ready and
// POST /v2/models/{name}/infer with the inputs and output of the package doc (a missing
// user_agent or url input counts as empty strings). Tests use it as the real server side of the
// protocol; a demo can serve the embedded model with it.
func Handler(name string, model score.Model) http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("GET /v2/health/live", ok)
	mux.HandleFunc("GET /v2/health/ready", ok)
	mux.HandleFunc("GET /v2/models/{name}/ready", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != name {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q", r.PathValue("name")))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v2/models/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != name {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q", r.PathValue("name")))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": name, "platform": "beamline", "inputs": []map[string]any{
			{"name": InputText, "datatype": DatatypeBytes, "shape": []int{-1}},
			{"name": InputUserAgent, "datatype": DatatypeBytes, "shape": []int{-1}},
			{"name": InputURL, "datatype": DatatypeBytes, "shape": []int{-1}},
		}, "outputs": []map[string]any{{"name": OutputScore, "datatype": DatatypeFP32, "shape": []int{-1}}}})
	})
	mux.HandleFunc("POST /v2/models/{name}/infer", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != name {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q", r.PathValue("name")))
			return
		}
		infer(w, r, name, model)
	})
	return mux
}

func infer(w http.ResponseWriter, r *http.Request, name string, model score.Model) {
	var req InferRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "decode request: "+err.Error())
		return
	}
	batch, err := features(req.Inputs)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	scores, err := model.Predict(r.Context(), batch)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "predict: "+err.Error())
		return
	}
	out, err := fp32Tensor(OutputScore, scores)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode scores: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, InferResponse{ModelName: name, ID: req.ID, Outputs: []Tensor{out}})
}

// features decodes the inputs into one Features per element of the text input.
func features(inputs []Tensor) ([]score.Features, error) {
	cols := map[string][]string{}
	for _, in := range inputs {
		switch in.Name {
		case InputText, InputUserAgent, InputURL:
		default:
			return nil, fmt.Errorf("unknown input %q", in.Name)
		}
		v, err := in.Strings()
		if err != nil {
			return nil, err
		}
		cols[in.Name] = v
	}
	text, ok := cols[InputText]
	if !ok {
		return nil, fmt.Errorf("missing input %q", InputText)
	}
	batch := make([]score.Features, len(text))
	for i := range batch {
		batch[i].Text = text[i]
	}
	for name, set := range map[string]func(*score.Features, string){
		InputUserAgent: func(f *score.Features, v string) { f.UserAgent = v },
		InputURL:       func(f *score.Features, v string) { f.URL = v },
	} {
		col, ok := cols[name]
		if !ok {
			continue
		}
		if len(col) != len(text) {
			return nil, fmt.Errorf("input %q has %d elements, %q has %d", name, len(col), InputText, len(text))
		}
		for i, v := range col {
			set(&batch[i], v)
		}
	}
	return batch, nil
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorResponse{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
