package demo

import "html/template"

// pageHTML is the echo upstream's page. Everything is inline (no external assets) so it works offline.
// The script only reads data-* attributes, so html/template escapes every value in one context.
const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>authbridge demo · echo upstream</title>
<link rel="icon" href="data:,">
<style>
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f3f5f8;--soft:#f8f9fb;--accent:#3b5bdb;
 --ok:#2f9e44;--warn:#e67700;--bad:#c92a2a}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{background:#1f2933;color:#fff;padding:.75rem 1.5rem;display:flex;align-items:center;gap:.9rem}
header h1{font-size:1.05rem;margin:0;font-weight:600}
header .via{font-size:.78rem;background:rgba(255,255,255,.14);padding:.15rem .6rem;border-radius:99px}
header a{margin-left:auto;color:#fff;text-decoration:none;border:1px solid rgba(255,255,255,.45);
 padding:.3rem .8rem;border-radius:6px;font-size:.85rem}
header a:hover{background:rgba(255,255,255,.12)}
main{display:grid;grid-template-columns:minmax(0,5fr) minmax(0,7fr);gap:1rem;padding:1rem 1.5rem;
 max-width:1400px;margin:0 auto}
.col{display:flex;flex-direction:column;gap:1rem}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:.9rem 1.1rem}
h2{font-size:.74rem;text-transform:uppercase;letter-spacing:.07em;color:var(--muted);margin:0 0 .5rem}
.who{font-size:1.3rem;font-weight:600;margin:0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.15rem .9rem;margin:.45rem 0 .7rem}
dt{color:var(--muted)}dd{margin:0}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.pill{display:inline-block;padding:0 .5rem;border-radius:99px;background:#e7f5ff;color:#1864ab;font-size:.8rem}
.count{display:flex;align-items:baseline;gap:.5rem}
.count b{font-size:1.5rem;font-variant-numeric:tabular-nums}
.bar{height:6px;background:var(--line);border-radius:99px;overflow:hidden;margin:.35rem 0 .25rem}
.bar i{display:block;height:100%;width:100%;background:var(--ok);transition:width .9s linear}
.note{color:var(--muted);font-size:.84rem;margin:.35rem 0 0}
.jwt{word-break:break-all;background:var(--soft);border:1px solid var(--line);border-radius:8px;
 padding:.55rem .75rem 0;line-height:1.5;max-height:calc(6em + .55rem + 2px);overflow:auto;margin:0}
.jwt .h{color:#c92a2a}.jwt .p{color:#862e9c}.jwt .s{color:#1c7ed6}
.decoded{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,3fr);gap:.75rem;margin-top:.6rem}
.decoded h3{font-size:.78rem;margin:0 0 .25rem;color:var(--muted);font-weight:600}
pre{margin:0;background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:.55rem .75rem;
 overflow:auto;max-height:17rem;white-space:pre-wrap;overflow-wrap:anywhere}
#api-body{max-height:11rem}
.warn{background:#fff9db;border:1px solid #ffe066;border-radius:8px;padding:.4rem .7rem;font-size:.84rem;margin:.6rem 0 0}
.buttons{display:flex;gap:.5rem;flex-wrap:wrap;margin:.2rem 0 .55rem}
button{font:inherit;font-size:.85rem;border:1px solid var(--accent);background:var(--accent);color:#fff;
 border-radius:6px;padding:.3rem .7rem;cursor:pointer}
button.alt{background:#fff;color:var(--accent)}
#api-status{font-weight:600}
.ok{color:var(--ok)}.bad{color:var(--bad)}
table{width:100%;border-collapse:collapse}
td,th{text-align:left;padding:.2rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;font-size:.8rem;color:var(--muted)}
td:first-child{white-space:nowrap;width:14rem}
td{word-break:break-all}
.wide{grid-column:1/-1}
.empty{color:var(--muted);font-style:italic}
</style></head>
<body data-exp="{{.Exp}}" data-ttl="{{.TTL}}" data-refresh-ahead="{{.RefreshAhead}}">
<header>
<h1>authbridge demo · echo upstream</h1>
<span class="via">gateway → {{.Via}}</span>
<a id="signout" href="/oauth2/sign_out">Sign out</a>
</header>
<main>
<div class="col">
<section>
<h2>Signed in as</h2>
{{if .Token}}
<p class="who" id="email">{{.Email}}</p>
<dl>
<dt>token subject</dt><dd><code id="sub">{{.Subject}}</code></dd>
<dt>groups claim</dt><dd>{{range .Groups}}<span class="pill">{{.}}</span> {{else}}<span class="empty">none</span>{{end}}</dd>
<dt>X-Auth-Request-User</dt><dd><code>{{.User}}</code></dd>
</dl>
<div class="count"><span>access token expires in</span><b id="expires-in">–</b></div>
<div class="bar"><i id="bar"></i></div>
<p class="note" id="expiry-note">authbridge swaps it for a new one (refresh token) once fewer than {{.RefreshAhead}}&nbsp;s are left.</p>
{{else}}
<p class="who">nobody</p>
<p class="note">This request carried no bearer token: it did not come through the gateway.</p>
{{end}}
</section>
<section>
<h2>Call the API from JavaScript</h2>
<div class="buttons">
<button id="call-api" type="button">fetch('/api/whoami')</button>
<button id="call-api-omit" class="alt" type="button">same, credentials: 'omit'</button>
</div>
<div>status <span id="api-status" class="mono">–</span></div>
<pre id="api-body">Click a button: with the cookie the gateway adds the bearer token (200);
without it authbridge answers 401 JSON instead of a login redirect.</pre>
</section>
</div>
<div class="col">
<section>
<h2>Authorization header the upstream received</h2>
{{with .Token}}
<p class="jwt mono">Bearer <span id="token"><span class="h">{{index .Parts 0}}</span>.<span class="p">{{index .Parts 1}}</span>.<span class="s">{{index .Parts 2}}</span></span></p>
<div class="decoded">
<div><h3>header</h3><pre id="token-header">{{.Header}}</pre></div>
<div><h3>payload (claims)</h3><pre id="claims">{{.Payload}}</pre></div>
</div>
<p class="warn">Decoded here, <b>not verified</b>: this page only base64-decodes the token. A real API
verifies its signature against the identity provider's JWKS.</p>
{{else}}
<p class="empty">none</p>
{{end}}
</section>
<section>
<h2>What your browser holds</h2>
<div><code>document.cookie</code> = <code id="doc-cookie">…</code></div>
<p class="note">authbridge's session cookie is <b>HttpOnly</b>: scripts on this page cannot read it, and it
holds only a random session id and key, never a token. The tokens stay on the server, encrypted.</p>
</section>
</div>
<section class="wide">
<h2>Request headers the upstream received</h2>
<table>
<tr><th>name</th><th>value</th></tr>
{{range .Headers}}<tr><td>{{.Name}}</td><td class="mono">{{.Value}}</td></tr>
{{end}}
</table>
{{if and .CookieSeen (not .Token)}}
<p class="note">Opened directly, this upstream still gets the browser's authbridge cookie (cookies ignore
ports), but no token: the cookie alone is worth nothing to it.</p>
{{else if .CookieSeen}}
<p class="note">A forward-auth gateway passes the Cookie header on, so the upstream sees authbridge's
opaque cookie too; with Envoy (ext_authz) authbridge removes it from the upstream request.</p>
{{else if .Token}}
<p class="note">authbridge removed its session cookie from the upstream request; only the bearer token went on.</p>
{{end}}
</section>
</main>
<script>
(function () {
  var d = document.body.dataset, exp = Number(d.exp), ttl = Number(d.ttl) || 1, ahead = Number(d.refreshAhead);
  var out = document.getElementById('expires-in'), bar = document.getElementById('bar'),
      note = document.getElementById('expiry-note');
  function tick() {
    if (!exp || !out) return;
    var left = Math.round(exp - Date.now() / 1000), shown = Math.max(left, 0);
    out.textContent = Math.floor(shown / 60) + ':' + String(shown % 60).padStart(2, '0');
    bar.style.width = Math.max(0, Math.min(100, 100 * left / ttl)) + '%';
    if (left <= 0) {
      bar.style.background = 'var(--bad)';
      note.textContent = 'Expired. Reload the page: authbridge uses the refresh token and the upstream gets a new access token, no login page.';
    } else if (left <= ahead) {
      bar.style.background = 'var(--warn)';
      note.textContent = 'Refresh due: reload and the next request carries a new access token.';
    }
  }
  tick();
  setInterval(tick, 1000);
  document.getElementById('doc-cookie').textContent = JSON.stringify(document.cookie) +
    (document.cookie.indexOf('authbridge=') < 0 ? '  (no session cookie visible)' : '');
  function call(credentials) {
    var status = document.getElementById('api-status'), body = document.getElementById('api-body');
    status.textContent = '…';
    status.className = 'mono';
    fetch('/api/whoami', {credentials: credentials, headers: {Accept: 'application/json'}}).then(function (r) {
      return r.text().then(function (text) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) {}
        status.textContent = r.status + ' ' + (r.headers.get('content-type') || '');
        status.className = 'mono ' + (r.ok ? 'ok' : 'bad');
        body.textContent = text;
      });
    }).catch(function (e) {
      status.textContent = 'network error';
      status.className = 'mono bad';
      body.textContent = String(e);
    });
  }
  document.getElementById('call-api').onclick = function () { call('same-origin'); };
  document.getElementById('call-api-omit').onclick = function () { call('omit'); };
})();
</script>
</body></html>
`

// parsePage parses the page template; it is a constant, so a failure is a programming error.
func parsePage() *template.Template {
	return template.Must(template.New("echo").Parse(pageHTML))
}
