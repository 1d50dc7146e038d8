{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "authbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's resources: the release name, plus the chart name unless it already holds it. */}}
{{- define "authbridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every resource of authbridge itself. */}}
{{- define "authbridge.labels" -}}
{{ include "authbridge.baseLabels" . }}
app.kubernetes.io/component: authbridge
{{- end }}

{{/* Labels on the trial Redis's resources. */}}
{{- define "authbridge.redisLabels" -}}
{{ include "authbridge.baseLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "authbridge.baseLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "authbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: authbridge
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select authbridge's pods; they never change across upgrades. */}}
{{- define "authbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "authbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: authbridge
{{- end }}

{{/* Labels that select the trial Redis pod. */}}
{{- define "authbridge.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "authbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "authbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "authbridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "authbridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* In-cluster DNS name of authbridge's Service. */}}
{{- define "authbridge.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "authbridge.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "authbridge.redisName" -}}
{{- printf "%s-redis" (include "authbridge.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Directory the secrets are mounted in; the config's *_file keys point into it. */}}
{{- define "authbridge.secretDir" -}}/var/run/secrets/authbridge{{- end }}

{{/* Name of the Secret the chart creates for the values given inline. */}}
{{- define "authbridge.secretName" -}}
{{- include "authbridge.fullname" . }}
{{- end }}

{{/*
The secrets, as YAML: file name under secretDir → {value, existingSecret, existingSecretKey, configKey}.
fromYaml turns it back into a dict; every template that handles secrets ranges over it.
*/}}
{{- define "authbridge.secrets" -}}
{{- include "authbridge.ensureCookieSecret" . }}
admin-token: {{ merge (dict "configKey" "admin.token_file") .Values.adminToken | toJson }}
client-secret: {{ merge (dict "configKey" "oidc.client_secret_file") .Values.clientSecret | toJson }}
cookie-secret: {{ merge (dict "configKey" "session.cookie.secret_file") .Values.cookieSecret | toJson }}
redis-password: {{ merge (dict "configKey" "session.redis.password_file") .Values.redisPassword | toJson }}
{{- end }}

{{/*
The key that seals pending logins must be the same in every pod and should survive upgrades. Unless
cookieSecret.value or .existingSecret is given, it is taken from the chart's own Secret when that exists
(helm lookup, so an upgrade keeps it) or generated, and kept in .Values so that every template of this
render sees the same value. Renders without a cluster (helm template, Argo CD) generate a new one each
time: those should set value or existingSecret.
*/}}
{{- define "authbridge.ensureCookieSecret" -}}
{{- $c := .Values.cookieSecret }}
{{- if not (or $c.value $c.existingSecret) }}
{{- $current := lookup "v1" "Secret" .Release.Namespace (include "authbridge.secretName" .) }}
{{- $kept := "" }}
{{- if $current }}{{ $kept = index ($current.data | default dict) "cookie-secret" | default "" }}{{ end }}
{{- $_ := set $c "value" (ternary ($kept | b64dec) (randAlphaNum 48) (not (empty $kept))) }}
{{- end }}
{{- end }}

{{/* "true" when the chart creates a Secret, i.e. some secret is given inline. */}}
{{- define "authbridge.createSecret" -}}
{{- range (include "authbridge.secrets" . | fromYaml) }}{{ if .value }}true{{ end }}{{ end }}
{{- end }}

{{/* "true" when any secret is mounted. */}}
{{- define "authbridge.mountSecrets" -}}
{{- range (include "authbridge.secrets" . | fromYaml) }}{{ if or .value .existingSecret }}true{{ end }}{{ end }}
{{- end }}

{{/*
The config file: .Values.config plus what the chart owns (listen addresses, secret file paths, the trial
Redis URL). It also stops the render on settings that cannot work, so that they fail at install rather
than in a crash-looping pod.
*/}}
{{- define "authbridge.config" -}}
{{- $oidc := .Values.config.oidc }}
{{- $_ := required "config.oidc.issuer_url is required, e.g. https://YOUR-TENANT.eu.auth0.com/" $oidc.issuer_url }}
{{- $_ = required "config.oidc.client_id is required" $oidc.client_id }}
{{- $_ = required "config.oidc.redirect_url is required, e.g. https://app.example.com/oauth2/callback" $oidc.redirect_url }}
{{- range $file, $s := include "authbridge.secrets" . | fromYaml }}
{{- if and $s.value $s.existingSecret }}
{{- fail (printf "the secret for %s: set value or existingSecret, not both" $s.configKey) }}
{{- end }}
{{- end }}
{{- $cfg := deepCopy .Values.config }}
{{- $session := $cfg.session }}
{{- $redis := $session.redis }}
{{- $external := or $redis.url $redis.addrs }}
{{- if eq $session.store "memory" }}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}
{{- fail "config.session.store memory keeps sessions in one pod: set replicaCount 1 and autoscaling.enabled false, or use Redis" }}
{{- end }}
{{- else if and .Values.redis.enabled $external }}
{{- fail "redis.enabled deploys a trial Redis: leave config.session.redis.url and addrs empty, or disable it" }}
{{- else if .Values.redis.enabled }}
{{- $_ = set $redis "url" (printf "redis://%s.%s.svc:6379" (include "authbridge.redisName" .) .Release.Namespace) }}
{{- else if not $external }}
{{- fail "config.session.store redis needs config.session.redis.url (standalone), .addrs with .master_name (Sentinel) or .addrs (Cluster); redis.enabled=true deploys a trial Redis" }}
{{- end }}
{{- $dir := include "authbridge.secretDir" . }}
{{- range $file, $s := include "authbridge.secrets" . | fromYaml }}
{{- if or $s.value $s.existingSecret }}
{{- $section := $cfg }}
{{- $path := splitList "." $s.configKey }}
{{- range initial $path }}
{{- if not (hasKey $section .) }}{{ $_ := set $section . dict }}{{ end }}
{{- $section = index $section . }}
{{- end }}
{{- $_ := set $section (last $path) (printf "%s/%s" $dir $file) }}
{{- end }}
{{- end }}
{{- $_ = set $cfg "listen" (dict "http" (printf ":%d" (int .Values.ports.http)) "forward_auth" (printf ":%d" (int .Values.ports.forwardAuth)) "grpc" (printf ":%d" (int .Values.ports.grpc)) "admin" (printf ":%d" (int .Values.ports.admin))) }}
{{- toYaml $cfg }}
{{- end }}
