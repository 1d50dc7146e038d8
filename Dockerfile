# syntax=docker/dockerfile:1
# The authbridge image: a static binary on distroless, non-root, no shell.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t authbridge .
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ... (the build stage cross-compiles).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/authbridge ./cmd/authbridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/authbridge /authbridge
# 65532 is distroless's nonroot user; numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# http (forward auth, /oauth2/*), grpc (ext_authz), admin (/metrics, /healthz, /readyz)
EXPOSE 4180 4181 9191 9090
ENTRYPOINT ["/authbridge"]
CMD ["serve"]
