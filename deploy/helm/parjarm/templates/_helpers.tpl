{{/* Names and labels. */}}
{{- define "parjarm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "parjarm.fullname" -}}
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

{{- define "parjarm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parjarm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "parjarm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "parjarm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "parjarm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "parjarm.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "parjarm.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where the files are mounted, and the variables that name them. */}}
{{- define "parjarm.clientsDir" -}}/etc/parjarm/clients{{- end }}
{{- define "parjarm.keysDir" -}}/etc/parjarm/keys{{- end }}

{{- define "parjarm.hasClients" -}}
{{- if or .Values.clients.json .Values.clients.existingSecret }}true{{ end }}
{{- end }}

{{- define "parjarm.hasSigningKeys" -}}
{{- if or .Values.signingKeys.keys .Values.signingKeys.existingSecret }}true{{ end }}
{{- end }}

{{/* The chart's own Secret holds whatever secret value is given inline. */}}
{{- define "parjarm.hasOwnSecret" -}}
{{- if or .Values.clients.json .Values.signingKeys.keys (and (not .Values.redis.existingSecret) (or .Values.redis.url .Values.redis.password .Values.redis.sentinelPassword)) }}true{{ end }}
{{- end }}

{{- define "parjarm.redisSecretName" -}}
{{- default (include "parjarm.fullname" .) .Values.redis.existingSecret }}
{{- end }}

{{- define "parjarm.upstreamURL" -}}
{{- if .Values.upstreamURL }}
{{- .Values.upstreamURL }}
{{- else if .Values.identityServer.enabled }}
{{- printf "http://127.0.0.1:%d" (int .Values.identityServer.port) }}
{{- end }}
{{- end }}

{{/*
Validation: every mistake that would stop the gateway at start-up, or make replicas disagree,
stops rendering instead, with the value to fix.
*/}}
{{- define "parjarm.validate" -}}
{{- $v := .Values }}
{{- if not (include "parjarm.upstreamURL" .) }}
{{- fail "upstreamURL is required (PARJARM_UPSTREAM_URL: the authorization server the gateway fronts), unless identityServer.enabled" }}
{{- end }}
{{- $modes := list "memory" "standalone" "sentinel" "cluster" }}
{{- if not (has $v.redis.mode $modes) }}
{{- fail (printf "redis.mode %q: use memory, standalone, sentinel or cluster" $v.redis.mode) }}
{{- end }}
{{- if and (eq $v.redis.mode "memory") (gt (int $v.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs Redis: the memory store serves a single instance only (set redis.mode to standalone, sentinel or cluster)" }}
{{- end }}
{{- if and (gt (int $v.replicaCount) 1) (not (include "parjarm.hasSigningKeys" .)) }}
{{- fail "replicaCount > 1 needs signingKeys.keys or signingKeys.existingSecret: each replica's ephemeral development keys differ, so its JARM responses could not be verified against the others' key set" }}
{{- end }}
{{- if eq $v.redis.mode "standalone" }}
{{- if not (or $v.redis.url $v.redis.existingSecret) }}
{{- fail "redis.mode standalone needs redis.url (PARJARM_REDIS_URL) or redis.existingSecret" }}
{{- end }}
{{- if or $v.redis.username $v.redis.password $v.redis.sentinelPassword $v.redis.tls }}
{{- fail "redis.username, redis.password, redis.sentinelPassword and redis.tls are for sentinel and cluster: a standalone redis.url carries its own (rediss:// for TLS)" }}
{{- end }}
{{- else if $v.redis.url }}
{{- fail (printf "redis.url is for redis.mode standalone, not %s" $v.redis.mode) }}
{{- end }}
{{- if eq $v.redis.mode "sentinel" }}
{{- if not (and $v.redis.sentinel.masterName $v.redis.sentinel.addrs) }}
{{- fail "redis.mode sentinel needs redis.sentinel.masterName and redis.sentinel.addrs" }}
{{- end }}
{{- else if or $v.redis.sentinel.masterName $v.redis.sentinel.addrs $v.redis.sentinelPassword }}
{{- fail (printf "redis.sentinel.* and redis.sentinelPassword are for redis.mode sentinel, not %s" $v.redis.mode) }}
{{- end }}
{{- if eq $v.redis.mode "cluster" }}
{{- if not $v.redis.cluster.addrs }}
{{- fail "redis.mode cluster needs redis.cluster.addrs" }}
{{- end }}
{{- else if $v.redis.cluster.addrs }}
{{- fail (printf "redis.cluster.addrs is for redis.mode cluster, not %s" $v.redis.mode) }}
{{- end }}
{{- if and (eq $v.redis.mode "memory") (or $v.redis.username $v.redis.password $v.redis.tls $v.redis.existingSecret) }}
{{- fail "redis.username, redis.password, redis.tls and redis.existingSecret need a Redis mode (redis.mode memory uses none)" }}
{{- end }}
{{- if and $v.redis.existingSecret (or $v.redis.url $v.redis.password $v.redis.sentinelPassword) }}
{{- fail "redis: set url / password / sentinelPassword or existingSecret, not both" }}
{{- end }}
{{- if and $v.clients.json $v.clients.existingSecret }}
{{- fail "clients: set json or existingSecret, not both" }}
{{- end }}
{{- if and $v.signingKeys.keys $v.signingKeys.existingSecret }}
{{- fail "signingKeys: set jwks or existingSecret, not both" }}
{{- end }}
{{- if eq (int $v.ports.http) (int $v.ports.admin) }}
{{- fail "ports.http and ports.admin must differ (PARJARM_LISTEN_ADDR and PARJARM_ADMIN_ADDR)" }}
{{- end }}
{{- if $v.identityServer.enabled }}
{{- if not $v.identityServer.image.repository }}
{{- fail "identityServer.image.repository is required with identityServer.enabled" }}
{{- end }}
{{- if or (eq (int $v.identityServer.port) (int $v.ports.http)) (eq (int $v.identityServer.port) (int $v.ports.admin)) }}
{{- fail "identityServer.port must differ from ports.http and ports.admin: the containers share the pod's network" }}
{{- end }}
{{- end }}
{{- $pdb := $v.podDisruptionBudget }}
{{- if and $pdb.enabled (hasKey $pdb "minAvailable") (not (kindIs "invalid" $pdb.minAvailable)) (hasKey $pdb "maxUnavailable") (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (set the other to null)" }}
{{- end }}
{{- $managed := list "PARJARM_UPSTREAM_URL" "PARJARM_ISSUER" "PARJARM_PUBLIC_URL" "PARJARM_LISTEN_ADDR" "PARJARM_ADMIN_ADDR" "PARJARM_CLIENTS_FILE" "PARJARM_SIGNING_KEYS_FILE" "PARJARM_SIGNING_KEY_ID" "PARJARM_REDIS_URL" "PARJARM_REDIS_SENTINEL_MASTER" "PARJARM_REDIS_SENTINEL_ADDRS" "PARJARM_REDIS_SENTINEL_PASSWORD" "PARJARM_REDIS_CLUSTER_ADDRS" "PARJARM_REDIS_USERNAME" "PARJARM_REDIS_PASSWORD" "PARJARM_REDIS_TLS" }}
{{- range $name, $_ := $v.env }}
{{- if not (hasPrefix "PARJARM_" $name) }}
{{- fail (printf "env.%s: only PARJARM_* variables go here" $name) }}
{{- end }}
{{- if has $name $managed }}
{{- fail (printf "env.%s is set by the chart from its own values (upstreamURL, issuer, publicURL, ports, redis, clients, signingKeys)" $name) }}
{{- end }}
{{- end }}
{{- end }}
