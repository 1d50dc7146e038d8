package devidp

import (
	"html/template"
	"net/http"
)

// pageData fills the single page template: a message page, or the login form when Form is set.
type pageData struct {
	Title     string
	Message   string // message pages only
	Form      bool   // render the login form
	Action    string // form POST target
	FormToken string // hidden per-form token
	ClientID  string // shown as "to continue to …"
	Username  string // refilled after a wrong password
	Error     string // shown above the form
	Users     []User // listed with passwords when Options.ShowPasswords
}

const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · devidp</title>
<style>
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
 font:15px/1.45 system-ui,sans-serif;background:#eef1f5;color:#1f2933}
main{background:#fff;padding:2rem 2.25rem;border-radius:10px;box-shadow:0 4px 18px rgba(0,0,0,.08);width:20rem}
h1{font-size:1.3rem;margin:0 0 .25rem}
p.sub{margin:0 0 1.25rem;color:#616e7c;font-size:.9rem}
label{display:block;margin:.75rem 0 .25rem;font-size:.85rem;color:#3e4c59}
input{box-sizing:border-box;width:100%;padding:.55rem .65rem;border:1px solid #cbd2d9;border-radius:6px;font:inherit}
button{margin-top:1.25rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#3b5bdb;color:#fff;
 font:inherit;font-weight:600;cursor:pointer}
.error{background:#fde8e8;color:#9b1c1c;padding:.5rem .65rem;border-radius:6px;font-size:.9rem}
table{width:100%;margin-top:1.5rem;border-collapse:collapse;font-size:.85rem}
th,td{text-align:left;padding:.25rem 0;border-bottom:1px solid #e4e7eb}
code{font-family:ui-monospace,monospace}
</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{if .Form}}
<p class="sub">to continue to <code>{{.ClientID}}</code> · development identity provider</p>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="form_token" value="{{.FormToken}}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" value="{{.Username}}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="login" type="submit">Log in</button>
</form>
{{if .Users}}
<table><tr><th>Demo user</th><th>Password</th></tr>
{{range .Users}}<tr><td><code>{{.Username}}</code></td><td><code>{{.Password}}</code></td></tr>{{end}}
</table>
{{end}}
{{else}}
<p>{{.Message}}</p>
{{end}}
</main></body></html>
`

// parsePages parses the page template; it is a constant, so a failure is a programming error.
func parsePages() *template.Template {
	return template.Must(template.New("page").Parse(pageHTML))
}

// page renders d with status. Pages are never cached or framed.
func (p *IDP) page(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// No form-action: browsers apply it to the redirect after the POST, which leaves for the client.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := p.pages.Execute(w, d); err != nil {
		p.o.Logger.Debug("render page", "error", err)
	}
}
