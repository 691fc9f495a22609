{{/* The labels every object of ours carries. */}}
{{- define "dns-sidecar.labels" -}}
app.kubernetes.io/part-of: dns-sidecar
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The first tier the webhook hands sidecars. */}}
{{- define "dns-sidecar.nodeCache" -}}
{{- if .Values.sidecar.nodeCache -}}
{{ .Values.sidecar.nodeCache }}
{{- else if .Values.nodeCache.enabled -}}
daemonset
{{- else -}}
none
{{- end -}}
{{- end }}

{{/* Where the discovery Service lives. */}}
{{- define "dns-sidecar.discoveryNamespace" -}}
{{- if eq .Values.discovery.mode "mirror" -}}
{{ .Release.Namespace }}
{{- else -}}
{{ .Values.discovery.dnsNamespace }}
{{- end -}}
{{- end }}

{{/* The webhook's flags, from the values (defaults are left out, as in manifests/base). */}}
{{- define "dns-sidecar.webhookArgs" -}}
- --listen=0.0.0.0:8443
- --tls-cert=/etc/dns-sidecar/tls/tls.crt
- --tls-key=/etc/dns-sidecar/tls/tls.key
- --proxy-image={{ .Values.sidecar.image }}
{{- if ne .Values.sidecar.imagePullPolicy "IfNotPresent" }}
- --proxy-pull-policy={{ .Values.sidecar.imagePullPolicy }}
{{- end }}
- --cluster-dns={{ .Values.sidecar.clusterDNS }}
- --cluster-domain={{ .Values.sidecar.clusterDomain }}
- --dns-namespace={{ .Values.discovery.dnsNamespace }}
- --discover-service={{ .Values.discovery.service }}
- --fallback={{ .Values.sidecar.fallback }}
{{- if eq .Values.discovery.mode "mirror" }}
- --discovery=mirror
{{- if ne .Values.discovery.mirrorFrom "kube-dns" }}
- --mirror-from={{ .Values.discovery.mirrorFrom }}
{{- end }}
{{- end }}
{{- with .Values.sidecar }}
{{- if ne .mode "native" }}
- --sidecar-mode={{ .mode }}
{{- end }}
{{- if ne (int .adminPort) 9953 }}
- --proxy-admin-port={{ .adminPort }}
{{- end }}
{{- if ne .resources.requests.cpu "5m" }}
- --proxy-cpu-request={{ .resources.requests.cpu }}
{{- end }}
{{- if .resources.limits.cpu }}
- --proxy-cpu-limit={{ .resources.limits.cpu }}
{{- end }}
{{- if ne .resources.requests.memory "4Mi" }}
- --proxy-memory-request={{ .resources.requests.memory }}
{{- end }}
{{- if ne .resources.limits.memory "32Mi" }}
- --proxy-memory-limit={{ .resources.limits.memory }}
{{- end }}
{{- if ne .istioGroup "auto" }}
- --istio-group={{ .istioGroup }}
{{- end }}
{{- if ne .ambient "auto" }}
- --ambient={{ .ambient }}
{{- end }}
{{- if ne .linkerdSkipPort "auto" }}
- --linkerd-skip-port={{ .linkerdSkipPort }}
{{- end }}
{{- if .ttlStrict }}
- --ttl-strict
{{- end }}
{{- if .debugNames }}
- --debug-names
{{- end }}
{{- end }}
{{- $nc := include "dns-sidecar.nodeCache" . }}
{{- if ne $nc "none" }}
- --node-cache={{ $nc }}
{{- end }}
{{- if ne .Values.webhook.logLevel "info" }}
- --log-level={{ .Values.webhook.logLevel }}
{{- end }}
{{- range .Values.webhook.extraArgs }}
- {{ . }}
{{- end }}
{{- end }}
