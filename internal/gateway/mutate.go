package gateway

import (
	"net/http"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// EditAction is how one header edit combines with headers already present.
type EditAction uint8

// Edit actions, named after Envoy's header mutations.
const (
	// Set replaces every value of the header, or adds it (setCopy).
	Set EditAction = iota + 1
	// Add adds one more header line, keeping the present ones (addCopy).
	Add
	// AppendIfExists appends ","+value to a header that is present and does nothing otherwise
	// (the ext_authz filter's headers_to_append).
	AppendIfExists
	// AddIfAbsent adds the header only if it is not present.
	AddIfAbsent
	// OverwriteIfExists replaces a header that is present and does nothing otherwise.
	OverwriteIfExists
)

// HeaderEdit is one header mutation.
type HeaderEdit struct {
	Key    string
	Value  string
	Action EditAction
}

// ResponseEdits are the mutations an allowed check asks for on the upstream's response.
type ResponseEdits []HeaderEdit

// Apply makes the edits to h in order.
func (es ResponseEdits) Apply(h http.Header) {
	for _, e := range es {
		applyEdit(h, e)
	}
}

func applyEdit(h http.Header, e HeaderEdit) {
	k := http.CanonicalHeaderKey(e.Key)
	present := len(h.Values(k)) > 0
	switch e.Action {
	case Set:
		h.Set(k, e.Value)
	case Add:
		h.Add(k, e.Value)
	case AppendIfExists:
		if present {
			h.Set(k, strings.Join(h.Values(k), ",")+","+e.Value)
		}
	case AddIfAbsent:
		if !present {
			h.Set(k, e.Value)
		}
	case OverwriteIfExists:
		if present {
			h.Set(k, e.Value)
		}
	}
}

// requestEdit is how Envoy 1.3x reads a header of OkHttpResponse.headers or DeniedHttpResponse.headers:
// only the deprecated append field counts (true appends to a present header, unset or false sets);
// append_action is ignored there, so an authorization server cannot rely on it.
func requestEdit(o *corev3.HeaderValueOption) HeaderEdit {
	e := HeaderEdit{Key: strings.ToLower(o.GetHeader().GetKey()), Value: headerValue(o.GetHeader()), Action: Set}
	if o.GetAppend().GetValue() {
		e.Action = AppendIfExists
	}
	return e
}

// responseEdit is how Envoy 1.3x reads OkHttpResponse.response_headers_to_add: append when set wins
// (true adds, false sets), otherwise append_action decides.
func responseEdit(o *corev3.HeaderValueOption) HeaderEdit {
	e := HeaderEdit{Key: strings.ToLower(o.GetHeader().GetKey()), Value: headerValue(o.GetHeader())}
	switch {
	case o.GetAppend() != nil && o.GetAppend().GetValue():
		e.Action = Add
	case o.GetAppend() != nil:
		e.Action = Set
	default:
		switch o.GetAppendAction() {
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			e.Action = AddIfAbsent
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			e.Action = OverwriteIfExists
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			e.Action = Set
		default:
			e.Action = Add
		}
	}
	return e
}

func headerValue(h *corev3.HeaderValue) string {
	if h.GetValue() != "" {
		return h.GetValue()
	}
	return string(h.GetRawValue())
}

// ApplyOK applies an allowed check's mutations to the request on its way upstream, in Envoy 1.3x's
// order: headers to set, headers to append, headers to remove (never a pseudo-header or Host), then
// query parameters to set and to remove. It returns the edits for the upstream's response. A nil ok
// changes nothing.
func ApplyOK(r *http.Request, ok *authv3.OkHttpResponse) ResponseEdits {
	var appends []HeaderEdit
	for _, o := range ok.GetHeaders() {
		e := requestEdit(o)
		if e.Action == AppendIfExists {
			appends = append(appends, e)
			continue
		}
		setRequestHeader(r, e.Key, e.Value)
	}
	for _, e := range appends {
		if !strings.HasPrefix(e.Key, ":") && e.Key != "host" {
			applyEdit(r.Header, e)
		}
	}
	for _, k := range ok.GetHeadersToRemove() {
		if k = strings.ToLower(k); !strings.HasPrefix(k, ":") && k != "host" {
			r.Header.Del(k)
		}
	}
	applyQuery(r, ok.GetQueryParametersToSet(), ok.GetQueryParametersToRemove())
	var out ResponseEdits
	for _, o := range ok.GetResponseHeadersToAdd() {
		out = append(out, responseEdit(o))
	}
	return out
}

// setRequestHeader is Envoy's setCopy on the request, where :authority and Host are the same header.
func setRequestHeader(r *http.Request, k, v string) {
	switch k {
	case ":authority", "host":
		r.Host = v
	case ":method":
		r.Method = v
	case ":path":
		if u, err := r.URL.Parse(v); err == nil {
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
			r.RequestURI = v
		}
	default:
		if !strings.HasPrefix(k, ":") {
			r.Header.Set(k, v)
		}
	}
}

// applyQuery edits the query the way Envoy does: parameters are kept raw (not decoded), the first of
// repeated names wins, and a changed query is written back sorted by name.
func applyQuery(r *http.Request, set []*corev3.QueryParameter, remove []string) {
	if len(set) == 0 && len(remove) == 0 {
		return
	}
	params := map[string]string{}
	for _, p := range strings.Split(r.URL.RawQuery, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if _, seen := params[k]; !seen {
			params[k] = v
		}
	}
	for _, p := range set {
		params[p.GetKey()] = p.GetValue()
	}
	for _, k := range remove {
		delete(params, k)
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+params[k])
	}
	r.URL.RawQuery = strings.Join(parts, "&")
	r.RequestURI = r.URL.RequestURI()
}

// WriteDenied renders a denied check as Envoy 1.3x's local reply: the status (403 when unset), a
// text/plain body, and then the response's headers, each name first removed and then every value
// added, so that several Set-Cookie headers all reach the client. Headers marked append are dropped,
// as Envoy drops them. A nil d is a bare 403.
func WriteDenied(w http.ResponseWriter, d *authv3.DeniedHttpResponse) {
	status := int(d.GetStatus().GetCode())
	if status <= 0 {
		status = http.StatusForbidden
	}
	h := w.Header()
	if d.GetBody() != "" {
		h.Set("Content-Type", "text/plain")
	}
	var set []HeaderEdit
	for _, o := range d.GetHeaders() {
		if e := requestEdit(o); e.Action == Set {
			set = append(set, e)
		}
	}
	for _, e := range set {
		h.Del(e.Key)
	}
	for _, e := range set {
		h.Add(e.Key, e.Value)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(d.GetBody()))
}
